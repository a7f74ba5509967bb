// app.js - the dashboard: state in the URL, data from triage-api, live by
// polling. No framework: each view renders into its own element and only
// when its data changed, so a refresh never flickers or loses scroll.
import { api, has, can, session, getKey, setKey, loadSession, uploadFile, ApiError } from './api.js';
import { initCharts, drawAnalytics, dailyOf, chartData } from './charts.js';

const $ = (sel, root = document) => root.querySelector(sel);
const POLL_MS = 5000;
const PAGE = 50;
const STATUS_LABELS = ['processed', 'unprocessed', 'failed'];

const state = {
  tab: 'overview',
  q: '', status: [], priority: [], sentiment: [], topic: [], from: '', to: '',
  sort: '-created_at',
  tickets: { cursors: [null], page: 0, items: [], next: null, sig: '' },
  history: { cursors: [null], page: 0, items: [], next: null, sig: '' },
  review: { cursors: [null], page: 0, items: [], next: null, sig: '' },
  reviewRule: 'flagged',
  selected: new Set(),
  fetched: [],
  analytics: null, analyticsSig: '', analyticsQuery: null,
  job: null,
};
window.__triage = { state, chartData, ready: false };

/* ---- small helpers ------------------------------------------------------- */

function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}
const nf = new Intl.NumberFormat();
function num(n) { return n === null || n === undefined ? '–' : nf.format(n); }
function when(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (isNaN(d)) return esc(iso);
  const year = d.getFullYear() === new Date().getFullYear() ? undefined : 'numeric';
  return d.toLocaleString(undefined, { year, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}
function pct(x) { return x === null || x === undefined ? '–' : `${Math.round(x * 100)}%`; }
function statusOf(t) {
  if (t.processed) return 'processed';
  return t.processing_attempts > 0 || t.last_error ? 'failed' : 'unprocessed';
}
function badge(status) { return `<span class="badge ${status}">${status}</span>`; }
function prioClass(p) { return `prio p${String(p || '').replace(/[^0-9]/g, '').slice(0, 1)}`; }

let bannerTimer = null;
function banner(msg, kind = 'info', sticky = false) {
  const b = $('#banner');
  b.textContent = msg;
  b.className = `banner ${kind}`;
  b.hidden = !msg;
  clearTimeout(bannerTimer);
  if (msg && !sticky) bannerTimer = setTimeout(() => { b.hidden = true; }, 6000);
}
function explain(e) {
  if (e instanceof ApiError) {
    if (e.status === 401) return 'The API key was refused (401). Enter a valid key.';
    if (e.status === 403) return `Not allowed with this key: ${e.message}`;
    return `${e.message}${e.field ? ` (${e.field})` : ''}`;
  }
  return String(e && e.message ? e.message : e);
}

/* ---- URL <-> filters ------------------------------------------------------ */

const LIST_KEYS = ['status', 'priority', 'sentiment', 'topic'];

function readUrl() {
  const p = new URLSearchParams(location.search);
  state.tab = ['overview', 'tickets', 'history', 'review'].includes(p.get('tab')) ? p.get('tab') : 'overview';
  state.reviewRule = ['0.5', '0.7', '0.9'].includes(p.get('review')) ? p.get('review') : 'flagged';
  state.q = p.get('q') || '';
  for (const k of LIST_KEYS) state[k] = (p.get(k) || '').split(',').filter(Boolean);
  state.from = p.get('from') || '';
  state.to = p.get('to') || '';
  state.sort = p.get('sort') || '-created_at';
}

function writeUrl() {
  const p = new URLSearchParams();
  if (state.tab !== 'overview') p.set('tab', state.tab);
  if (state.q) p.set('q', state.q);
  for (const k of LIST_KEYS) if (state[k].length) p.set(k, state[k].join(','));
  if (state.from) p.set('from', state.from);
  if (state.to) p.set('to', state.to);
  if (state.sort !== '-created_at') p.set('sort', state.sort);
  if (state.reviewRule !== 'flagged') p.set('review', state.reviewRule);
  const qs = p.toString();
  history.replaceState(null, '', qs ? `?${qs}` : location.pathname);
}

/** The API filter parameters of the current view. */
function filterParams({ withStatus = true } = {}) {
  const p = new URLSearchParams();
  if (state.q) p.set('q', state.q);
  for (const k of LIST_KEYS) {
    if (k === 'status' && !withStatus) continue;
    if (state[k].length) p.set(k, state[k].join(','));
  }
  // Days are this browser's: from its midnight to the midnight after the
  // last day (a day of 23 or 25 hours when the clocks change), sent as UTC.
  if (state.from) p.set('created_from', isoOf(localMidnight(state.from, 0)));
  if (state.to) p.set('created_to', isoOf(localMidnight(state.to, 1)));
  return p;
}

/** This browser's time zone (IANA name), sent with the statistics so that
 * "today" and the per-day series are its own days. */
const ZONE = (() => { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (_) { return ''; } })();
/** params plus tz=<this browser's zone>, for the statistics routes. */
function withZone(params) {
  const p = new URLSearchParams(params);
  if (ZONE) p.set('tz', ZONE);
  return p;
}

/** The local midnight that starts day YYYY-MM-DD plus `plus` days. */
function localMidnight(day, plus) {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y, m - 1, d + plus);
}
function isoOf(date) { return date.toISOString().replace('.000', ''); }
/** YYYY-MM-DD of date in this browser's time zone. */
function localDay(date) {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`;
}

/* ---- filters UI ------------------------------------------------------------- */

function buildMultiSelect(el, values) {
  const param = el.dataset.param;
  el.innerHTML = `<details><summary aria-label="${param} filter"><span class="ms-text"></span></summary><div class="ms-menu" role="group">${
    values.map((v) => `<label><input type="checkbox" value="${esc(v)}"> ${esc(v)}</label>`).join('')}</div></details>`;
  el.addEventListener('change', () => {
    state[param] = [...el.querySelectorAll('input:checked')].map((i) => i.value);
    filtersChanged();
  });
  el.querySelector('details').addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') { ev.currentTarget.open = false; ev.currentTarget.querySelector('summary').focus(); }
  });
}

function syncFilterInputs() {
  $('#f-q').value = state.q;
  $('#f-from').value = state.from;
  $('#f-to').value = state.to;
  $('#sort').value = state.sort;
  $('#review-rule').value = state.reviewRule;
  for (const k of LIST_KEYS) {
    const el = $(`#f-${k}`);
    for (const i of el.querySelectorAll('input')) i.checked = state[k].includes(i.value);
    el.querySelector('.ms-text').textContent = state[k].length ? state[k].join(', ') : 'Any';
    el.classList.toggle('active', state[k].length > 0);
  }
}

// Close open multi-selects when clicking elsewhere.
document.addEventListener('click', (ev) => {
  for (const d of document.querySelectorAll('.ms details[open]')) if (!d.contains(ev.target)) d.open = false;
});

function filtersChanged() {
  for (const w of ['tickets', 'history', 'review']) {
    state[w] = { cursors: [null], page: 0, items: [], next: null, sig: state[w].sig, url: state[w].url };
  }
  state.analyticsSig = '';
  syncFilterInputs();
  writeUrl();
  refreshView();
}

/* ---- tabs ---------------------------------------------------------------------- */

function showTab(tab, focus) {
  state.tab = tab;
  for (const b of document.querySelectorAll('[role=tab]')) {
    const on = b.dataset.tab === tab;
    b.setAttribute('aria-selected', on ? 'true' : 'false');
    b.tabIndex = on ? 0 : -1;
    if (on && focus) b.focus();
  }
  for (const p of document.querySelectorAll('[role=tabpanel]')) p.hidden = p.id !== `panel-${tab}`;
  writeUrl();
  refreshView();
}

/* ---- statistics and analytics ----------------------------------------------------- */

/** Today's and yesterday's entries of the per-day series (this browser's
 * days: the server counted them in the zone the request named). */
function twoDays(daily) {
  const n = new Date();
  const today = localDay(n);
  const y = localDay(new Date(n.getFullYear(), n.getMonth(), n.getDate() - 1));
  const m = new Map(daily);
  return [m.get(today) || { created: 0, processed: 0 }, m.get(y) || { created: 0, processed: 0 }];
}

/** A trend line: the change d and what it is measured against. upIsGood
 * false for a number that should go down (unprocessed). */
function trend(el, d, text, upIsGood = true) {
  const good = upIsGood ? d > 0 : d < 0;
  el.className = `stat-trend ${d === 0 ? 'flat' : good ? 'up' : 'down'}`;
  el.textContent = `${d > 0 ? '▲' : d < 0 ? '▼' : '■'} ${d > 0 ? '+' : d < 0 ? '−' : '±'}${nf.format(Math.abs(d))} ${text}`;
}

/** The stat cards' numbers: c = {total, processed, unprocessed,
 * processed_today, failed, avg_ms}. */
function drawCounts(c) {
  $('#stat-total').textContent = num(c.total);
  $('#stat-processed').textContent = num(c.processed);
  $('#stat-unprocessed').textContent = num(c.unprocessed);
  $('#stat-today').textContent = num(c.processed_today);
  const share = c.total ? c.processed / c.total : 0;
  $('#stat-pct').textContent = c.total ? `${(share * 100).toFixed(1)}%` : '';
  $('#stat-bar span').style.width = `${share * 100}%`;
  $('#stat-bar').setAttribute('aria-valuenow', String(Math.round(share * 100)));
  $('#stat-foot').textContent = [
    c.total ? `${(share * 100).toFixed(1)}% processed · ${((1 - share) * 100).toFixed(1)}% waiting` : 'No tickets match',
    c.failed ? `${num(c.failed)} failed` : null,
    c.avg_ms !== null && c.avg_ms !== undefined ? `avg ${nf.format(Math.round(c.avg_ms))} ms per ticket` : null,
  ].filter(Boolean).join(' · ');
  const filtered = filterParams().toString() !== '';
  $('.stats').classList.toggle('filtered', filtered);
  $('#stats-scope').textContent = filtered ? 'matching the filters' : '';
}

/** The trends under the cards, from the per-day series. Against the
 * previous day: each card's number now vs at the end of yesterday, and for
 * "processed today" today's count vs yesterday's. */
function drawTrends(daily) {
  const [t, p] = twoDays(daily);
  trend($('#trend-total'), t.created, 'since yesterday');
  trend($('#trend-processed'), t.processed, 'since yesterday');
  trend($('#trend-unprocessed'), t.created - t.processed, 'since yesterday', false);
  trend($('#trend-today'), t.processed - p.processed, `vs yesterday (${nf.format(p.processed)})`);
}

/** Without filters the numbers come first from GET /api/processing-stats
 * (counts only: quick even over many tickets), before the analytics scan. */
async function refreshCounts() {
  if (filterParams().toString()) return;
  const s = await api('GET', `/api/processing-stats?${withZone('')}`);
  if (filterParams().toString()) return; // a filter was set meanwhile
  drawCounts({
    total: s.total_tickets, processed: s.total_processed, unprocessed: s.total_unprocessed,
    processed_today: s.processed_today, failed: s.failed, avg_ms: s.average_processing_time_ms,
  });
}

/** GET /api/analytics for the current filters: the stat cards and every
 * chart. force: drop the server's cache first (operators; a viewer's
 * refresh just asks again). */
async function refreshAnalytics(force) {
  const params = filterParams();
  if (force && can('operator')) await api('POST', '/api/analytics/refresh');
  const a = await api('GET', `/api/analytics?${withZone(params)}`);
  const sig = JSON.stringify([{ ...a, generated_at: null }, params.toString()]);
  state.analyticsQuery = params.toString();
  $('#analytics-time').textContent = a.generated_at ? `Updated ${new Date(a.generated_at).toLocaleTimeString()}` : '';
  if (sig === state.analyticsSig) return;
  state.analyticsSig = sig;
  state.analytics = a;
  if (window.Chart) drawAnalytics(a, session.taxonomy);
  const daily = dailyOf(a);
  drawCounts({ ...a, processed_today: twoDays(daily)[0].processed, avg_ms: a.processing_time_ms && a.processing_time_ms.average });
  drawTrends(daily);
  $('#analytics-note').textContent = !window.Chart
    ? 'The chart library did not load; charts are unavailable.'
    : params.toString() ? 'Charts and numbers follow the current filters.' : 'All tickets.';
}

/* ---- tables ---------------------------------------------------------------------------- */

function labelsCell(t) {
  const c = t.classification;
  if (!t.processed || !c) return '<span class="muted">—</span>';
  return `<span class="${prioClass(c.priority)}">${esc(c.priority)}</span> <span class="tag sentiment">${esc(c.sentiment)}</span> ${(c.topic_tags || []).map((x) => `<span class="tag">${esc(x)}</span>`).join(' ')}`;
}

function ticketRow(t) {
  const c = t.processed ? t.classification || {} : {};
  const sel = state.selected.has(t.id) ? ' checked' : '';
  return `<tr data-id="${esc(t.id)}" tabindex="0">
    <td class="check"><input type="checkbox" aria-label="Select ${esc(t.id)}"${sel}></td>
    <td class="mono">${esc(t.id)}</td>
    <td class="subject">${esc(t.subject)}</td>
    <td>${badge(statusOf(t))}</td>
    <td>${c.priority ? `<span class="${prioClass(c.priority)}">${esc(c.priority)}</span>` : '<span class="muted">—</span>'}</td>
    <td>${c.sentiment ? esc(c.sentiment) : '<span class="muted">—</span>'}</td>
    <td>${(c.topic_tags || []).map((x) => `<span class="tag">${esc(x)}</span>`).join(' ') || '<span class="muted">—</span>'}</td>
    <td class="nowrap">${when(t.created_at)}</td></tr>`;
}

function historyRow(t) {
  const pm = t.processing_metadata || {};
  const cs = t.confidence_scores || {};
  const corrected = pm.corrected_by ? ' <span class="tag warn" title="corrected by hand">corrected</span>' : '';
  return `<tr data-id="${esc(t.id)}" tabindex="0">
    <td class="mono">${esc(t.id)}</td>
    <td class="subject">${esc(t.subject)}</td>
    <td class="labels">${labelsCell(t)}${corrected}</td>
    <td class="nowrap">${when(pm.processed_at)}</td>
    <td class="mono small-text nowrap">${esc(pm.model_version || '–')}</td>
    <td class="mono small-text nowrap">${esc(pm.agent_version || '–')}</td>
    <td class="num">${pm.processing_time_ms !== undefined ? `${num(pm.processing_time_ms)} ms` : '–'}</td>
    <td class="num">${pct(cs.topic)}</td><td class="num">${pct(cs.sentiment)}</td><td class="num">${pct(cs.priority)}</td></tr>`;
}

/** A row of the review queue: the labels, the lowest of the three
 * confidences (what put it in the queue) and when it was classified. */
function reviewRow(t) {
  const cs = t.confidence_scores || {};
  const low = Math.min(...['topic', 'sentiment', 'priority'].map((k) => (typeof cs[k] === 'number' ? cs[k] : 1)));
  return `<tr data-id="${esc(t.id)}" tabindex="0">
    <td class="mono">${esc(t.id)}</td>
    <td class="subject">${esc(t.subject)}</td>
    <td class="labels">${labelsCell(t)}</td>
    <td class="num">${pct(low)}</td>
    <td class="nowrap">${when((t.processing_metadata || {}).processed_at)}</td></tr>`;
}

/** Runs render (which replaces the rows of tbody) so that the row at the
 * top of the screen stays where it is: rows above it may change height
 * when a refresh brings new labels, and the reader must not lose the place. */
function keepPlace(tbody, render) {
  const edge = $('.topbar').getBoundingClientRect().bottom;
  const anchor = [...tbody.querySelectorAll('tr[data-id]')].find((r) => r.getBoundingClientRect().top >= edge);
  const id = anchor && anchor.dataset.id;
  const before = anchor && anchor.getBoundingClientRect().top;
  render();
  if (!anchor) return;
  const again = [...tbody.querySelectorAll('tr[data-id]')].find((r) => r.dataset.id === id);
  if (again) {
    const d = again.getBoundingClientRect().top - before;
    if (Math.abs(d) >= 1) window.scrollBy(0, d);
  }
}

/** What list `which` asks the api for: its path and parameters. */
function listQuery(which) {
  if (which === 'review') {
    const params = filterParams({ withStatus: false });
    params.set('status', 'processed');
    // Flagged when classified (a correction clears the flag), or any score
    // under the user's threshold and not yet corrected or confirmed.
    if (state.reviewRule === 'flagged') params.set('needs_review', 'true');
    else { params.set('confidence_below', state.reviewRule); params.set('corrected', 'false'); }
    params.set('sort', '-created_at');
    return { path: '/api/tickets', params };
  }
  const params = filterParams({ withStatus: which === 'tickets' });
  // History lists processed tickets: a created_at order becomes the
  // processing order there, and a Status filter does not apply.
  params.set('sort', sortOf(`${which}-table`));
  return { path: which === 'tickets' ? '/api/tickets' : '/api/processed-tickets', params };
}

const ROWS = { tickets: ticketRow, history: historyRow, review: reviewRow };
const COLS = { tickets: 8, history: 10, review: 5 };

/** How many tickets list `which` holds in all, when the analytics of the
 * same filters already counted them (cheap); null when not known. */
function listTotal(which) {
  const a = state.analytics;
  if (!a || state.analyticsQuery !== filterParams().toString()) return null;
  if (which === 'tickets') return a.total;
  if (which === 'history' && !state.status.length) return a.processed;
  return null;
}

/** Loads the current page of list `which`. While it is on its way the
 * table is greyed with a spinner; an answer for filters that changed
 * meanwhile is dropped (the newer request is the one shown). */
/* The number of the latest request of each list: an answer to an earlier
 * one is dropped. */
const listSeq = { tickets: 0, history: 0, review: 0 };

async function refreshList(which) {
  const v = state[which];
  const { path, params } = listQuery(which);
  params.set('limit', String(PAGE));
  const cur = v.cursors[v.page];
  if (cur) params.set('cursor', cur);
  const url = `${path}?${params}`;
  const seq = ++listSeq[which];
  const wrap = $(`#${which}-table`).closest('.table-wrap');
  // A poll of the same page does not grey the table; a new question does.
  if (url !== v.url) wrap.classList.add('loading');
  wrap.setAttribute('aria-busy', 'true');
  let page;
  try {
    page = await api('GET', url);
  } finally {
    if (listSeq[which] === seq) { wrap.classList.remove('loading'); wrap.removeAttribute('aria-busy'); }
  }
  if (listSeq[which] !== seq || state[which] !== v) return; // a newer request was made meanwhile
  v.url = url;
  v.items = page.items;
  v.next = page.next_cursor;
  const sig = JSON.stringify([page.items, v.page, [...state.selected]]);
  const table = $(`#${which}-table tbody`);
  if (sig !== v.sig) {
    v.sig = sig;
    keepPlace(table, () => {
      table.innerHTML = page.items.length
        ? page.items.map(ROWS[which]).join('')
        : `<tr class="empty"><td colspan="${COLS[which]}">${which === 'review' ? 'Nothing to review: no ticket matches the queue.' : 'No tickets match these filters.'}</td></tr>`;
    });
  }
  const first = v.page * PAGE + 1;
  const last = v.page * PAGE + page.items.length;
  const total = listTotal(which);
  const of = total !== null ? ` of ${num(total)}` : v.next ? ' of more' : '';
  $(`#${which}-page`).textContent = page.items.length ? `${num(first)}–${num(last)}${of}` : '';
  $(`#${which}-prev`).disabled = v.page === 0;
  $(`#${which}-next`).disabled = !v.next;
  const count = total !== null ? num(total) : `${num(last)}${v.next ? '+' : ''}`;
  let summary;
  if (which === 'tickets') summary = `${state.selected.size ? `${state.selected.size} selected · ` : ''}${count} ticket${total === 1 ? '' : 's'}`;
  else if (which === 'history') summary = `${count} processed ticket${total === 1 ? '' : 's'}${state.status.length ? ' · the Status filter does not apply here: this tab lists processed tickets' : ''}`;
  else summary = `${count} ticket${last === 1 && !v.next ? '' : 's'} to review, newest first · a correction or a confirmation takes a ticket out of the queue`;
  $(`#${which}-summary`).textContent = summary;
  if (which === 'review') {
    const pill = $('#review-count');
    pill.hidden = v.page !== 0;
    pill.textContent = v.next ? `${num(PAGE)}+` : num(page.items.length);
  }
  drawSortHeaders();
}

/** The sort a table shows: history has no created_at order (it lists
 * processed tickets: newest processed first instead). */
function sortOf(tableId) {
  return tableId === 'history-table' && state.sort.endsWith('created_at') ? '-processed_at' : state.sort;
}

/** The headers of the current sort: an arrow and aria-sort. */
function drawSortHeaders() {
  for (const th of document.querySelectorAll('th[data-sort]')) {
    const sort = sortOf(th.closest('table').id);
    const active = sort.replace(/^-/, '') === th.dataset.sort.replace(/^-/, '');
    th.setAttribute('aria-sort', active ? (sort.startsWith('-') ? 'descending' : 'ascending') : 'none');
    th.classList.toggle('sorted', active);
  }
}

/** A click on a sortable header: that column, in its first direction
 * (newest, P0, least sure first), or the other way when it is already. */
function sortBy(th) {
  const first = th.dataset.sort;
  const key = first.replace(/^-/, '');
  const current = sortOf(th.closest('table').id);
  state.sort = current === first ? (first.startsWith('-') ? key : `-${key}`) : first;
  filtersChanged();
}

function pageMove(which, delta) {
  const v = state[which];
  if (delta > 0 && v.next) {
    v.cursors[v.page + 1] = v.next;
    v.page++;
  } else if (delta < 0 && v.page > 0) {
    v.page--;
  }
  refreshList(which).catch(showError);
}

/* ---- refresh loop ----------------------------------------------------------------------- */

let refreshing = null;
/** Refreshes what the current tab shows. The counts and charts refresh one
 * run after another; a list asks at once (its own newer request wins, see
 * refreshList), so a slow answer for old filters never holds up new ones. */
async function refreshView() {
  const lists = ['tickets', 'history', 'review'].includes(state.tab) ? [refreshList(state.tab)] : [];
  const run = async () => { await Promise.all([refreshCounts(), refreshAnalytics(false)]); };
  const p = (refreshing || Promise.resolve()).catch(() => {}).then(run);
  refreshing = p;
  try {
    await Promise.all([p, ...lists]);
    $('#live').classList.remove('stale');
  } catch (e) {
    $('#live').classList.add('stale');
    showError(e);
  }
}

function showError(e) {
  if (e instanceof ApiError && e.status === 401) { askKey('That key was refused. Enter a valid API key.'); return; }
  banner(explain(e), 'error');
}

function startPolling() {
  setInterval(() => { if (!document.hidden && !document.querySelector('dialog[open]')) refreshView(); }, POLL_MS);
}

/* ---- access --------------------------------------------------------------------------------- */

function applyRole() {
  const role = session.auth ? session.role || 'none' : 'admin (auth off)';
  $('#role-badge').textContent = role;
  $('#role-badge').className = `role-badge ${session.role || ''}`;
  $('#key-button').hidden = !session.auth;
  for (const el of document.querySelectorAll('[data-write]')) {
    const allowed = can(el.dataset.write);
    el.hidden = !allowed;
  }
  // Whole controls a viewer cannot use at all.
  $('#ctl-upload').hidden = !can('operator');
  $('#ctl-process').hidden = !can('operator');
  $('#select-all').closest('th').hidden = !can('operator');
  document.body.classList.toggle('can-select', can('operator'));
}

function askKey(message) {
  $('#key-error').textContent = message || '';
  $('#key-input').value = '';
  if (!$('#key-dialog').open) $('#key-dialog').showModal();
  $('#key-input').focus();
}

$('#key-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  setKey($('#key-input').value.trim());
  try {
    if (!(await loadSession()) || !session.role) {
      setKey('');
      $('#key-error').textContent = 'That key was refused.';
      return;
    }
    $('#key-dialog').close();
    await start();
  } catch (e) {
    $('#key-error').textContent = explain(e);
  }
});
$('#key-button').addEventListener('click', () => askKey(''));
// Escape (or the browser's cancel) closes the dialog only once the page has
// a session: at the first prompt it would leave an empty page behind.
$('#key-dialog').addEventListener('cancel', (ev) => {
  if (session.role) return;
  ev.preventDefault();
  $('#key-error').textContent = 'This dashboard needs an API key: ask your administrator for one.';
});

/* ---- ticket detail ------------------------------------------------------------------------------- */

/* The list the open ticket was opened from, for next and previous. */
const detailCtx = { list: null, id: null };

/** The id before (delta -1) or after (+1) the open ticket in its list's
 * page, or null at an end. */
function neighbour(delta) {
  const items = detailCtx.list ? state[detailCtx.list].items : [];
  const i = items.findIndex((t) => t.id === detailCtx.id);
  const j = i + delta;
  return i >= 0 && j >= 0 && j < items.length ? items[j].id : null;
}

/** Opens the ticket after (or before) the open one; past the end of the
 * page, the first of the next page. */
async function stepDetail(delta) {
  const id = neighbour(delta);
  if (id) { openDetail(id, detailCtx.list); return; }
  const v = detailCtx.list && state[detailCtx.list];
  if (delta > 0 && v && v.next) {
    v.cursors[v.page + 1] = v.next;
    v.page++;
    await refreshList(detailCtx.list).catch(showError);
    if (v.items.length) openDetail(v.items[0].id, detailCtx.list);
  }
}

/** "Dana (support lead)" for a key with a name, else its id; the key
 * TRIAGE_ADMIN_KEY is "the administrator key". */
function author(id, name) {
  if (name) return name;
  return id === 'bootstrap' ? 'the administrator key' : `key ${id || '?'}`;
}

function labelsText(c) {
  if (!c) return '–';
  return `${esc(c.priority)} · ${esc(c.sentiment)} · ${(c.topic_tags || []).map(esc).join(', ')}`;
}

/** The classification section: the model's labels with its confidence, or
 * a person's labels as such (who, when, why), and the labels before. */
function classificationHtml(t) {
  if (!t.processed) return '<p class="muted">Not classified yet.</p>';
  const c = t.classification || {};
  const cs = t.confidence_scores || {};
  const pm = t.processing_metadata || {};
  const human = Boolean(pm.corrected_at);
  const bar = (x) => (human ? '' : `<span class="conf"><span style="width:${Math.round((x || 0) * 100)}%"></span></span> ${pct(x)}`);
  const history = (t.corrections || []).slice().reverse();
  const last = history[0] || {};
  return `
    ${human ? `<p class="human" data-testid="human-label">Set by a person: ${esc(author(pm.corrected_by, pm.corrected_by_name || last.by_name))}, ${when(pm.corrected_at)}${last.note ? ` — “${esc(last.note)}”` : ''}</p>` : ''}
    <dl class="kv">
      <dt>Priority</dt><dd><span class="${prioClass(c.priority)}">${esc(c.priority)}</span> ${bar(cs.priority)}</dd>
      <dt>Sentiment</dt><dd>${esc(c.sentiment)} ${bar(cs.sentiment)}</dd>
      <dt>Topics</dt><dd>${(c.topic_tags || []).map((x) => `<span class="tag">${esc(x)}</span>`).join(' ')} ${bar(cs.topic)}</dd>
    </dl>
    ${t.needs_review ? '<p class="warn-text" data-testid="needs-review">Waiting for review: the model was not sure.</p>' : ''}
    ${history.length ? `<details class="earlier" data-testid="earlier-labels"><summary>Earlier labels (${history.length})</summary><ol>${history.map((h) => `
      <li><span class="muted small-text">${when(h.at)} · ${esc(author(h.by, h.by_name))}</span><br>
        before: ${labelsText(h.previous)}<br>after: ${labelsText(h.classification)}${h.note ? `<br><em>${esc(h.note)}</em>` : ''}</li>`).join('')}</ol></details>` : ''}`;
}

async function openDetail(id, list) {
  let t;
  try {
    t = await api('GET', `/api/tickets/${encodeURIComponent(id)}`);
  } catch (e) { showError(e); return; }
  if (list !== undefined) detailCtx.list = list;
  detailCtx.id = t.id;
  const c = t.classification || {};
  const pm = t.processing_metadata || {};
  const tax = session.taxonomy;
  const opts = (l, cur) => l.map((x) => `<option${x === cur ? ' selected' : ''}>${esc(x)}</option>`).join('');
  const confirm = t.needs_review && !pm.corrected_at
    ? '<button class="btn" type="button" id="confirm-labels" data-testid="confirm-labels">Labels are right</button>' : '';
  const correction = can('admin') && t.processed ? `
    <form id="correct-form" class="correct">
      <h3>Correct the classification</h3>
      <div class="grid2">
        <label class="field">Priority <select name="priority">${opts(tax.priority, c.priority)}</select></label>
        <label class="field">Sentiment <select name="sentiment">${opts(tax.sentiment, c.sentiment)}</select></label>
      </div>
      <fieldset class="topics"><legend>Topics</legend>${tax.topic_tags.map((l) => `<label><input type="checkbox" name="topic" value="${esc(l)}"${(c.topic_tags || []).includes(l) ? ' checked' : ''}> ${esc(l)}</label>`).join('')}</fieldset>
      <label class="field">Note <input name="note" maxlength="500" placeholder="why (optional)"></label>
      <div class="row"><button class="btn primary" type="submit">Save correction</button>${confirm}<span id="correct-state" class="muted small-text" role="status"></span></div>
    </form>` : '';
  const prev = neighbour(-1), next = neighbour(1) || (detailCtx.list && state[detailCtx.list].next ? 'more' : null);
  $('#detail-body').innerHTML = `
    <div class="detail-head"><span class="mono muted">${esc(t.id)}</span> ${badge(statusOf(t))}
      <span class="detail-nav">
        <button class="btn ghost small" type="button" id="detail-prev" data-testid="detail-prev"${prev ? '' : ' disabled'}>← Previous</button>
        <button class="btn ghost small" type="button" id="detail-next" data-testid="detail-next"${next ? '' : ' disabled'}>Next →</button>
      </span></div>
    <h2 id="detail-title">${esc(t.subject)}</h2>
    <pre class="body">${esc(t.body)}</pre>
    <div class="grid2">
      <section><h3>Classification</h3>${classificationHtml(t)}</section>
      <section><h3>Processing</h3><dl class="kv">
        <dt>Created</dt><dd>${when(t.created_at)}</dd>
        <dt>Processed</dt><dd>${when(pm.processed_at)}</dd>
        <dt>Model</dt><dd class="mono">${esc(pm.model_version || '–')}</dd>
        <dt>Agent</dt><dd class="mono">${esc(pm.agent_version || '–')}</dd>
        <dt>Time</dt><dd>${pm.processing_time_ms !== undefined ? `${num(pm.processing_time_ms)} ms` : '–'}</dd>
        <dt>Attempts</dt><dd>${num(t.processing_attempts || 0)}</dd>
        <dt>Last error</dt><dd class="${t.last_error ? 'error-text' : ''}">${esc(t.last_error || '–')}</dd>
        ${pm.corrected_at ? `<dt>Corrected</dt><dd>by ${esc(author(pm.corrected_by, pm.corrected_by_name))}, ${when(pm.corrected_at)}</dd>` : ''}
        <dt>Source</dt><dd>${esc(t.source || '–')}</dd>
      </dl></section>
    </div>${correction}`;
  $('#detail-prev').addEventListener('click', () => stepDetail(-1));
  $('#detail-next').addEventListener('click', () => stepDetail(1));
  const form = $('#correct-form');
  if (form) {
    const save = async (body, done) => {
      try {
        await api('PUT', `/api/processed-tickets/${encodeURIComponent(t.id)}`, body);
        $('#correct-state').textContent = done;
        state.analyticsSig = '';
        // In the review queue, the next ticket; elsewhere, this one again.
        const after = detailCtx.list === 'review' ? neighbour(1) : t.id;
        await refreshView();
        setTimeout(() => { if ($('#detail').open && after) openDetail(after); }, 600);
      } catch (e) {
        $('#correct-state').textContent = explain(e);
      }
    };
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const fd = new FormData(form);
      const body = {
        classification: { topic_tags: fd.getAll('topic'), sentiment: fd.get('sentiment'), priority: fd.get('priority') },
      };
      if (fd.get('note')) body.note = fd.get('note');
      if (!body.classification.topic_tags.length) { $('#correct-state').textContent = 'Pick at least one topic.'; return; }
      save(body, 'Saved as a manual correction.');
    });
    const ok = $('#confirm-labels');
    if (ok) {
      ok.addEventListener('click', () => save({
        classification: { topic_tags: c.topic_tags || [], sentiment: c.sentiment, priority: c.priority },
        note: 'labels confirmed in review',
      }, 'Confirmed: the labels stay as they are.'));
    }
  }
  if (!$('#detail').open) $('#detail').showModal();
}

function wireTable(which) {
  const tbody = $(`#${which}-table tbody`);
  tbody.addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr[data-id]');
    if (!tr) return;
    if (ev.target.matches('input[type=checkbox]')) {
      if (ev.target.checked) state.selected.add(tr.dataset.id); else state.selected.delete(tr.dataset.id);
      refreshList('tickets').catch(showError);
      return;
    }
    openDetail(tr.dataset.id, which);
  });
  tbody.addEventListener('keydown', (ev) => {
    const tr = ev.target.closest('tr[data-id]');
    if (!tr || ev.target !== tr) return;
    if (ev.key === 'Enter') openDetail(tr.dataset.id, which);
    if (ev.key === 'ArrowDown' && tr.nextElementSibling) { ev.preventDefault(); tr.nextElementSibling.focus(); }
    if (ev.key === 'ArrowUp' && tr.previousElementSibling) { ev.preventDefault(); tr.previousElementSibling.focus(); }
  });
}

/* ---- control panel: upload ---------------------------------------------------------------------- */

let pendingFile = null;

function contentTypeOf(file) {
  const n = file.name.toLowerCase();
  if (n.endsWith('.csv')) return 'text/csv';
  if (n.endsWith('.ndjson') || n.endsWith('.jsonl')) return 'application/x-ndjson';
  return 'application/json';
}

const OUTCOME = {
  valid: ['ok', 'will be stored'],
  stored: ['ok', 'stored'],
  updated: ['ok', 'updated'],
  unchanged: ['warn', 'unchanged'],
  duplicate: ['warn', 'duplicate'],
  rejected: ['bad', 'rejected'],
  failed: ['bad', 'not stored'],
};
const OUTCOME_ORDER = ['rejected', 'failed', 'duplicate', 'unchanged', 'updated', 'valid', 'stored'];
const PREVIEW_ROWS = 200;

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1048576).toFixed(1)} MB`;
}

/** The upload report (ingest's, relayed): counts, then a table of rows with
 * line, id, outcome and reason - problems first. */
function renderPreview(r) {
  const rows = (r.results || []).slice();
  rows.sort((a, b) => OUTCOME_ORDER.indexOf(a.status) - OUTCOME_ORDER.indexOf(b.status) || (a.index ?? 0) - (b.index ?? 0));
  const shown = rows.slice(0, PREVIEW_ROWS);
  const willStore = r.dry_run ? r.valid - (r.duplicates || 0) : r.stored;
  const dupNote = r.dry_run && r.duplicates_checked === false ? ' <span class="muted small-text">(the store could not be asked about duplicates)</span>' : '';
  $('#preview').innerHTML = `
    <div class="pills" data-testid="upload-counts">
      <span class="pill ok" data-count="store">${num(willStore)} ${r.dry_run ? 'to store' : 'stored'}</span>
      <span class="pill warn" data-count="duplicate">${num(r.duplicates || 0)} duplicate${r.duplicates === 1 ? '' : 's'}</span>
      <span class="pill bad" data-count="rejected">${num(r.rejected || 0)} rejected</span>
      ${r.failed ? `<span class="pill bad" data-count="failed">${num(r.failed)} not stored</span>` : ''}
      <span class="muted small-text">${num(r.total)} row${r.total === 1 ? '' : 's'} · ${esc(r.format || '')}</span>${dupNote}
    </div>
    ${shown.length ? `<table class="grid mini" id="preview-table"><thead><tr><th class="num">Line</th><th>ID</th><th>Outcome</th><th>Reason</th></tr></thead><tbody>${
      shown.map((x) => {
        const [kind, text] = OUTCOME[x.status] || ['warn', x.status];
        const reason = x.status === 'duplicate' ? 'this id is already stored' : (x.error || x.reason || '');
        return `<tr data-status="${esc(x.status)}"><td class="num">${x.line ?? '–'}</td><td class="mono">${esc(x.id || '–')}</td><td><span class="outcome ${kind}">${esc(text)}</span></td><td>${esc(reason)}${x.field ? ` <span class="muted">(${esc(x.field)})</span>` : ''}</td></tr>`;
      }).join('')
    }</tbody></table>${rows.length > shown.length ? `<p class="muted small-text">… and ${num(rows.length - shown.length)} more rows.</p>` : ''}` : ''}${r.rejected_not_listed ? `<p class="muted small-text" data-testid="rejects-not-listed">${num(r.rejected_not_listed)} more rejected rows are only counted: ${esc(Object.entries(r.rejected_by_reason || {}).map(([k, v]) => `${k} ${num(v)}`).join(', '))}.</p>` : ''}`;
  $('#preview').hidden = false;
}

async function sendUpload(dry) {
  const path = `/api/tickets/upload${dry ? '?dry_run=true' : ''}`;
  const file = pendingFile;
  const bar = $('#upload-bar');
  bar.hidden = false;
  bar.setAttribute('aria-valuenow', '0');
  $('#upload-bar span').style.width = '0%';
  $('#upload-actions').hidden = true;
  $('#upload-state').textContent = `${dry ? 'Checking' : 'Storing'} ${file.name} (${bytes(file.size)})…`;
  const onProgress = (loaded, total) => {
    const f = total ? loaded / total : 1;
    $('#upload-bar span').style.width = `${f * 100}%`;
    bar.setAttribute('aria-valuenow', String(Math.round(f * 100)));
    $('#upload-state').textContent = f < 1
      ? `Sending ${file.name}: ${Math.round(f * 100)}% of ${bytes(total)}…`
      : `Sent ${bytes(total)}; the server is ${dry ? 'checking' : 'storing'} the rows…`;
  };
  try {
    const r = await uploadFile(path, file, contentTypeOf(file), onProgress);
    $('#upload-bar span').style.width = '100%';
    bar.setAttribute('aria-valuenow', '100');
    renderPreview(r);
    const canStore = dry && r.valid - (r.duplicates || 0) > 0;
    $('#upload-actions').hidden = !canStore;
    if (dry) {
      $('#upload-state').textContent = canStore
        ? 'Preview: nothing is stored yet. Store the valid rows?'
        : 'Nothing new to store in this file.';
      $('#upload-confirm').textContent = `Store ${num(r.valid - (r.duplicates || 0))} ticket${r.valid - (r.duplicates || 0) === 1 ? '' : 's'}`;
    } else {
      $('#upload-state').textContent = `Done: ${num(r.stored)} stored${r.duplicates ? `, ${num(r.duplicates)} duplicate${r.duplicates === 1 ? '' : 's'} skipped` : ''}${r.rejected ? `, ${num(r.rejected)} rejected` : ''}${r.failed ? `, ${num(r.failed)} not stored (send the file again)` : ''}.`;
      $('#upload-state').dataset.done = '1';
      pendingFile = null;
      refreshView();
    }
  } catch (e) {
    $('#upload-state').textContent = `Upload failed: ${explain(e)}`;
    $('#upload-actions').hidden = true;
  } finally {
    setTimeout(() => { bar.hidden = true; }, 800);
  }
}

function pickFile(file) {
  if (!file) return;
  if (!has('POST /api/tickets/upload')) {
    $('#upload-state').textContent = 'Uploading is not available on this server yet (no POST /api/tickets/upload).';
    return;
  }
  pendingFile = file;
  $('#preview').hidden = true;
  delete $('#upload-state').dataset.done;
  sendUpload(true);
}

function wireUpload() {
  const drop = $('#drop');
  $('#file').addEventListener('change', (ev) => { pickFile(ev.target.files[0]); ev.target.value = ''; });
  drop.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); $('#file').click(); } });
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => { ev.preventDefault(); drop.classList.remove('over'); pickFile(ev.dataTransfer.files[0]); });
  $('#upload-confirm').addEventListener('click', () => { if (pendingFile) sendUpload(false); });
  $('#upload-cancel').addEventListener('click', () => {
    pendingFile = null;
    $('#preview').hidden = true; $('#upload-actions').hidden = true; $('#upload-state').textContent = 'Cancelled; nothing was stored.';
  });
}

/* ---- control panel: fetch -------------------------------------------------------------------------- */

function showLastFetch() {
  if (!$('#fetch-state').dataset.result) {
    $('#fetch-state').textContent = 'Since last fetch: the tickets stored since this key last fetched (kept by the server).';
  }
}

/** POST /api/fetch: the unprocessed tickets stored (not created) since the
 * mode's start; for "since last fetch" the server keeps where this key
 * stopped, so a ticket that arrives late is not missed and another browser
 * with the same key goes on from there. */
async function doFetch() {
  const mode = $('#fetch-mode').value;
  try {
    const r = await api('POST', '/api/fetch', { mode, limit: 1000 });
    state.fetched = r.ids;
    const msg = `Found ${num(r.count)}${r.more ? '+' : ''} unprocessed ticket${r.count === 1 ? '' : 's'}${r.since ? ` stored since ${when(r.since)}` : ''}.`;
    $('#fetch-state').textContent = msg;
    $('#fetch-state').dataset.result = '1';
    // Load them into the view: unprocessed, newest first.
    state.status = ['unprocessed'];
    state.from = '';
    state.to = '';
    state.sort = '-created_at';
    if (state.fetched.length) $('#process-mode').value = 'fetched';
    showTab('tickets');
    filtersChanged();
  } catch (e) { showError(e); }
}

/* ---- control panel: process --------------------------------------------------------------------------- */

async function doProcess() {
  const mode = $('#process-mode').value;
  let body;
  if (mode === 'selected' || mode === 'fetched') {
    const ids = mode === 'selected' ? [...state.selected] : state.fetched;
    if (!ids.length) {
      $('#process-state').textContent = mode === 'selected' ? 'Select tickets in the All tickets tab first.' : 'Fetch tickets first.';
      return;
    }
    body = { mode: 'ids', ids };
  } else if (mode === 'unprocessed') {
    body = { mode: 'unprocessed' };
  } else {
    const filter = {};
    for (const [k, v] of filterParams({ withStatus: false })) filter[k] = LIST_KEYS.includes(k) ? v.split(',') : v;
    body = { mode: 'reprocess', filter };
    const override = await confirmReprocess(body);
    if (override === null) return;
    body.override_corrections = override;
  }
  $('#process-go').disabled = true;
  $('#process-failures').innerHTML = '';
  $('#process-state').textContent = 'Sending classification requests…';
  try {
    const job = await api('POST', '/api/process', body);
    state.job = job.job_id;
    sessionStorage.setItem(JOB_STORE, job.job_id);
    if (mode === 'selected') { state.selected.clear(); }
    followJob(job.job_id);
  } catch (e) {
    $('#process-state').textContent = explain(e);
    $('#process-go').disabled = false;
  }
}

const plural = (n, one, many) => `${num(n)} ${n === 1 ? one : many}`;

/** Asks before a reprocess: how many tickets it sends, and whether the ones
 * a person corrected are relabelled too (never without this box ticked).
 * Resolves to override_corrections, or null when the user cancels. */
async function confirmReprocess(body) {
  $('#process-state').textContent = 'Counting the tickets…';
  let plan;
  try {
    plan = await api('POST', '/api/process', { ...body, dry_run: true });
  } catch (e) {
    $('#process-state').textContent = explain(e);
    return null;
  }
  $('#process-state').textContent = '';
  const dlg = $('#reprocess-dialog');
  const box = $('#reprocess-override');
  box.checked = false;
  $('#reprocess-override-row').hidden = plan.kept_corrected === 0;
  $('#reprocess-corrected').textContent = plural(plan.kept_corrected, 'ticket', 'tickets');
  const show = () => {
    const n = plan.would_request + (box.checked ? plan.kept_corrected : 0);
    const kept = box.checked || plan.kept_corrected === 0 ? ''
      : ` ${plural(plan.kept_corrected, 'ticket', 'tickets')} corrected by hand keep${plan.kept_corrected === 1 ? 's its' : ' their'} labels.`;
    $('#reprocess-count').textContent = `Classify ${plural(n, 'ticket', 'tickets')} again with the model.${kept}`;
    $('#reprocess-send').disabled = n === 0;
  };
  box.onchange = show;
  show();
  dlg.returnValue = '';
  dlg.showModal();
  await new Promise((resolve) => dlg.addEventListener('close', resolve, { once: true }));
  return dlg.returnValue === 'send' ? box.checked : null;
}

/* The job being followed, kept for this tab: a reload follows it again. */
const JOB_STORE = 'triage.job';

/** "Running · 40%", "Stalled", "Failed" or "Done", then the counts, what
 * was skipped (already processed: the classifier would not classify them)
 * and why it stalled or failed. */
function jobText(j, done) {
  const head = { done: 'Done', stalled: 'Stalled', failed: 'Failed' }[j.state] || `Running · ${done}%`;
  const skipped = j.skipped > 0 ? ` · ${num(j.skipped)} skipped (already processed)` : '';
  const unsent = j.state === 'failed' && j.publish_failed > 0 ? ` · ${num(j.publish_failed)} not sent` : '';
  const why = (j.state === 'stalled' || j.state === 'failed') && j.reason ? ` — ${j.reason}` : '';
  return `${head} · requested ${num(j.requested)} · classified ${num(j.classified)} · failed ${num(j.failed)}${skipped}${unsent}${why}`;
}

async function followJob(id) {
  const barEl = $('#process-bar');
  barEl.hidden = false;
  let ticks = 0;
  for (;;) {
    let j;
    try { j = await api('GET', `/api/process/${encodeURIComponent(id)}`); } catch (e) {
      sessionStorage.removeItem(JOB_STORE);
      $('#process-state').textContent = explain(e); break;
    }
    const total = Math.max(1, j.requested);
    $('#process-bar .ok').style.width = `${(j.classified / total) * 100}%`;
    $('#process-bar .bad').style.width = `${(j.failed / total) * 100}%`;
    barEl.setAttribute('aria-valuenow', String(j.state === 'done' ? 100 : Math.round(((j.classified + j.failed) / total) * 100)));
    const done = Math.round(((j.classified + j.failed) / total) * 100);
    $('#process-state').textContent = jobText(j, done);
    $('#process-state').dataset.state = j.state;
    $('#process-go').disabled = true;
    // Failed is final too: its requests could not all be sent (the page
    // says how many; Process again sends them).
    if (j.state === 'done' || j.state === 'failed' || j.requested === 0) {
      sessionStorage.removeItem(JOB_STORE);
      if (j.failed > 0) showFailures();
      break;
    }
    if (++ticks % 2 === 0) refreshView();
    await new Promise((r) => setTimeout(r, 1000));
  }
  $('#process-go').disabled = false;
  refreshView();
}

async function showFailures() {
  try {
    const page = await api('GET', '/api/tickets?status=failed&limit=20&sort=-created_at');
    $('#process-failures').innerHTML = page.items.map((t) => `<li><span class="mono">${esc(t.id)}</span> <span class="error-text">${esc(t.last_error || 'failed')}</span> <button class="btn ghost small" data-retry="${esc(t.id)}" type="button">Retry</button></li>`).join('');
  } catch (e) { showError(e); }
}

$('#process-failures').addEventListener('click', async (ev) => {
  const id = ev.target.dataset.retry;
  if (!id) return;
  try {
    const job = await api('POST', '/api/dlq/replay', { ids: [id] });
    ev.target.closest('li').remove();
    if (job && job.job_id) followJob(job.job_id);
  } catch (e) { showError(e); }
});

/* ---- export ------------------------------------------------------------------------------------------------- */

/** Downloads GET /api/tickets/export.csv for the current filters: on the
 * history tab the processed tickets, on the tickets tab every status
 * filtered. Fetched (the key goes in a header) and saved from a blob. */
async function exportCsv(which) {
  const p = listQuery(which).params;
  if (which === 'history') p.set('status', 'processed');
  const btn = $({ history: '#export-csv', tickets: '#export-tickets', review: '#export-review' }[which]);
  btn.disabled = true;
  try {
    const res = await fetch(`/api/tickets/export.csv?${p}`, { headers: getKey() ? { Authorization: `Bearer ${getKey()}` } : {} });
    if (!res.ok) {
      let msg = `HTTP ${res.status}`;
      try { msg = (await res.json()).error.message || msg; } catch (_) { /* not JSON */ }
      throw new ApiError(res.status, 'http', `Export failed: ${msg}`);
    }
    const blob = await res.blob();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${{ history: 'processed-tickets', tickets: 'tickets', review: 'review-queue' }[which]}-${localDay(new Date())}.csv`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (e) {
    showError(e);
  } finally {
    btn.disabled = false;
  }
}

/* ---- start ------------------------------------------------------------------------------------------------- */

let wired = false;
function wireOnce() {
  if (wired) return;
  wired = true;
  const tax = session.taxonomy;
  buildMultiSelect($('#f-status'), STATUS_LABELS);
  buildMultiSelect($('#f-priority'), tax.priority);
  buildMultiSelect($('#f-sentiment'), tax.sentiment);
  buildMultiSelect($('#f-topic'), tax.topic_tags);
  let qTimer = null;
  $('#f-q').addEventListener('input', (ev) => {
    clearTimeout(qTimer);
    qTimer = setTimeout(() => { state.q = ev.target.value.trim(); filtersChanged(); }, 250);
  });
  $('#f-from').addEventListener('change', (ev) => { state.from = ev.target.value; filtersChanged(); });
  $('#f-to').addEventListener('change', (ev) => { state.to = ev.target.value; filtersChanged(); });
  $('#sort').addEventListener('change', (ev) => { state.sort = ev.target.value; filtersChanged(); });
  $('#f-clear').addEventListener('click', () => {
    state.q = ''; state.from = ''; state.to = '';
    for (const k of LIST_KEYS) state[k] = [];
    filtersChanged();
  });
  const tabs = [...document.querySelectorAll('[role=tab]')];
  tabs.forEach((b, i) => {
    b.addEventListener('click', () => showTab(b.dataset.tab));
    b.addEventListener('keydown', (ev) => {
      const d = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
      if (d) showTab(tabs[(i + d + tabs.length) % tabs.length].dataset.tab, true);
    });
  });
  for (const w of ['tickets', 'history', 'review']) {
    wireTable(w);
    $(`#${w}-prev`).addEventListener('click', () => pageMove(w, -1));
    $(`#${w}-next`).addEventListener('click', () => pageMove(w, 1));
  }
  $('#select-all').addEventListener('change', (ev) => {
    for (const t of state.tickets.items) if (ev.target.checked) state.selected.add(t.id); else state.selected.delete(t.id);
    refreshList('tickets').catch(showError);
  });
  wireUpload();
  $('#fetch-go').addEventListener('click', doFetch);
  $('#process-go').addEventListener('click', doProcess);
  $('#export-csv').addEventListener('click', () => exportCsv('history'));
  $('#export-tickets').addEventListener('click', () => exportCsv('tickets'));
  $('#export-review').addEventListener('click', () => exportCsv('review'));
  $('#review-rule').addEventListener('change', (ev) => { state.reviewRule = ev.target.value; filtersChanged(); });
  for (const th of document.querySelectorAll('th[data-sort]')) {
    th.tabIndex = 0;
    th.title = 'Sort by this column';
    th.addEventListener('click', () => sortBy(th));
    th.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); sortBy(th); } });
  }
  $('#analytics-refresh').addEventListener('click', () => { state.analyticsSig = ''; refreshAnalytics(true).catch(showError); });
  initCharts();
  startPolling();
}

async function start() {
  applyRole();
  wireOnce();
  syncFilterInputs();
  showLastFetch();
  showTab(state.tab);
  await refreshing;
  const job = sessionStorage.getItem(JOB_STORE);
  if (job) followJob(job);
  window.__triage.ready = true;
}

async function boot() {
  readUrl();
  try {
    const ok = await loadSession();
    if (!ok || (session.auth && !session.role)) {
      if (ok && getKey()) setKey('');
      askKey(ok ? '' : 'The saved key was refused. Enter a valid API key.');
      return;
    }
    await start();
  } catch (e) {
    banner(`The API could not be reached: ${explain(e)}`, 'error', true);
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
