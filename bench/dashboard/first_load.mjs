// first_load.mjs URL - the dashboard's first load in headless Chromium
// (Debian's chromium driven by playwright-core from tests/browser's
// node_modules): ms from navigation start until the statistics cards show a
// number (the total of stored tickets). Prints one JSON line.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { chromium } = createRequire(join(root, 'tests', 'browser', 'package.json'))('playwright-core');
const url = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.TRIAGE_CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const t0 = Date.now();
  await page.goto(url + '/', { waitUntil: 'commit' });
  await page.waitForFunction(() => {
    const total = document.querySelector('#stat-total');
    return total && /\d/.test(total.textContent);
  }, null, { timeout: 60000, polling: 10 });
  const firstData = Date.now() - t0;
  const nav = await page.evaluate(() => JSON.stringify(performance.getEntriesByType('navigation')[0]));
  const n = JSON.parse(nav);
  console.log(JSON.stringify({ first_data_ms: firstData, dom_content_loaded_ms: Math.round(n.domContentLoadedEventEnd) }));
} finally {
  await browser.close();
}
