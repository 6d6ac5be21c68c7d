// Shared by every page: the API client, DOM building (never from HTML strings: names from a
// backup are text, always), formatting and the dialogs.

export const session = { user: null, csrf: null };

export class ApiError extends Error {
  constructor(kind, message, hint, status) {
    super(message);
    this.kind = kind;
    this.hint = hint || null;
    this.status = status;
  }
}

// Call the JSON API. A changing request carries the session's CSRF token; an error answer
// becomes an ApiError with the server's message and hint; 401 goes back to the login page.
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = session.csrf || '';
  const r = await fetch(path, init);
  if (r.status === 401) {
    location.assign('/login');
    throw new ApiError('unauthorized', 'the session has ended', 'log in again', 401);
  }
  const text = await r.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!r.ok) {
    const e = (data && data.error) || { kind: 'http', message: `${r.status} ${r.statusText}` };
    throw new ApiError(e.kind, e.message, e.hint, r.status);
  }
  return data;
}

// A query string of the non-empty values.
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '' && v !== false) u.set(k, String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

// An element: h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child, [more]).
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS('http://www.w3.org/2000/svg', tag), attrs, children);
}

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

// Replace an element's children (arrays flattened, null and false skipped).
export function put(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
export function bytes(n) {
  if (n === null || n === undefined) return '–';
  let v = Number(n);
  let u = 0;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${UNITS[u]}`;
}

export function num(n) {
  return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US');
}

export function ratio(x) {
  return x === null || x === undefined || !isFinite(x) ? '–' : `${Number(x).toFixed(2)}×`;
}

// "3 min", "5 h", "2 days" for a number of seconds.
export function span(seconds) {
  const s = Math.max(0, Math.round(Number(seconds)));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400 * 2) return `${Math.round(s / 360) / 10} h`;
  if (s < 86400 * 60) return `${Math.round(s / 86400)} days`;
  if (s < 86400 * 730) return `${Math.round(s / (86400 * 30.4))} months`;
  return `${Math.round(s / (86400 * 365.25))} years`;
}

export function age(iso) {
  const t = Date.parse(iso);
  return isNaN(t) ? '–' : `${span((Date.now() - t) / 1000)} ago`;
}

// A timestamp as the reader's local date and time, to the minute.
export function when(iso) {
  const t = new Date(iso);
  if (isNaN(t)) return iso || '–';
  const p = (n) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())} ${p(t.getHours())}:${p(t.getMinutes())}`;
}

export function timeCell(iso) {
  return h('time', { datetime: iso, title: iso }, when(iso));
}

export function duration(summary) {
  if (!summary) return '–';
  const a = Date.parse(summary.backup_start);
  const b = Date.parse(summary.backup_end);
  return isNaN(a) || isNaN(b) ? '–' : span((b - a) / 1000);
}

export function errorBox(e) {
  const kind = e && e.kind ? h('span', { class: 'muted' }, ` (${e.kind})`) : null;
  return h('div', { class: 'alert', role: 'alert' },
    h('strong', {}, (e && e.message) || String(e)), kind,
    e && e.hint ? h('p', { class: 'hint' }, e.hint) : null);
}

export function pageHead(title, sub, ...actions) {
  return h('div', { class: 'page-head' },
    h('div', {}, h('h1', {}, title), sub ? h('p', { class: 'muted' }, sub) : null),
    actions.length ? h('div', { class: 'actions' }, actions) : null);
}

export function card(title, ...body) {
  return h('section', { class: 'card' }, title ? h('h2', {}, title) : null, body);
}

// A table: columns are {label, num?, cls?, cell(row) -> node|string, sort?} ; `sorted` is
// {key, reverse, onsort(key)} for header buttons that sort.
export function table(columns, rows, { empty = 'Nothing here.', sorted = null, caption = null } = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  const head = columns.map((c) => {
    const cls = c.num ? 'num' : null;
    if (sorted && c.sort) {
      const active = sorted.key === c.sort;
      return h('th', { class: cls, scope: 'col', 'aria-sort': active ? (sorted.reverse ? 'descending' : 'ascending') : 'none' },
        h('button', { type: 'button', class: 'sort', onclick: () => sorted.onsort(c.sort) }, c.label));
    }
    return h('th', { class: cls, scope: 'col' }, c.label);
  });
  const body = rows.map((r) => h('tr', {}, columns.map((c) => h('td', { class: [c.num ? 'num' : null, c.cls].filter(Boolean).join(' ') || null }, c.cell(r)))));
  return h('div', { class: 'table-wrap' },
    h('table', {}, caption ? h('caption', { class: 'muted' }, caption) : null, h('thead', {}, h('tr', {}, head)), h('tbody', {}, body)));
}

export function snapLink(s) {
  return h('a', { href: `#/browse/${encodeURIComponent(s.id)}${qs({ path: '/' })}`, class: 'mono', title: s.id }, s.short_id || String(s.id).slice(0, 8));
}

export function browseHref(id, path, extra = {}) {
  return `#/browse/${encodeURIComponent(id)}${qs({ path, ...extra })}`;
}

export function tags(list) {
  return (list || []).map((t) => h('span', { class: 'chip' }, t));
}

// The modal dialog: `fill(dialog, close)` adds the body; resolves with what `close` is given
// (Escape resolves null). Focus goes to the first field and comes back after.
export function dialog(title, fill) {
  const d = document.getElementById('dialog');
  const before = document.activeElement;
  return new Promise((resolve) => {
    let done = false;
    const close = (value) => {
      if (done) return;
      done = true;
      d.close();
      if (before && before.focus) before.focus();
      resolve(value);
    };
    d.replaceChildren(h('h2', { id: 'dialog-title' }, title));
    fill(d, close);
    d.addEventListener('cancel', (ev) => { ev.preventDefault(); close(null); }, { once: true });
    d.showModal();
    const first = d.querySelector('input, select, button.primary, button.danger');
    if (first) first.focus();
  });
}

// Ask before doing something that cannot be undone.
export function confirm(title, message, label, danger = true) {
  return dialog(title, (d, close) => {
    d.append(h('p', {}, message),
      h('div', { class: 'buttons' },
        h('button', { type: 'button', onclick: () => close(false) }, 'Cancel'),
        h('button', { type: 'button', class: danger ? 'danger solid' : 'primary', 'data-confirm': '', onclick: () => close(true) }, label)));
  });
}

// Route parameters as an object, and a hash with some of them changed.
export function withParams(route, changes) {
  const p = new URLSearchParams(route.query);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === null || v === '' || v === false) p.delete(k);
    else p.set(k, String(v));
  }
  const s = p.toString();
  return `#/${route.parts.join('/')}${s ? `?${s}` : ''}`;
}
