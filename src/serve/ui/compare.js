// Diff two snapshots; find files by name across snapshots.
import { api, h, put, qs, bytes, num, table, pageHead, card, timeCell, browseHref, withParams, snapLink, when } from './util.js';

const MOD = { '+': ['added', 'mod-add'], '-': ['removed', 'mod-del'], M: ['modified', 'mod-mod'], T: ['type changed', 'mod-mod'], U: ['metadata', 'mod-mod'] };

function snapChoice(name, snaps, current) {
  return h('select', { name, required: true }, h('option', { value: '' }, 'pick a snapshot'),
    [...snaps].reverse().map((s) => h('option', { value: s.id, selected: s.id === current || s.short_id === current }, `${s.short_id}  ${when(s.time)}  ${s.hostname}:${s.paths.join(',')}`)));
}

function stats(st) {
  if (!st || typeof st !== 'object') return null;
  const items = [];
  for (const [k, v] of Object.entries(st)) {
    if (v && typeof v === 'object') {
      for (const [k2, v2] of Object.entries(v)) if (typeof v2 === 'number') items.push([`${k} ${k2}`, k2.includes('bytes') ? bytes(v2) : num(v2)]);
    } else if (typeof v === 'number') items.push([k.replace(/_/g, ' '), k.includes('bytes') ? bytes(v) : num(v)]);
  }
  return h('dl', { class: 'report' }, items.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export async function diff(view, route, alive) {
  const p = route.params;
  const snaps = await api('/api/snapshots');
  if (!alive()) return;
  const from = p.get('from') || (snaps.length > 1 ? snaps[snaps.length - 2].id : '');
  const to = p.get('to') || (snaps.length ? snaps[snaps.length - 1].id : '');
  const form = h('form', { class: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    location.hash = withParams(route, { from: f.get('from'), to: f.get('to'), path: f.get('path') });
  } },
  h('label', {}, 'From', snapChoice('from', snaps, from)), h('label', {}, 'To', snapChoice('to', snaps, to)),
  h('label', {}, 'Under path', h('input', { name: 'path', value: p.get('path') || '', placeholder: '/' })),
  h('button', { class: 'primary' }, 'Compare'));
  const head = [pageHead('Diff', 'What changed between two snapshots.'), card(null, form)];
  if (!p.get('from') || !p.get('to')) {
    put(view, ...head, h('p', { class: 'muted' }, 'Pick two snapshots and press Compare.'));
    return;
  }
  const d = await api(`/api/diff${qs({ from: p.get('from'), to: p.get('to'), path: p.get('path') })}`);
  if (!alive()) return;
  const rows = table([
    { label: '', cell: (c) => { const [word, cls] = MOD[c.modifier] || [c.modifier, '']; return h('span', { class: `mod ${cls}`, title: word }, c.modifier); } },
    { label: 'Path', cls: 'path', cell: (c) => (c.modifier === '-' ? c.path : h('a', { href: browseHref(d.to.id, c.path.replace(/\/$/, '').replace(/\/[^/]*$/, '') || '/') }, c.path)) },
  ], d.changes, { empty: 'No differences.' });
  put(view, ...head,
    card(`${snapLinkText(d.from)} → ${snapLinkText(d.to)}: ${num(d.changes.length)} changes${d.truncated ? ' (first ones only)' : ''}`,
      h('p', {}, snapLink(d.from), ' → ', snapLink(d.to)), stats(d.stats), rows));
}

function snapLinkText(s) {
  return s.short_id || String(s.id).slice(0, 8);
}

export async function find(view, route, alive) {
  const p = route.params;
  const pattern = p.get('pattern') || '';
  const form = h('form', { class: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    location.hash = withParams(route, { pattern: f.get('pattern'), host: f.get('host'), path: f.get('path') });
  } },
  h('label', {}, 'Name (glob)', h('input', { name: 'pattern', value: pattern, placeholder: '*.pdf', required: true, size: 30 })),
  h('label', {}, 'Host', h('input', { name: 'host', value: p.get('host') || '' })),
  h('label', {}, 'Path', h('input', { name: 'path', value: p.get('path') || '' })),
  h('button', { class: 'primary' }, 'Find'));
  const head = [pageHead('Find', 'Search file names across all snapshots.'), card(null, form)];
  if (!pattern) {
    put(view, ...head);
    return;
  }
  const results = await api(`/api/find${qs({ pattern, host: p.get('host'), path: p.get('path'), limit: 1000 })}`);
  if (!alive()) return;
  const hits = results.filter((r) => r.matches && r.matches.length);
  const total = hits.reduce((n, r) => n + r.hits, 0);
  put(view, ...head,
    h('p', { class: 'muted', role: 'status' }, `${num(total)} matches in ${num(hits.length)} snapshots`),
    hits.length ? hits.map((r) => card(null, h('h3', {}, 'Snapshot ', h('a', { href: browseHref(r.snapshot, '/'), class: 'mono' }, String(r.snapshot).slice(0, 8))),
      table([
        { label: 'Path', cls: 'path', cell: (m) => h('a', { href: browseHref(r.snapshot, m.type === 'dir' ? m.path : m.path.replace(/\/[^/]*$/, '') || '/') }, m.path) },
        { label: 'Type', cell: (m) => m.type },
        { label: 'Size', num: true, cell: (m) => (m.type === 'dir' ? '' : bytes(m.size)) },
        { label: 'Modified', cls: 'nowrap', cell: (m) => timeCell(m.mtime) },
        { label: '', cell: (m) => (m.type === 'file' ? h('a', { class: 'button small', href: `#/history${qs({ path: m.path })}` }, 'History') : '') },
      ], r.matches))) : h('p', { class: 'empty' }, 'Nothing found.'));
}
