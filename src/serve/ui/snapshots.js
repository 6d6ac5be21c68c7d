// Snapshots: the filtered list with summaries, tags and forget; the forget-policy preview.
import { api, h, put, qs, bytes, num, duration, table, pageHead, card, snapLink, tags, timeCell, dialog, confirm, errorBox, withParams } from './util.js';

const FILTERS = ['host', 'tag', 'path'];

function inRange(s, from, to) {
  const t = Date.parse(s.time);
  if (from && t < Date.parse(`${from}T00:00:00`)) return false;
  if (to && t >= Date.parse(`${to}T00:00:00`) + 86400e3) return false;
  return true;
}

function splitTags(v) {
  return v.split(',').map((t) => t.trim()).filter(Boolean);
}

async function editTags(s, refresh) {
  const result = await dialog(`Tags of ${s.short_id}`, (d, close) => {
    const add = h('input', { name: 'add', placeholder: 'e.g. keep, before-upgrade' });
    const remove = h('input', { name: 'remove', placeholder: (s.tags || []).join(', ') || 'none yet' });
    const err = h('div');
    const form = h('form', { class: 'stack', onsubmit: async (ev) => {
      ev.preventDefault();
      const body = { add: splitTags(add.value), remove: splitTags(remove.value) };
      if (!body.add.length && !body.remove.length) return close(null);
      try {
        close(await api(`/api/snapshots/${encodeURIComponent(s.id)}/tags`, { method: 'POST', body }));
      } catch (e) {
        put(err, errorBox(e));
      }
    } },
    h('p', { class: 'muted' }, 'Current tags: ', (s.tags || []).length ? tags(s.tags) : 'none', '. Changing tags writes a new snapshot with a new id.'),
    h('label', {}, 'Add (comma separated)', add), h('label', {}, 'Remove (comma separated)', remove), err,
    h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => close(null) }, 'Cancel'), h('button', { class: 'primary' }, 'Save tags')));
    d.append(form);
  });
  if (result) refresh();
}

async function forgetOne(s, refresh, view) {
  const ok = await confirm(`Forget snapshot ${s.short_id}?`,
    `The snapshot of ${s.hostname}:${s.paths.join(', ')} from ${s.time} is removed from the list. Its data stays until arca prune runs.`, 'Forget');
  if (!ok) return;
  try {
    await api('/api/forget', { method: 'POST', body: { ids: [s.id], confirm: true } });
    refresh();
  } catch (e) {
    view.prepend(errorBox(e));
  }
}

export async function render(view, route, alive) {
  const p = route.params;
  const filter = Object.fromEntries(FILTERS.map((k) => [k, p.get(k) || '']));
  const [all, list] = await Promise.all([api('/api/snapshots'), api(`/api/snapshots${qs(filter)}`)]);
  if (!alive()) return;
  const from = p.get('from') || '', to = p.get('to') || '';
  const shown = list.filter((s) => inRange(s, from, to)).reverse();
  const hosts = [...new Set(all.map((s) => s.hostname))].sort();
  const allTags = [...new Set(all.flatMap((s) => s.tags || []))].sort();
  const refresh = () => window.dispatchEvent(new HashChangeEvent('hashchange'));
  const choice = (name, values, current) => h('select', { name }, h('option', { value: '' }, 'any'),
    values.map((v) => h('option', { value: v, selected: v === current }, v)));
  const form = h('form', { class: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    location.hash = withParams(route, Object.fromEntries(['host', 'tag', 'path', 'from', 'to'].map((k) => [k, f.get(k)])));
  } },
  h('label', {}, 'Host', choice('host', hosts, filter.host)),
  h('label', {}, 'Tag', choice('tag', allTags, filter.tag)),
  h('label', {}, 'Path', h('input', { name: 'path', value: filter.path, placeholder: '/home/me' })),
  h('label', {}, 'From', h('input', { name: 'from', type: 'date', value: from })),
  h('label', {}, 'To', h('input', { name: 'to', type: 'date', value: to })),
  h('button', { class: 'primary' }, 'Filter'),
  h('a', { class: 'button', href: '#/snapshots' }, 'Clear'));
  const rows = table([
    { label: 'ID', cell: snapLink },
    { label: 'Time', cls: 'nowrap', cell: (s) => timeCell(s.time) },
    { label: 'Host', cell: (s) => s.hostname },
    { label: 'Paths', cls: 'path', cell: (s) => s.paths.join(', ') },
    { label: 'Tags', cell: (s) => tags(s.tags) },
    { label: 'New', num: true, cell: (s) => (s.summary ? num(s.summary.files_new) : '–') },
    { label: 'Changed', num: true, cell: (s) => (s.summary ? num(s.summary.files_changed) : '–') },
    { label: 'Unchanged', num: true, cell: (s) => (s.summary ? num(s.summary.files_unmodified) : '–') },
    { label: 'Added', num: true, cell: (s) => (s.summary ? h('span', { title: `${bytes(s.summary.data_added)} before compression` }, bytes(s.summary.data_added_packed)) : '–') },
    { label: 'Size', num: true, cell: (s) => (s.summary ? bytes(s.summary.total_bytes_processed) : '–') },
    { label: 'Took', num: true, cell: (s) => duration(s.summary) },
    { label: '', cell: (s) => h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'small', onclick: () => editTags(s, refresh) }, 'Tags…'),
      h('button', { type: 'button', class: 'small danger', onclick: () => forgetOne(s, refresh, view) }, 'Forget…')) },
  ], shown, { empty: 'No snapshot matches.' });
  put(view, 
    pageHead('Snapshots', `${num(shown.length)} of ${num(all.length)} shown, newest first`, h('a', { class: 'button', href: '#/policy' }, 'Preview a forget policy…')),
    card(null, form), card(null, rows));
}

const KEEPS = [
  ['keep-last', 'Last', 'number'], ['keep-hourly', 'Hourly', 'number'], ['keep-daily', 'Daily', 'number'],
  ['keep-weekly', 'Weekly', 'number'], ['keep-monthly', 'Monthly', 'number'], ['keep-yearly', 'Yearly', 'number'],
  ['keep-within', 'Within', 'text', 'e.g. 30d'], ['keep-tag', 'Tag', 'text', 'keep'],
];
const SCOPE = [['group-by', 'Group by', 'host,paths'], ['host', 'Host', ''], ['tag', 'Tag', ''], ['path', 'Path', '']];

function groupName(g) {
  const parts = [];
  if (g.host) parts.push(`host ${g.host}`);
  if (g.paths) parts.push(`paths ${g.paths.join(', ')}`);
  if (g.tags && g.tags.length) parts.push(`tags ${g.tags.join(', ')}`);
  return parts.length ? parts.join(' · ') : 'all snapshots';
}

function decisions(groups) {
  return groups.map((g) => {
    const why = new Map((g.reasons || []).map((r) => [r.snapshot.id, r.matches]));
    const rows = [...g.keep.map((s) => ({ s, keep: true })), ...g.remove.map((s) => ({ s, keep: false }))]
      .sort((a, b) => Date.parse(b.s.time) - Date.parse(a.s.time));
    return card(`${groupName(g)}: keep ${g.keep.length}, remove ${g.remove.length}`, table([
      { label: '', cell: (r) => h('span', { class: `badge ${r.keep ? 'keep' : 'remove'}` }, r.keep ? 'keep' : 'remove') },
      { label: 'ID', cell: (r) => snapLink(r.s) },
      { label: 'Time', cls: 'nowrap', cell: (r) => timeCell(r.s.time) },
      { label: 'Tags', cell: (r) => tags(r.s.tags) },
      { label: 'Why', cell: (r) => (r.keep ? (why.get(r.s.id) || []).join(', ') : 'no rule keeps it') },
    ], rows));
  });
}

export async function policy(view, route, alive) {
  const p = route.params;
  const field = ([k, label, type, ph]) => h('label', {}, label, h('input', { name: k, type, min: type === 'number' ? 0 : null, value: p.get(k) || '', placeholder: ph || '' }));
  const form = h('form', { class: 'stack', onsubmit: (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    location.hash = withParams(route, Object.fromEntries([...KEEPS, ...SCOPE].map(([k]) => [k, f.get(k)])));
  } },
  h('div', { class: 'row' }, KEEPS.map(field)),
  h('div', { class: 'row' }, SCOPE.map(([k, l, ph]) => field([k, l, 'text', ph])), h('button', { class: 'primary' }, 'Preview')));
  const asked = [...KEEPS, ...SCOPE].filter(([k]) => p.get(k));
  const head = [pageHead('Forget policy', 'See which snapshots a policy keeps and why, before anything is removed (forget --dry-run).'), card(null, form)];
  if (!asked.some(([k]) => k.startsWith('keep'))) {
    put(view, ...head, h('p', { class: 'muted' }, 'Enter at least one keep rule and press Preview.'));
    return;
  }
  const params = Object.fromEntries(asked.map(([k]) => [k, p.get(k)]));
  const groups = await api(`/api/forget/preview${qs(params)}`);
  if (!alive()) return;
  const removed = groups.reduce((n, g) => n + g.remove.length, 0);
  const kept = groups.reduce((n, g) => n + g.keep.length, 0);
  const apply = h('button', { type: 'button', class: 'danger', disabled: removed === 0, onclick: async () => {
    const ok = await confirm(`Forget ${removed} snapshots?`, `The policy keeps ${kept} snapshots and removes ${removed}. Their data stays until arca prune runs.`, `Forget ${removed}`);
    if (!ok) return;
    try {
      const policyBody = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, /^keep-(last|hourly|daily|weekly|monthly|yearly)$/.test(k) ? Number(v) : v]));
      await api('/api/forget', { method: 'POST', body: { policy: policyBody, confirm: true } });
      location.hash = '#/snapshots';
    } catch (e) {
      view.prepend(errorBox(e));
    }
  } }, `Forget ${removed} snapshots…`);
  put(view, ...head,
    h('div', { class: 'notice', role: 'status' }, `Keeps ${kept}, removes ${removed} snapshots in ${groups.length} group${groups.length === 1 ? '' : 's'}. `, apply),
    decisions(groups));
}
