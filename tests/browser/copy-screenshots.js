// Copies the documented screenshots from the last test run (MPSV_IDP_SCREENSHOTS, default
// target/screenshots) into docs/screenshots, under stable names. Run after `node --test`:
//   npm run docs-screenshots
// The tests themselves never write into docs/, so a test run leaves the work tree clean.

import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { DOC_SCREENSHOTS, SCREENSHOTS, repoDir } from './lib/harness.js';

const target = join(repoDir, 'docs', 'screenshots');
mkdirSync(target, { recursive: true });
const missing = DOC_SCREENSHOTS.filter((name) => !existsSync(join(SCREENSHOTS, `${name}.png`)));
if (missing.length > 0) {
  console.error(`missing in ${SCREENSHOTS}: ${missing.join(', ')}; run the tests first`);
  process.exit(1);
}
for (const name of DOC_SCREENSHOTS) {
  copyFileSync(join(SCREENSHOTS, `${name}.png`), join(target, `${name}.png`));
  console.log(`docs/screenshots/${name}.png`);
}
