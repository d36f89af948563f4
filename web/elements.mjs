/**
 * elements.mjs - the custom elements, ready to use from a page in this folder:
 *
 *   <script type="module" src="elements.mjs"></script>
 *   <digit-pad></digit-pad>
 *   <digit-trainer preset="small" epochs="1"></digit-trainer>
 *
 * Importing this module defines <digit-pad>, <digit-trainer>, <digit-insight> and <digit-studio>; that is all it
 * does (the first element on the page starts the workers). To choose the runtime's options, import configure
 * from app/elements.mjs and call it before the first element connects. Attributes and events: docs/embed.md.
 */
import { defineElements } from './app/elements.mjs';

export { configure } from './app/elements.mjs';

defineElements();
