// app.js - the dashboard: state in the URL, data from triage-api, live by
// polling. No framework: each view renders into its own element and only
// when its data changed, so a refresh never flickers or loses scroll.
import { api, has, can, session, getKey, setKey, loadSession, uploadFile, ApiError } from './api.js';
import { initCharts, drawAnalytics, drawFromStats, drawFromTickets, chartData } from './charts.js';

const $ = (sel, root = document) => root.querySelector(sel);
const POLL_MS = 5000;
const PAGE = 50;
const LAST_FETCH = 'triage.lastFetch';
const STATUS_LABELS = ['processed', 'unprocessed', 'failed'];

const state = {
  tab: 'overview',
  q: '', status: [], priority: [], sentiment: [], topic: [], from: '', to: '',
  sort: '-created_at',
  tickets: { cursors: [null], page: 0, items: [], next: null, sig: '' },
  history: { cursors: [null], page: 0, items: [], next: null, sig: '' },
  selected: new Set(),
  fetched: [],
  stats: null, statsSig: '', analyticsSig: '',
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
  return isNaN(d) ? esc(iso) : d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
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
  state.tab = ['overview', 'tickets', 'history'].includes(p.get('tab')) ? p.get('tab') : 'overview';
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
  if (state.from) p.set('created_from', `${state.from}T00:00:00Z`);
  if (state.to) {
    const d = new Date(`${state.to}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + 1);
    p.set('created_to', d.toISOString().replace('.000', ''));
  }
  return p;
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
  state.tickets = { cursors: [null], page: 0, items: [], next: null, sig: state.tickets.sig };
  state.history = { cursors: [null], page: 0, items: [], next: null, sig: state.history.sig };
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

/* ---- statistics ------------------------------------------------------------------- */

function trend(el, today, yesterday, label) {
  if (today === undefined || yesterday === undefined) { el.textContent = ''; return; }
  const d = today - yesterday;
  el.className = `stat-trend ${d > 0 ? 'up' : d < 0 ? 'down' : 'flat'}`;
  el.textContent = `${d > 0 ? '▲' : d < 0 ? '▼' : '■'} ${d >= 0 ? '+' : ''}${nf.format(d)} ${label}`;
}

async function refreshStats() {
  const s = await api('GET', '/api/processing-stats');
  const sig = JSON.stringify(s);
  if (sig === state.statsSig) return s;
  state.statsSig = sig;
  state.stats = s;
  $('#stat-total').textContent = num(s.total);
  $('#stat-processed').textContent = num(s.processed);
  $('#stat-unprocessed').textContent = num(s.unprocessed);
  $('#stat-today').textContent = num(s.processed_today);
  const share = s.total ? s.processed / s.total : 0;
  $('#stat-pct').textContent = s.total ? `${(share * 100).toFixed(1)}%` : '';
  $('#stat-bar span').style.width = `${share * 100}%`;
  $('#stat-bar').setAttribute('aria-valuenow', String(Math.round(share * 100)));
  const avg = s.average_processing_time_ms;
  $('#stat-foot').textContent = [
    s.total ? `${(share * 100).toFixed(1)}% processed · ${((1 - share) * 100).toFixed(1)}% waiting` : 'No tickets yet',
    s.failed ? `${num(s.failed)} failed` : null,
    avg !== null && avg !== undefined ? `avg ${Math.round(avg)} ms per ticket` : null,
  ].filter(Boolean).join(' · ');
  return s;
}

/** Trends against the previous day, from the analytics per-day series. */
function drawTrends(daily) {
  const today = new Date().toISOString().slice(0, 10);
  const y = new Date(Date.now() - 86400000).toISOString().slice(0, 10);
  const m = new Map(daily);
  const t = m.get(today) || { created: 0, processed: 0 };
  const p = m.get(y) || { created: 0, processed: 0 };
  trend($('#trend-total'), t.created, p.created, 'created vs yesterday');
  trend($('#trend-processed'), t.processed, p.processed, 'vs yesterday');
  trend($('#trend-today'), t.processed, p.processed, 'vs yesterday');
  trend($('#trend-unprocessed'), t.created - t.processed, p.created - p.processed, 'net vs yesterday');
}

/* ---- analytics ---------------------------------------------------------------------- */

async function refreshAnalytics(force) {
  if (!window.Chart) { $('#analytics-note').textContent = 'The chart library did not load; charts are unavailable.'; return; }
  if (has('GET /api/analytics')) {
    const params = filterParams();
    if (force && has('POST /api/analytics/refresh')) await api('POST', '/api/analytics/refresh');
    const a = await api('GET', `/api/analytics?${params}`);
    const sig = JSON.stringify(a);
    if (sig !== state.analyticsSig) {
      state.analyticsSig = sig;
      drawTrends(drawAnalytics(a, session.taxonomy));
    }
    $('#analytics-note').textContent = params.toString() ? 'Charts follow the current filters.' : 'All tickets.';
  } else {
    // Degraded: overall distributions from the statistics, per-day and
    // histograms from the latest 1,000 tickets matching the filters.
    if (state.stats) drawFromStats(state.stats, session.taxonomy);
    const page = await api('GET', `/api/tickets?${filterParams()}&limit=1000`);
    const sig = JSON.stringify(page.items.map((t) => [t.id, t.updated_at]));
    if (sig !== state.analyticsSig) {
      state.analyticsSig = sig;
      drawFromTickets(page.items);
    }
    $('#analytics-note').textContent = 'This server has no /api/analytics yet: label charts show all tickets; the per-day and histogram charts use the latest 1,000 tickets matching the filters.';
  }
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
    <td>${labelsCell(t)}${corrected}</td>
    <td class="nowrap">${when(pm.processed_at)}</td>
    <td class="mono small-text">${esc(pm.model_version || '–')}</td>
    <td class="mono small-text">${esc(pm.agent_version || '–')}</td>
    <td class="num">${pm.processing_time_ms !== undefined ? `${num(pm.processing_time_ms)} ms` : '–'}</td>
    <td class="num">${pct(cs.topic)}</td><td class="num">${pct(cs.sentiment)}</td><td class="num">${pct(cs.priority)}</td></tr>`;
}

async function refreshList(which) {
  const v = state[which];
  const params = filterParams({ withStatus: which === 'tickets' });
  params.set('limit', String(PAGE));
  params.set('sort', which === 'history' ? (state.sort.includes('processed') ? state.sort : '-processed_at') : state.sort);
  const cur = v.cursors[v.page];
  if (cur) params.set('cursor', cur);
  const path = which === 'tickets' ? '/api/tickets' : '/api/processed-tickets';
  const page = await api('GET', `${path}?${params}`);
  v.items = page.items;
  v.next = page.next_cursor;
  const sig = JSON.stringify([page.items, v.page, [...state.selected]]);
  const table = $(`#${which}-table tbody`);
  if (sig !== v.sig) {
    v.sig = sig;
    const cols = which === 'tickets' ? 8 : 10;
    table.innerHTML = page.items.length
      ? page.items.map(which === 'tickets' ? ticketRow : historyRow).join('')
      : `<tr class="empty"><td colspan="${cols}">No tickets match these filters.</td></tr>`;
  }
  const first = v.page * PAGE + (page.items.length ? 1 : 0);
  $(`#${which}-page`).textContent = page.items.length ? `Rows ${first}–${v.page * PAGE + page.items.length}` : '';
  $(`#${which}-prev`).disabled = v.page === 0;
  $(`#${which}-next`).disabled = !v.next;
  const summary = which === 'tickets'
    ? `${state.selected.size ? `${state.selected.size} selected · ` : ''}${page.items.length}${v.next ? '+' : ''} on this page`
    : `${page.items.length}${v.next ? '+' : ''} processed tickets on this page`;
  $(`#${which}-summary`).textContent = summary;
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
async function refreshView() {
  const run = async () => {
    const jobs = [refreshStats().then(() => (state.tab === 'overview' ? refreshAnalytics(false) : null))];
    if (state.tab === 'tickets') jobs.push(refreshList('tickets'));
    if (state.tab === 'history') jobs.push(refreshList('history'));
    await Promise.all(jobs);
  };
  const p = (refreshing || Promise.resolve()).catch(() => {}).then(run);
  refreshing = p;
  try {
    await p;
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

/* ---- ticket detail ------------------------------------------------------------------------------- */

async function openDetail(id) {
  let t;
  try {
    t = await api('GET', `/api/tickets/${encodeURIComponent(id)}`);
  } catch (e) { showError(e); return; }
  const c = t.classification || {};
  const cs = t.confidence_scores || {};
  const pm = t.processing_metadata || {};
  const bar = (x) => `<span class="conf"><span style="width:${Math.round((x || 0) * 100)}%"></span></span> ${pct(x)}`;
  const tax = session.taxonomy;
  const opts = (list, cur) => list.map((l) => `<option${l === cur ? ' selected' : ''}>${esc(l)}</option>`).join('');
  const correction = can('admin') && t.processed ? `
    <form id="correct-form" class="correct">
      <h3>Correct the classification</h3>
      <div class="grid2">
        <label class="field">Priority <select name="priority">${opts(tax.priority, c.priority)}</select></label>
        <label class="field">Sentiment <select name="sentiment">${opts(tax.sentiment, c.sentiment)}</select></label>
      </div>
      <fieldset class="topics"><legend>Topics</legend>${tax.topic_tags.map((l) => `<label><input type="checkbox" name="topic" value="${esc(l)}"${(c.topic_tags || []).includes(l) ? ' checked' : ''}> ${esc(l)}</label>`).join('')}</fieldset>
      <label class="field">Note <input name="note" maxlength="500" placeholder="why (optional)"></label>
      <div class="row"><button class="btn primary" type="submit">Save correction</button><span id="correct-state" class="muted small-text" role="status"></span></div>
    </form>` : '';
  $('#detail-body').innerHTML = `
    <div class="detail-head"><span class="mono muted">${esc(t.id)}</span> ${badge(statusOf(t))}</div>
    <h2 id="detail-title">${esc(t.subject)}</h2>
    <pre class="body">${esc(t.body)}</pre>
    <div class="grid2">
      <section><h3>Classification</h3>${t.processed ? `
        <dl class="kv">
          <dt>Priority</dt><dd><span class="${prioClass(c.priority)}">${esc(c.priority)}</span> ${bar(cs.priority)}</dd>
          <dt>Sentiment</dt><dd>${esc(c.sentiment)} ${bar(cs.sentiment)}</dd>
          <dt>Topics</dt><dd>${(c.topic_tags || []).map((x) => `<span class="tag">${esc(x)}</span>`).join(' ')} ${bar(cs.topic)}</dd>
        </dl>` : '<p class="muted">Not classified yet.</p>'}</section>
      <section><h3>Processing</h3><dl class="kv">
        <dt>Created</dt><dd>${when(t.created_at)}</dd>
        <dt>Processed</dt><dd>${when(pm.processed_at)}</dd>
        <dt>Model</dt><dd class="mono">${esc(pm.model_version || '–')}</dd>
        <dt>Agent</dt><dd class="mono">${esc(pm.agent_version || '–')}</dd>
        <dt>Time</dt><dd>${pm.processing_time_ms !== undefined ? `${num(pm.processing_time_ms)} ms` : '–'}</dd>
        <dt>Attempts</dt><dd>${num(t.processing_attempts || 0)}</dd>
        <dt>Last error</dt><dd class="${t.last_error ? 'error-text' : ''}">${esc(t.last_error || '–')}</dd>
        ${pm.corrected_by ? `<dt>Corrected</dt><dd>by ${esc(pm.corrected_by)}, ${when(pm.corrected_at)}</dd>` : ''}
        <dt>Source</dt><dd>${esc(t.source || '–')}</dd>
      </dl></section>
    </div>${correction}`;
  const form = $('#correct-form');
  if (form) {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const fd = new FormData(form);
      const body = {
        classification: { topic_tags: fd.getAll('topic'), sentiment: fd.get('sentiment'), priority: fd.get('priority') },
      };
      if (fd.get('note')) body.note = fd.get('note');
      if (!body.classification.topic_tags.length) { $('#correct-state').textContent = 'Pick at least one topic.'; return; }
      try {
        await api('PUT', `/api/processed-tickets/${encodeURIComponent(t.id)}`, body);
        $('#correct-state').textContent = 'Saved as a manual correction.';
        state.statsSig = ''; state.analyticsSig = '';
        refreshView();
        setTimeout(() => { if ($('#detail').open) openDetail(t.id); }, 600);
      } catch (e) {
        $('#correct-state').textContent = explain(e);
      }
    });
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
    openDetail(tr.dataset.id);
  });
  tbody.addEventListener('keydown', (ev) => {
    const tr = ev.target.closest('tr[data-id]');
    if (!tr || ev.target !== tr) return;
    if (ev.key === 'Enter') openDetail(tr.dataset.id);
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

function renderPreview(r) {
  const rows = r.results || [];
  const shown = rows.filter((x) => x.status !== 'valid' && x.status !== 'stored').slice(0, 50);
  const willStore = r.dry_run ? r.valid - (r.duplicates || 0) : r.stored;
  $('#preview').innerHTML = `
    <div class="pills">
      <span class="pill ok">${num(willStore)} ${r.dry_run ? 'to store' : 'stored'}</span>
      <span class="pill warn">${num(r.duplicates || 0)} duplicate${r.duplicates === 1 ? '' : 's'}</span>
      <span class="pill bad">${num(r.rejected || 0)} rejected</span>
      <span class="muted small-text">${num(r.total)} rows · ${esc(r.format || '')}</span>
    </div>
    ${shown.length ? `<table class="grid mini"><thead><tr><th>Line</th><th>ID</th><th>Outcome</th><th>Reason</th></tr></thead><tbody>${
      shown.map((x) => `<tr><td>${x.line ?? '–'}</td><td class="mono">${esc(x.id || '–')}</td><td>${badge(x.status === 'rejected' ? 'failed' : 'unprocessed').replace(/>[a-z]+</, `>${esc(x.status)}<`)}</td><td>${esc(x.error || x.reason || '')}${x.field ? ` <span class="muted">(${esc(x.field)})</span>` : ''}</td></tr>`).join('')
    }</tbody></table>` : ''}`;
  $('#preview').hidden = false;
}

async function sendUpload(dry) {
  const path = `/api/tickets/upload${dry ? '?dry_run=true' : ''}`;
  $('#upload-bar').hidden = false;
  $('#upload-bar span').style.width = '0%';
  $('#upload-state').textContent = `${dry ? 'Checking' : 'Storing'} ${pendingFile.name}…`;
  try {
    const r = await uploadFile(path, pendingFile, contentTypeOf(pendingFile), (f) => { $('#upload-bar span').style.width = `${f * 100}%`; });
    $('#upload-bar span').style.width = '100%';
    renderPreview(r);
    $('#upload-actions').hidden = !dry;
    $('#upload-state').textContent = dry ? 'Preview of what would happen; nothing is stored yet.' : `Done: ${num(r.stored)} stored.`;
    if (!dry) { pendingFile = null; state.statsSig = ''; refreshView(); }
  } catch (e) {
    $('#upload-state').textContent = explain(e);
    $('#upload-actions').hidden = true;
  } finally {
    setTimeout(() => { $('#upload-bar').hidden = true; }, 800);
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

function lastFetch() { return localStorage.getItem(LAST_FETCH); }

function showLastFetch() {
  const lf = lastFetch();
  if (!$('#fetch-state').dataset.result) $('#fetch-state').textContent = lf ? `Last fetch: ${when(lf)}` : 'No fetch yet in this browser.';
}

async function doFetch() {
  const mode = $('#fetch-mode').value;
  const now = new Date();
  let from = null;
  if (mode === 'last_24h') from = new Date(now - 86400000);
  if (mode === 'last_7d') from = new Date(now - 7 * 86400000);
  if (mode === 'since_last_fetch' && lastFetch()) from = new Date(lastFetch());
  const p = new URLSearchParams({ status: 'unprocessed', limit: '1000', sort: '-created_at' });
  if (from) p.set('created_from', from.toISOString().replace(/\.\d{3}Z$/, 'Z'));
  try {
    const page = await api('GET', `/api/tickets?${p}`);
    state.fetched = page.items.map((t) => t.id);
    localStorage.setItem(LAST_FETCH, now.toISOString());
    const msg = `Found ${num(page.items.length)}${page.next_cursor ? '+' : ''} unprocessed ticket${page.items.length === 1 ? '' : 's'}${from ? ` created since ${when(from.toISOString())}` : ''}.`;
    $('#fetch-state').textContent = msg;
    $('#fetch-state').dataset.result = '1';
    // Load them into the view: unprocessed, newest first, from that date.
    state.status = ['unprocessed'];
    state.from = from ? from.toISOString().slice(0, 10) : '';
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
    for (const [k, v] of filterParams({ withStatus: false })) filter[k] = v.includes(',') ? v.split(',') : v;
    body = { mode: 'reprocess', filter };
  }
  $('#process-go').disabled = true;
  $('#process-failures').innerHTML = '';
  $('#process-state').textContent = 'Sending classification requests…';
  try {
    const job = await api('POST', '/api/process', body);
    state.job = job.job_id;
    if (mode === 'selected') { state.selected.clear(); }
    followJob(job.job_id);
  } catch (e) {
    $('#process-state').textContent = explain(e);
    $('#process-go').disabled = false;
  }
}

async function followJob(id) {
  const barEl = $('#process-bar');
  barEl.hidden = false;
  for (;;) {
    let j;
    try { j = await api('GET', `/api/process/${encodeURIComponent(id)}`); } catch (e) {
      $('#process-state').textContent = explain(e); break;
    }
    const total = Math.max(1, j.requested);
    $('#process-bar .ok').style.width = `${(j.classified / total) * 100}%`;
    $('#process-bar .bad').style.width = `${(j.failed / total) * 100}%`;
    barEl.setAttribute('aria-valuenow', String(Math.round(((j.classified + j.failed) / total) * 100)));
    $('#process-state').textContent = `${j.state === 'done' ? 'Done' : 'Running'} · requested ${num(j.requested)} · classified ${num(j.classified)} · failed ${num(j.failed)}`;
    $('#process-state').dataset.state = j.state;
    if (j.state === 'done' || j.requested === 0) {
      if (j.failed > 0) showFailures();
      break;
    }
    refreshStats().catch(() => {});
    await new Promise((r) => setTimeout(r, 1000));
  }
  $('#process-go').disabled = false;
  state.statsSig = ''; state.analyticsSig = '';
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

async function exportCsv() {
  if (!has('GET /api/tickets/export.csv')) {
    banner('CSV export is not available on this server yet (no GET /api/tickets/export.csv).', 'info');
    return;
  }
  const p = filterParams({ withStatus: false });
  p.set('status', 'processed');
  try {
    const res = await fetch(`/api/tickets/export.csv?${p}`, { headers: getKey() ? { Authorization: `Bearer ${getKey()}` } : {} });
    if (!res.ok) throw new ApiError(res.status, 'http', `export failed: HTTP ${res.status}`);
    const blob = await res.blob();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `processed-tickets-${new Date().toISOString().slice(0, 10)}.csv`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  } catch (e) { showError(e); }
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
  for (const w of ['tickets', 'history']) {
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
  $('#export-csv').addEventListener('click', exportCsv);
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
