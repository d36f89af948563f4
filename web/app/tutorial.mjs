/**
 * tutorial.mjs - the tutorial page (tutorial.html): its widgets are the custom elements; their model and
 * drawings are kept in the 'tutorial' storage scope, apart from the studio's.
 */
import { configure, defineElements } from './elements.mjs';
import { applyTheme } from './theme.mjs';

configure({ storage: 'tutorial' });
applyTheme(document.documentElement);
defineElements();
