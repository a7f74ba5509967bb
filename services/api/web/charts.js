// charts.js - the analytics charts, drawn by Chart.js (vendored from npm).
// Each chart is made once and then updated in place, so a live refresh
// never flickers or re-animates.

const PALETTE = ['#4f46e5', '#0ea5e9', '#10b981', '#f59e0b', '#ef4444', '#8b5cf6', '#14b8a6', '#f97316', '#64748b', '#ec4899'];
const PRIORITY_COLORS = ['#dc2626', '#f59e0b', '#10b981', '#64748b'];
const SENTIMENT_COLORS = { frustrated: '#ef4444', angry: '#b91c1c', negative: '#f97316', neutral: '#64748b', curious: '#0ea5e9', positive: '#10b981' };

const charts = {};

function available() {
  return typeof window.Chart === 'function';
}

function baseOptions(extra) {
  return Object.assign({
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    plugins: { legend: { display: false }, tooltip: { intersect: false } },
    scales: {
      x: { grid: { display: false }, ticks: { color: '#475569' } },
      y: { beginAtZero: true, grid: { color: '#eef2f7' }, ticks: { precision: 0, color: '#475569' } },
    },
  }, extra || {});
}

function make(id, config) {
  const el = document.getElementById(id);
  if (!el) return null;
  charts[id] = new window.Chart(el, config);
  return charts[id];
}

export function initCharts() {
  if (!available()) return false;
  window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  window.Chart.defaults.font.size = 12;
  make('ch-priority', { type: 'bar', data: { labels: [], datasets: [{ label: 'Tickets', data: [], borderRadius: 6 }] }, options: baseOptions() });
  make('ch-sentiment', { type: 'bar', data: { labels: [], datasets: [{ label: 'Tickets', data: [], borderRadius: 6 }] }, options: baseOptions() });
  make('ch-topic', {
    type: 'bar',
    data: { labels: [], datasets: [{ label: 'Tickets', data: [], backgroundColor: '#4f46e5', borderRadius: 4 }] },
    options: baseOptions({
      indexAxis: 'y',
      scales: {
        x: { beginAtZero: true, grid: { color: '#eef2f7' }, ticks: { precision: 0, color: '#475569' } },
        y: { grid: { display: false }, ticks: { color: '#334155', autoSkip: false } },
      },
    }),
  });
  make('ch-daily', {
    type: 'line',
    data: {
      labels: [],
      datasets: [
        { label: 'Created', data: [], borderColor: '#4f46e5', backgroundColor: 'rgba(79,70,229,.12)', fill: true, tension: 0.3, pointRadius: 2 },
        { label: 'Processed', data: [], borderColor: '#10b981', backgroundColor: 'rgba(16,185,129,.10)', fill: true, tension: 0.3, pointRadius: 2 },
      ],
    },
    options: baseOptions({ plugins: { legend: { display: true, position: 'top', align: 'end', labels: { boxWidth: 12 } } } }),
  });
  make('ch-time', { type: 'bar', data: { labels: [], datasets: [{ label: 'Tickets', data: [], backgroundColor: '#0ea5e9', barPercentage: 1, categoryPercentage: 0.95 }] }, options: baseOptions() });
  make('ch-confidence', { type: 'bar', data: { labels: [], datasets: [{ label: 'Tickets', data: [], backgroundColor: '#8b5cf6', barPercentage: 1, categoryPercentage: 0.95 }] }, options: baseOptions() });
  return true;
}

function setBars(id, pairs, colors) {
  const ch = charts[id];
  if (!ch) return;
  ch.data.labels = pairs.map((p) => p[0]);
  ch.data.datasets[0].data = pairs.map((p) => p[1]);
  if (colors) ch.data.datasets[0].backgroundColor = pairs.map((p, i) => colors(p[0], i));
  ch.update('none');
}

/** Label/count pairs from {label: n} or [{label|key|value, count}]. */
export function pairsOf(dist, order) {
  if (!dist) return [];
  let pairs;
  if (Array.isArray(dist)) {
    pairs = dist.map((d) => [d.label ?? d.key ?? d._id ?? d.value ?? d.name, d.count ?? d.n ?? 0]);
  } else {
    pairs = Object.entries(dist);
  }
  if (order && order.length) {
    const known = order.map((l) => [l, (pairs.find((p) => p[0] === l) || [l, 0])[1]]);
    const rest = pairs.filter((p) => !order.includes(p[0]));
    return known.concat(rest);
  }
  return pairs.sort((a, b) => b[1] - a[1]);
}

/** Histogram bins: [{from,to,count}] / [{le,count}] / [{bucket,count}] / {label: n}. */
function binsOf(h, unit) {
  if (!h) return [];
  if (Array.isArray(h)) {
    return h.map((b) => {
      let label = b.label ?? b.bucket;
      if (label === undefined && b.from !== undefined) label = `${fmt(b.from)}–${b.to === null || b.to === undefined ? '∞' : fmt(b.to)}${unit}`;
      if (label === undefined && b.le !== undefined) label = `≤ ${fmt(b.le)}${unit}`;
      return [String(label), b.count ?? 0];
    });
  }
  return Object.entries(h);
}

function fmt(x) {
  return typeof x === 'number' && !Number.isInteger(x) ? x.toFixed(2) : String(x);
}

/** Per-day series: [{date, created, processed}] or {created:[{date,count}], processed:[...]} */
function dailyOf(a) {
  const days = new Map();
  const put = (date, key, n) => {
    if (!date) return;
    const d = String(date).slice(0, 10);
    if (!days.has(d)) days.set(d, { created: 0, processed: 0 });
    days.get(d)[key] += n || 0;
  };
  const series = a.per_day ?? a.daily ?? a.time_series ?? a.trend;
  if (Array.isArray(series)) {
    for (const r of series) {
      put(r.date ?? r.day, 'created', r.created);
      put(r.date ?? r.day, 'processed', r.processed);
    }
  } else {
    const c = a.created_per_day ?? series?.created ?? [];
    const p = a.processed_per_day ?? series?.processed ?? [];
    for (const [k, arr] of [['created', c], ['processed', p]]) {
      if (Array.isArray(arr)) for (const r of arr) put(r.date ?? r.day ?? r._id, k, r.count ?? r.n);
      else for (const [d, n] of Object.entries(arr || {})) put(d, k, n);
    }
  }
  return [...days.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1));
}

function sentimentColor(l, i) {
  return SENTIMENT_COLORS[String(l).toLowerCase()] || PALETTE[i % PALETTE.length];
}

/** Draws from a GET /api/analytics answer; returns the per-day series. */
export function drawAnalytics(a, tax) {
  const dist = a.distributions || a;
  setBars('ch-priority', pairsOf(dist.priority ?? dist.priority_distribution, tax.priority), (l, i) => PRIORITY_COLORS[i % PRIORITY_COLORS.length]);
  setBars('ch-sentiment', pairsOf(dist.sentiment ?? dist.sentiment_distribution, tax.sentiment), sentimentColor);
  setBars('ch-topic', pairsOf(dist.topic_tags ?? dist.topic ?? dist.topics ?? dist.topic_distribution));
  const daily = dailyOf(a);
  const ch = charts['ch-daily'];
  if (ch) {
    ch.data.labels = daily.map((d) => d[0]);
    ch.data.datasets[0].data = daily.map((d) => d[1].created);
    ch.data.datasets[1].data = daily.map((d) => d[1].processed);
    ch.update('none');
  }
  const hist = a.histograms || a;
  setBars('ch-time', binsOf(hist.processing_time_ms ?? hist.processing_time ?? a.processing_time_histogram, ' ms'));
  const conf = hist.confidence ?? a.confidence_histogram;
  setBars('ch-confidence', binsOf(Array.isArray(conf) || !conf || !conf.topic ? conf : conf.topic, ''));
  return daily;
}

/** Fallback without /api/analytics: the distributions of /api/processing-stats. */
export function drawFromStats(s, tax) {
  setBars('ch-priority', pairsOf(s.priority_distribution, tax.priority), (l, i) => PRIORITY_COLORS[i % PRIORITY_COLORS.length]);
  setBars('ch-sentiment', pairsOf(s.sentiment_distribution, tax.sentiment), sentimentColor);
  setBars('ch-topic', pairsOf(s.topic_distribution));
}

/** Tallies a page of tickets locally (used only when analytics is missing). */
export function drawFromTickets(items) {
  const day = new Map();
  const timeBins = [[0, 100], [100, 250], [250, 500], [500, 1000], [1000, 2000], [2000, Infinity]];
  const tb = timeBins.map(() => 0);
  const cb = Array(10).fill(0);
  for (const t of items) {
    const c = (t.created_at || '').slice(0, 10);
    if (c) { if (!day.has(c)) day.set(c, [0, 0]); day.get(c)[0]++; }
    const pm = t.processing_metadata;
    if (pm && pm.processed_at) {
      const p = pm.processed_at.slice(0, 10);
      if (!day.has(p)) day.set(p, [0, 0]);
      day.get(p)[1]++;
      const ms = pm.processing_time_ms || 0;
      tb[timeBins.findIndex((b) => ms >= b[0] && ms < b[1])]++;
    }
    const cs = t.confidence_scores;
    if (cs && t.processed) {
      const m = Math.min(cs.topic, cs.sentiment, cs.priority);
      cb[Math.min(9, Math.floor(m * 10))]++;
    }
  }
  const days = [...day.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1));
  const ch = charts['ch-daily'];
  if (ch) {
    ch.data.labels = days.map((d) => d[0]);
    ch.data.datasets[0].data = days.map((d) => d[1][0]);
    ch.data.datasets[1].data = days.map((d) => d[1][1]);
    ch.update('none');
  }
  setBars('ch-time', timeBins.map((b, i) => [b[1] === Infinity ? `≥ ${b[0]} ms` : `${b[0]}–${b[1]} ms`, tb[i]]));
  setBars('ch-confidence', cb.map((n, i) => [`${(i / 10).toFixed(1)}–${((i + 1) / 10).toFixed(1)}`, n]));
}

/** For tests and debugging: the data each chart shows. */
export function chartData() {
  const out = {};
  for (const [id, ch] of Object.entries(charts)) {
    out[id] = { labels: ch.data.labels.slice(), data: ch.data.datasets.map((d) => d.data.slice()) };
  }
  return out;
}
