/** theme.mjs - light or dark: data-theme on an element, from a choice or from the system's (followed live). */

/**
 * @param {HTMLElement} el gets data-theme 'light' or 'dark' (style.css)
 * @param {'auto'|'light'|'dark'} [choice='auto'] auto: the system's, followed when it changes
 * @returns {() => void} stops following the system
 */
export function applyTheme(el, choice = 'auto') {
  if (choice === 'light' || choice === 'dark') {
    el.dataset.theme = choice;
    return () => {};
  }
  const mq = matchMedia('(prefers-color-scheme: dark)');
  const set = () => { el.dataset.theme = mq.matches ? 'dark' : 'light'; };
  set();
  mq.addEventListener('change', set);
  return () => mq.removeEventListener('change', set);
}
