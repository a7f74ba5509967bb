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
  make('ch-confidence', {
    type: 'bar',
    data: {
      labels: [],
      datasets: [
        { label: 'Topic', data: [], backgroundColor: '#4f46e5', barPercentage: 0.9, categoryPercentage: 0.85 },
        { label: 'Sentiment', data: [], backgroundColor: '#0ea5e9', barPercentage: 0.9, categoryPercentage: 0.85 },
        { label: 'Priority', data: [], backgroundColor: '#f59e0b', barPercentage: 0.9, categoryPercentage: 0.85 },
      ],
    },
    options: baseOptions({ plugins: { legend: { display: true, position: 'top', align: 'end', labels: { boxWidth: 10 } } } }),
  });
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

/** Label/count pairs from a {label: n} distribution, the taxonomy's labels
 * first in its order (with 0 for a label nobody has), then any other label. */
export function pairsOf(dist, order) {
  const pairs = Object.entries(dist || {});
  if (order && order.length) {
    const known = order.map((l) => [l, (pairs.find((p) => p[0] === l) || [l, 0])[1]]);
    const rest = pairs.filter((p) => !order.includes(p[0])).sort((a, b) => b[1] - a[1]);
    return known.concat(rest);
  }
  return pairs.sort((a, b) => b[1] - a[1]);
}

function msLabel(ms) {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

/** The processing-time histogram's {le, count} buckets (the last le null). */
function timeBins(h) {
  const buckets = (h && h.buckets) || [];
  return buckets.map((b, i) => {
    const prev = i > 0 ? buckets[i - 1].le : null;
    const label = b.le === null ? `> ${msLabel(prev)}` : `≤ ${msLabel(b.le)}`;
    return [label, b.count];
  });
}

/** created_per_day and processed_per_day ([{date, count}]) merged by date,
 * every day from the first to the last (0 where a series has no entry). */
export function dailyOf(a) {
  const days = new Map();
  const put = (arr, key) => {
    for (const r of arr || []) {
      if (!days.has(r.date)) days.set(r.date, { created: 0, processed: 0 });
      days.get(r.date)[key] += r.count;
    }
  };
  put(a.created_per_day, 'created');
  put(a.processed_per_day, 'processed');
  const sorted = [...days.keys()].sort();
  if (sorted.length > 1 && sorted.length < 3660) {
    // The two series may cover different ranges: fill the gaps between them.
    const end = Date.parse(`${sorted[sorted.length - 1]}T00:00:00Z`);
    for (let t = Date.parse(`${sorted[0]}T00:00:00Z`); t <= end; t += 86400000) {
      const d = new Date(t).toISOString().slice(0, 10);
      if (!days.has(d)) days.set(d, { created: 0, processed: 0 });
    }
  }
  return [...days.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1));
}

function sentimentColor(l, i) {
  return SENTIMENT_COLORS[String(l).toLowerCase()] || PALETTE[i % PALETTE.length];
}

function shortDay(d) {
  const t = new Date(`${d}T00:00:00Z`);
  return isNaN(t) ? d : t.toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
}

/** Draws a GET /api/analytics answer; returns the per-day series. */
export function drawAnalytics(a, tax) {
  setBars('ch-priority', pairsOf(a.priority_distribution, tax.priority), (l, i) => PRIORITY_COLORS[i % PRIORITY_COLORS.length]);
  setBars('ch-sentiment', pairsOf(a.sentiment_distribution, tax.sentiment), sentimentColor);
  setBars('ch-topic', pairsOf(a.topic_distribution));
  const daily = dailyOf(a);
  const ch = charts['ch-daily'];
  if (ch) {
    ch.data.labels = daily.map((d) => shortDay(d[0]));
    ch.$days = daily.map((d) => d[0]);
    ch.data.datasets[0].data = daily.map((d) => d[1].created);
    ch.data.datasets[1].data = daily.map((d) => d[1].processed);
    ch.update('none');
  }
  setBars('ch-time', timeBins(a.processing_time_ms));
  const cc = charts['ch-confidence'];
  if (cc) {
    const conf = a.confidence || {};
    const ref = (conf.topic && conf.topic.buckets) || [];
    cc.data.labels = ref.map((b) => `${b.from.toFixed(1)}–${b.to.toFixed(1)}`);
    ['topic', 'sentiment', 'priority'].forEach((f, i) => {
      cc.data.datasets[i].data = ((conf[f] && conf[f].buckets) || []).map((b) => b.count);
    });
    cc.update('none');
  }
  return daily;
}

/** For tests and debugging: the data each chart shows. */
export function chartData() {
  const out = {};
  for (const [id, ch] of Object.entries(charts)) {
    out[id] = { labels: (ch.$days || ch.data.labels).slice(), data: ch.data.datasets.map((d) => d.data.slice()) };
  }
  return out;
}
