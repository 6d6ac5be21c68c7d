// Pictures of the dashboard, drawn as SVG from the API's JSON (colours come from the style
// sheet's classes, so dark mode applies).
import { svg, h, bytes, num } from './util.js';

function ticks(max, n) {
  if (max <= 0) return [0];
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = 0; v <= max + step / 2; v += step) out.push(v);
  return out;
}

function byteTicks(max, n) {
  if (max <= 0) return [0];
  let unit = 1;
  while (max / unit >= 1024) unit *= 1024;
  return ticks(max / unit, n).map((t) => t * unit);
}

function day(t) {
  const d = new Date(t);
  const p = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

// Stored size (area) and snapshot count (dashed step line) over time.
export function growth(series) {
  if (!series.length) return h('p', { class: 'empty' }, 'No snapshots yet.');
  const W = 1000, H = 250, L = 70, R = 52, T = 14, B = 30;
  const times = series.map((p) => Date.parse(p.time));
  let t0 = Math.min(...times), t1 = Math.max(...times);
  if (t1 === t0) { t0 -= 3600e3; t1 += 3600e3; }
  const maxBytes = Math.max(1, ...series.map((p) => p.stored_bytes));
  const maxSnaps = Math.max(1, ...series.map((p) => p.snapshots));
  const yb = byteTicks(maxBytes, 4), ys = ticks(maxSnaps, 4);
  const topB = yb[yb.length - 1] || 1, topS = ys[ys.length - 1] || 1;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y1 = (v) => T + (1 - v / topB) * (H - T - B);
  const y2 = (v) => T + (1 - v / topS) * (H - T - B);
  const pts = series.map((p, i) => [x(times[i]), y1(p.stored_bytes)]);
  const line = pts.map(([a, b], i) => `${i ? 'L' : 'M'}${a.toFixed(1)},${b.toFixed(1)}`).join('');
  const area = `${line}L${pts[pts.length - 1][0].toFixed(1)},${y1(0)}L${pts[0][0].toFixed(1)},${y1(0)}Z`;
  let step = '';
  series.forEach((p, i) => {
    const px = x(times[i]).toFixed(1), py = y2(p.snapshots).toFixed(1);
    step += i ? `H${px}V${py}` : `M${px},${py}`;
  });
  const grid = yb.map((v) => [
    svg('line', { class: 'axis', x1: L, x2: W - R, y1: y1(v), y2: y1(v) }),
    svg('text', { x: L - 8, y: y1(v) + 4, 'text-anchor': 'end' }, bytes(v)),
  ]);
  const right = ys.map((v) => svg('text', { x: W - R + 8, y: y2(v) + 4 }, num(v)));
  const xl = [t0, (t0 + t1) / 2, t1].map((t, i) => svg('text', { x: x(t), y: H - 8, 'text-anchor': ['start', 'middle', 'end'][i] }, day(t)));
  const dots = pts.length <= 60 ? pts.map(([a, b], i) => svg('circle', { cx: a, cy: b, r: 2.5, class: 'line' },
    svg('title', {}, `${day(times[i])}: ${bytes(series[i].stored_bytes)} stored, ${series[i].snapshots} snapshots`))) : [];
  const picture = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `stored size grew to ${bytes(series[series.length - 1].stored_bytes)} over ${series.length} snapshots` },
    grid, right, xl,
    svg('path', { class: 'area', d: area }), svg('path', { class: 'line', d: line }), svg('path', { class: 'line-2', d: step }), dots);
  return h('div', { class: 'chart' }, picture,
    h('div', { class: 'legend' }, h('span', {}, h('span', { class: 'swatch' }), 'stored data (left)'), h('span', {}, h('span', { class: 'swatch two' }), 'snapshots (right)')));
}

// A year of days, one square each, darker for more snapshots.
export function calendar(days) {
  const counts = new Map(days.map((d) => [d.date, d.snapshots]));
  const max = Math.max(0, ...days.map((d) => d.snapshots));
  const level = (n) => (!n ? 0 : max <= 1 ? 4 : Math.min(4, 1 + Math.floor(((n - 1) / max) * 4)));
  const C = 12, G = 3, L = 28, T = 18;
  const today = new Date();
  today.setHours(12, 0, 0, 0);
  const start = new Date(today);
  start.setDate(start.getDate() - 7 * 52 - ((today.getDay() + 6) % 7));
  const cells = [], months = [];
  let lastMonth = -1;
  for (let d = new Date(start), i = 0; d <= today; d.setDate(d.getDate() + 1), i++) {
    const col = Math.floor(i / 7), row = (d.getDay() + 6) % 7;
    const key = day(d.getTime());
    const n = counts.get(key) || 0;
    if (row === 0 && d.getMonth() !== lastMonth) {
      lastMonth = d.getMonth();
      months.push(svg('text', { x: L + col * (C + G), y: 11 }, d.toLocaleString('en-US', { month: 'short' })));
    }
    cells.push(svg('rect', { x: L + col * (C + G), y: T + row * (C + G), width: C, height: C, rx: 2.5, class: `c${level(n)}` },
      svg('title', {}, `${key}: ${n} snapshot${n === 1 ? '' : 's'}`)));
  }
  const cols = Math.ceil(cells.length / 7);
  const W = L + cols * (C + G) + 16, H = T + 7 * (C + G);
  const wd = ['Mon', 'Wed', 'Fri'].map((name, i) => svg('text', { x: 0, y: T + (i * 2) * (C + G) + 10 }, name));
  const total = days.reduce((a, d) => a + d.snapshots, 0);
  return h('div', { class: 'calendar' },
    svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${total} snapshots on ${days.length} days` }, months, wd, cells),
    h('div', { class: 'legend' }, h('span', {}, `${num(total)} snapshots on ${num(days.length)} days`)));
}
