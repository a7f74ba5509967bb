// dashboard.test.mjs - the dashboard in headless Chromium (Debian's chromium
// driven by playwright-core), served by the real triage-api over the real
// MongoDB-protocol server, on a database of its own (dropped after).
//
// Run by ctest (tests/browser/CMakeLists.txt) as `node --test`, with
// TRIAGE_BIN_DIR (the built binaries), TRIAGE_WEB_ROOT (the built page) and
// TRIAGE_SCREENSHOTS (where the 1280x800 screenshots go).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { MongoClient } from 'mongodb';

const BIN = process.env.TRIAGE_BIN_DIR;
const WEB = process.env.TRIAGE_WEB_ROOT;
const SHOTS = process.env.TRIAGE_SCREENSHOTS;
const MONGO = process.env.TRIAGE_TEST_MONGO_URI || 'mongodb://127.0.0.1:27017';
const ADMIN = 'test-admin-key-0123456789';
const DB = `browser_${process.pid}_${Date.now().toString(36)}`;

let api, base, mongo, browser, userDir;
let viewerKey, operatorKey;
const consoleErrors = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

async function waitReady(url, ms) {
  const end = Date.now() + ms;
  for (;;) {
    try { if ((await fetch(url)).ok) return; } catch (_) { /* not up yet */ }
    if (Date.now() > end) throw new Error(`${url} not ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function call(method, path, body, key = ADMIN) {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

const day = 86400000;
const now = Date.now();
function ticket(id, subject, body, createdAgoDays, cls) {
  const t = { id, subject, body, processed: false, created_at: new Date(now - createdAgoDays * day), updated_at: new Date(now - createdAgoDays * day), source: 'test' };
  if (cls === 'failed') return { ...t, processing_attempts: 3, last_error: 'LLM timed out' };
  if (cls) {
    t.processed = true;
    t.classification = { topic_tags: cls.topics, sentiment: cls.sentiment, priority: cls.priority };
    t.confidence_scores = { topic: cls.conf, sentiment: cls.conf, priority: cls.conf };
    t.processing_metadata = { processed_at: new Date(now - (createdAgoDays - 0.2) * day), model_version: 'test-model-1', processing_time_ms: cls.ms, agent_version: '1.0' };
  }
  return t;
}

const SEED = [
  ticket('T-100', 'SSO login fails with Okta', 'Invalid SAML assertion since this morning', 1, { topics: ['SSO'], sentiment: 'Frustrated', priority: 'P0 (High)', conf: 0.93, ms: 420 }),
  ticket('T-101', 'How do I connect Snowflake?', 'Need the connector steps', 2, { topics: ['Connector', 'How-to'], sentiment: 'Curious', priority: 'P2 (Low)', conf: 0.81, ms: 310 }),
  ticket('T-102', 'Lineage graph is empty', 'Upstream tables do not show', 3, { topics: ['Lineage'], sentiment: 'Neutral', priority: 'P1 (Medium)', conf: 0.64, ms: 880 }),
  ticket('T-103', 'API returns 429', 'Rate limited by the SDK', 3, { topics: ['API/SDK'], sentiment: 'Angry', priority: 'P0 (High)', conf: 0.72, ms: 1500 }),
  ticket('T-104', 'Glossary terms missing', 'Where do the terms live?', 4, { topics: ['Glossary'], sentiment: 'Curious', priority: 'P2 (Low)', conf: 0.88, ms: 260 }),
  ticket('T-105', 'PII tagging of columns', 'Sensitive columns are not tagged', 5, { topics: ['Sensitive data'], sentiment: 'Neutral', priority: 'P1 (Medium)', conf: 0.55, ms: 640 }),
  ticket('T-200', 'Dark mode request', 'Would love a dark theme', 0.1, null),
  ticket('T-201', 'Export to CSV broken', 'The export button does nothing', 0.5, null),
  ticket('T-202', 'Best way to model domains?', 'Looking for best practices', 6, 'failed'),
];

before(async () => {
  assert.ok(BIN && WEB && SHOTS, 'TRIAGE_BIN_DIR, TRIAGE_WEB_ROOT and TRIAGE_SCREENSHOTS must be set');
  mkdirSync(SHOTS, { recursive: true });
  mongo = new MongoClient(MONGO);
  await mongo.connect();
  // Stored as the services store them: the ticket id is also the _id
  // (docs/decisions/0005-ticket-id-is-the-primary-key.md).
  await mongo.db(DB).collection('tickets').insertMany(SEED.map((t) => ({ _id: t.id, ...t })));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  api = spawn(join(BIN, 'triage-api'), [], {
    env: { ...process.env, TRIAGE_HTTP_PORT: String(port), TRIAGE_MONGO_DB: DB, TRIAGE_ADMIN_KEY: ADMIN, TRIAGE_API_CACHE_TTL: '0', TRIAGE_WEB_ROOT: WEB, TRIAGE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitReady(`${base}/readyz`, 20000);
  viewerKey = (await call('POST', '/api/keys', { name: 'viewer', role: 'viewer' })).json.key;
  operatorKey = (await call('POST', '/api/keys', { name: 'operator', role: 'operator' })).json.key;
  assert.ok(viewerKey && operatorKey);
  browser = await chromium.launch({
    executablePath: process.env.TRIAGE_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    // Playwright gives every launch a fresh temporary --user-data-dir itself
    // (and refuses one passed in args).
  });
});

after(async () => {
  if (browser) await browser.close();
  if (api) {
    const exited = new Promise((r) => api.once('exit', r));
    api.kill('SIGTERM');
    await exited;
  }
  if (mongo) { await mongo.db(DB).dropDatabase(); await mongo.close(); }
  if (userDir) rmSync(userDir, { recursive: true, force: true });
});

/** A page logged in with key (null: no key sent). Collects console errors. */
async function openPage(key, path = '/', viewport = { width: 1280, height: 800 }) {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${m.text()} @ ${page.url()}`); });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  await page.goto(base + '/');
  if (key) {
    await page.waitForSelector('#key-dialog[open]');
    await page.fill('#key-input', key);
    await page.click('#key-dialog button[type=submit]');
  }
  if (path !== '/') await page.goto(base + path);
  if (path !== '/' && key) {
    // sessionStorage kept the key across the navigation: no prompt again.
    assert.equal(await page.locator('#key-dialog[open]').count(), 0);
  }
  await page.waitForFunction(() => window.__triage && window.__triage.ready);
  return { ctx, page };
}

/** Waits until the table shows exactly ids (in any order). */
async function waitRows(page, table, ids) {
  await page.waitForFunction(([t, want]) => {
    const got = [...document.querySelectorAll(`#${t}-table tbody tr[data-id]`)].map((r) => r.dataset.id).sort();
    return JSON.stringify(got) === JSON.stringify(want);
  }, [table, [...ids].sort()]);
}

async function rowIds(page, table) {
  return page.$$eval(`#${table}-table tbody tr[data-id]`, (trs) => trs.map((t) => t.dataset.id));
}

test('stats cards show the stored numbers', async () => {
  const { ctx, page } = await openPage(ADMIN);
  await page.waitForFunction(() => document.querySelector('#stat-total').textContent === '9');
  assert.equal(await page.textContent('#stat-processed'), '6');
  assert.equal(await page.textContent('#stat-unprocessed'), '3');
  assert.match(await page.textContent('#stat-pct'), /66\.7%/);
  assert.equal(await page.textContent('#role-badge'), 'admin');
  await page.screenshot({ path: join(SHOTS, 'analytics.png') });
  // The label charts show the stored distribution.
  const charts = await page.evaluate(() => window.__triage.chartData());
  const prio = Object.fromEntries(charts['ch-priority'].labels.map((l, i) => [l, charts['ch-priority'].data[0][i]]));
  assert.deepEqual(prio, { 'P0 (High)': 2, 'P1 (Medium)': 2, 'P2 (Low)': 2 });
  await ctx.close();
});

test('filters and search change the table, and the URL keeps them', async () => {
  const { ctx, page } = await openPage(ADMIN, '/?tab=tickets');
  await page.waitForSelector('#tickets-table tbody tr[data-id]');
  assert.equal((await rowIds(page, 'tickets')).length, 9);

  // Status multi-select.
  await page.click('#f-status summary');
  await page.check('#f-status input[value=failed]');
  await page.waitForFunction(() => document.querySelectorAll('#tickets-table tbody tr[data-id]').length === 1);
  assert.deepEqual(await rowIds(page, 'tickets'), ['T-202']);
  assert.match(page.url(), /status=failed/);
  await page.click('#f-clear');

  // Priority: two values OR-ed.
  await page.click('#f-priority summary');
  await page.check('#f-priority input[value="P0 (High)"]');
  await waitRows(page, 'tickets', ['T-100', 'T-103']);
  assert.deepEqual((await rowIds(page, 'tickets')).sort(), ['T-100', 'T-103']);
  await page.check('#f-priority input[value="P2 (Low)"]');
  await page.waitForFunction(() => document.querySelectorAll('#tickets-table tbody tr[data-id]').length === 4);
  await page.click('#f-clear');

  // Sentiment and topic together.
  await page.click('#f-sentiment summary');
  await page.check('#f-sentiment input[value=Curious]');
  await page.click('#f-topic summary');
  await page.check('#f-topic input[value=Glossary]');
  await waitRows(page, 'tickets', ['T-104']);
  assert.deepEqual(await rowIds(page, 'tickets'), ['T-104']);
  await page.click('#f-clear');

  // Search (literal text, case-insensitive).
  await waitRows(page, 'tickets', SEED.map((t) => t.id));
  await page.fill('#f-q', 'snowflake');
  await waitRows(page, 'tickets', ['T-101']);
  assert.deepEqual(await rowIds(page, 'tickets'), ['T-101']);
  assert.match(page.url(), /q=snowflake/);

  // A bookmarked filtered view opens filtered.
  const url = page.url();
  const other = await ctx.newPage();
  other.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await other.goto(url);
  // A new tab has no key yet (sessionStorage is per tab): it asks, then shows the view.
  await other.waitForSelector('#key-dialog[open]');
  await other.fill('#key-input', ADMIN);
  await other.click('#key-dialog button[type=submit]');
  await other.waitForFunction(() => window.__triage && window.__triage.ready);
  await other.waitForFunction(() => document.querySelectorAll('#tickets-table tbody tr[data-id]').length === 1);
  assert.equal(await other.inputValue('#f-q'), 'snowflake');

  // Date range: created in the last two days only.
  await page.click('#f-clear');
  const from = new Date(now - 1.5 * day).toISOString().slice(0, 10);
  await page.fill('#f-from', from);
  await page.dispatchEvent('#f-from', 'change');
  await page.waitForFunction((f) => new URLSearchParams(location.search).get('from') === f, from);
  await page.waitForFunction(() => {
    const ids = [...document.querySelectorAll('#tickets-table tbody tr[data-id]')].map((r) => r.dataset.id);
    return ids.includes('T-200') && !ids.includes('T-105');
  });
  const ids = await rowIds(page, 'tickets');
  assert.ok(ids.includes('T-200') && ids.includes('T-201') && !ids.includes('T-105'), ids.join(','));
  await page.click('#f-clear');
  await page.waitForFunction(() => document.querySelectorAll('#tickets-table tbody tr[data-id]').length === 9);
  await page.screenshot({ path: join(SHOTS, 'tickets.png') });
  await ctx.close();
});

test('ticket detail, and an admin correction is stored as a manual one', async () => {
  const { ctx, page } = await openPage(ADMIN, '/?tab=tickets&q=T-102');
  await page.waitForFunction(() => document.querySelectorAll('#tickets-table tbody tr[data-id]').length === 1);
  await page.click('#tickets-table tbody tr[data-id="T-102"] td.subject');
  await page.waitForSelector('#detail[open] #correct-form');
  assert.match(await page.textContent('#detail-body'), /Lineage graph is empty/);
  assert.match(await page.textContent('#detail-body'), /test-model-1/);
  await page.screenshot({ path: join(SHOTS, 'detail.png') });
  await page.selectOption('#correct-form select[name=priority]', 'P0 (High)');
  await page.check('#correct-form input[value="Best practices"]');
  await page.fill('#correct-form input[name=note]', 'escalated by the lead');
  await page.click('#correct-form button[type=submit]');
  await page.waitForFunction(() => /Saved/.test(document.querySelector('#correct-state')?.textContent || ''));
  const doc = await mongo.db(DB).collection('tickets').findOne({ id: 'T-102' });
  assert.equal(doc.classification.priority, 'P0 (High)');
  assert.deepEqual(doc.classification.topic_tags.sort(), ['Best practices', 'Lineage']);
  assert.ok(doc.processing_metadata.corrected_by, 'the correction records who made it');
  await ctx.close();
});

test('processed history lists the processing metadata', async () => {
  const { ctx, page } = await openPage(ADMIN, '/?tab=history');
  await page.waitForFunction(() => document.querySelectorAll('#history-table tbody tr[data-id]').length === 6);
  const row = await page.textContent('#history-table tbody tr[data-id="T-103"]');
  assert.match(row, /test-model-1/);
  assert.match(row, /1,500 ms/);
  assert.match(row, /72%/);
  await page.screenshot({ path: join(SHOTS, 'history.png') });
  await ctx.close();
});

test('viewer sees no write buttons; operator no correction; admin all', async () => {
  const v = await openPage(viewerKey, '/?tab=history');
  assert.equal(await v.page.textContent('#role-badge'), 'viewer');
  for (const sel of ['#ctl-upload', '#ctl-process', '#export-csv']) assert.equal(await v.page.isVisible(sel), false, sel);
  await v.page.waitForSelector('#history-table tbody tr[data-id="T-100"]');
  await v.page.click('#history-table tbody tr[data-id="T-100"] td.subject');
  await v.page.waitForSelector('#detail[open]');
  assert.equal(await v.page.locator('#correct-form').count(), 0);
  await v.ctx.close();

  const o = await openPage(operatorKey, '/?tab=history');
  assert.equal(await o.page.textContent('#role-badge'), 'operator');
  assert.equal(await o.page.isVisible('#ctl-process'), true);
  assert.equal(await o.page.isVisible('#export-csv'), true);
  await o.page.waitForSelector('#history-table tbody tr[data-id="T-100"]');
  await o.page.click('#history-table tbody tr[data-id="T-100"] td.subject');
  await o.page.waitForSelector('#detail[open]');
  assert.equal(await o.page.locator('#correct-form').count(), 0);
  await o.ctx.close();
});

test('fetch: each mode reports what it found and loads it into the view', async () => {
  const { ctx, page } = await openPage(ADMIN);
  const expect = { last_24h: 2, last_7d: 3, unprocessed: 3, since_last_fetch: 0 };
  for (const mode of ['last_24h', 'last_7d', 'unprocessed', 'since_last_fetch']) {
    await page.selectOption('#fetch-mode', mode);
    await page.click('#fetch-go');
    await page.waitForFunction((n) => new RegExp(`Found ${n} `).test(document.querySelector('#fetch-state').textContent), expect[mode]);
    assert.equal(await page.getAttribute('#tab-tickets', 'aria-selected'), 'true');
  }
  // The last-fetch mark survives a reload.
  const mark = await page.evaluate(() => localStorage.getItem('triage.lastFetch'));
  await page.reload();
  await page.waitForFunction(() => window.__triage && window.__triage.ready);
  assert.equal(await page.evaluate(() => localStorage.getItem('triage.lastFetch')), mark);
  assert.match(await page.textContent('#fetch-state'), /Last fetch/);
  await ctx.close();
});

test('phone width renders without horizontal overflow', async () => {
  const { ctx, page } = await openPage(ADMIN, '/', { width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 1, `page is ${overflow}px wider than the screen`);
  await page.screenshot({ path: join(SHOTS, 'phone.png'), fullPage: false });
  await ctx.close();
});

test('no console errors on any page', () => {
  assert.deepEqual(consoleErrors, []);
});
