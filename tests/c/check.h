/* check.h - a tiny test harness for the C tests. Each CHECK that fails prints "not ok" with file, line and a
 * message; main returns check_summary(), which is non-zero when anything failed or nothing was checked. */
#ifndef CHECK_H
#define CHECK_H
#include <stdio.h>

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        check_count++;                                                                                       \
        if (!(cond)) {                                                                                       \
            check_failures++;                                                                                \
            printf("not ok %s:%d: ", __FILE__, __LINE__);                                                    \
            printf(__VA_ARGS__);                                                                             \
            printf("\n");                                                                                    \
        }                                                                                                    \
    } while (0)

/* Runs one test function and prints "ok NAME" or "not ok NAME" for the test runner wrapper. */
#define RUN(fn)                                                                                              \
    do {                                                                                                     \
        int before_ = check_failures, count_ = check_count;                                                  \
        fn();                                                                                                \
        if (check_failures == before_ && check_count > count_)                                               \
            printf("ok %s\n", #fn);                                                                          \
        else                                                                                                 \
            printf("not ok %s (%d failed, %d checks)\n", #fn, check_failures - before_, check_count - count_); \
        fflush(stdout);                                                                                      \
    } while (0)

static int check_summary(void) {
    printf("# %d checks, %d failed\n", check_count, check_failures);
    return (check_failures > 0 || check_count == 0) ? 1 : 0;
}
#endif
