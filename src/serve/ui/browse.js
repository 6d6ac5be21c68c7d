// Browse a snapshot's tree (sorted, paged), get files and directories back, and a file's history.
import { api, h, put, qs, bytes, num, table, pageHead, card, timeCell, browseHref, dialog, errorBox, withParams, snapLink, when } from './util.js';

const PAGE = 200;
const KIND = { dir: '▸', file: '·', symlink: '↪' };

function join(dir, name) {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

function parent(path) {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function fileHref(id, path) {
  return `/api/snapshots/${encodeURIComponent(id)}/file${qs({ path })}`;
}

function crumbs(id, path) {
  const parts = path.split('/').filter(Boolean);
  const items = [h('li', {}, h('a', { href: browseHref(id, '/') }, 'root'))];
  parts.forEach((p, i) => {
    const to = `/${parts.slice(0, i + 1).join('/')}`;
    items.push(h('li', {}, i === parts.length - 1 ? h('span', { 'aria-current': 'location' }, p) : h('a', { href: browseHref(id, to) }, p)));
  });
  return h('ol', { class: 'crumbs', 'aria-label': 'path' }, items);
}

// Restore a file or directory of a snapshot on the server, into one of its restore roots.
export async function restoreDialog(snapshot, path) {
  const { roots } = await api('/api/restore/roots');
  const job = await dialog(`Restore ${path}`, (d, close) => {
    const err = h('div');
    if (!roots.length) {
      d.append(errorBox({ message: 'this server has no restore roots', hint: 'start arca serve with --restore-root DIR, or set serve.restore-roots in the profile' }),
        h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => close(null) }, 'Close')));
      return;
    }
    const root = h('select', { name: 'root' }, roots.map((r) => h('option', { value: r }, r)));
    const sub = h('input', { name: 'sub', placeholder: 'a directory under the root (optional)' });
    const overwrite = h('select', { name: 'overwrite' }, ['always', 'if-changed', 'if-newer', 'never'].map((o) => h('option', { value: o, selected: o === 'always' }, o)));
    const del = h('input', { type: 'checkbox', name: 'delete' });
    const dry = h('input', { type: 'checkbox', name: 'dry_run' });
    const form = h('form', { class: 'stack', onsubmit: async (ev) => {
      ev.preventDefault();
      const target = sub.value.trim() ? `${root.value.replace(/\/$/, '')}/${sub.value.trim().replace(/^\/+/, '')}` : root.value;
      try {
        close(await api('/api/restore', { method: 'POST', body: { snapshot, path, target, overwrite: overwrite.value, delete: del.checked, dry_run: dry.checked } }));
      } catch (e) {
        put(err, errorBox(e));
      }
    } },
    h('p', { class: 'muted' }, `From snapshot ${String(snapshot).slice(0, 8)}, on the server's file system.`),
    h('label', {}, 'Restore root', root), h('label', {}, 'Into', sub), h('label', {}, 'Overwrite existing files', overwrite),
    h('label', { class: 'inline' }, del, 'Delete files in the target that the snapshot does not have'),
    h('label', { class: 'inline' }, dry, 'Dry run: only report what would change'), err,
    h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => close(null) }, 'Cancel'), h('button', { class: 'primary' }, 'Restore')));
    d.append(form);
  });
  if (job && job.job) location.hash = `#/jobs/${encodeURIComponent(job.job)}`;
}

export async function render(view, route, alive) {
  const id = route.parts[1] || 'latest';
  const p = route.params;
  const path = p.get('path') || '/';
  const sort = p.get('sort') || 'name';
  const reverse = p.get('reverse') === '1';
  const offset = Math.max(0, Number(p.get('offset')) || 0);
  const page = await api(`/api/snapshots/${encodeURIComponent(id)}/tree${qs({ path, offset, limit: PAGE, sort, reverse: reverse ? 'true' : '' })}`);
  if (!alive()) return;
  const s = page.snapshot;
  const onsort = (key) => { location.hash = withParams(route, { sort: key === 'name' ? '' : key, reverse: key === sort && !reverse ? '1' : '', offset: '' }); };
  const rows = table([
    { label: 'Name', sort: 'name', cell: (n) => h('span', { class: 'entry' }, h('span', { class: 'kind', 'aria-hidden': 'true' }, KIND[n.type] || '?'),
      n.type === 'dir' ? h('a', { href: browseHref(s.id, join(path, n.name)) }, `${n.name}/`)
        : n.type === 'file' ? h('a', { href: fileHref(s.id, join(path, n.name)), download: n.name, 'data-file': n.name }, n.name)
          : h('span', {}, n.name, n.link_target ? h('span', { class: 'muted' }, ` → ${n.link_target}`) : null)) },
    { label: 'Size', num: true, sort: 'size', cell: (n) => (n.type === 'dir' ? '' : h('span', { title: `${num(n.size)} bytes` }, bytes(n.size))) },
    { label: 'Mode', cls: 'mono hide-narrow', cell: (n) => n.permissions },
    { label: 'Owner', cls: 'hide-narrow', cell: (n) => `${n.user || n.uid}:${n.group || n.gid}` },
    { label: 'Modified', sort: 'mtime', cls: 'nowrap', cell: (n) => timeCell(n.mtime) },
    { label: '', cell: (n) => h('div', { class: 'actions' },
      n.type === 'file' ? h('a', { class: 'button small', href: `#/history${qs({ path: join(path, n.name), host: s.hostname })}`, 'data-history': n.name }, 'History') : null,
      n.type === 'dir' ? h('a', { class: 'button small', href: archiveHref(s.id, join(path, n.name), 'tar') }, 'tar') : null,
      h('button', { type: 'button', class: 'small', onclick: () => restoreDialog(s.id, join(path, n.name)).catch((e) => view.prepend(errorBox(e))) }, 'Restore…')) },
  ], page.nodes, { empty: 'This directory is empty.', sorted: { key: sort, reverse, onsort } });
  const last = Math.min(page.total, offset + page.nodes.length);
  const pager = page.total > PAGE ? h('nav', { class: 'pager', 'aria-label': 'pages' },
    h('span', { class: 'muted' }, `${num(offset + 1)}–${num(last)} of ${num(page.total)}`),
    h('div', { class: 'actions' },
      pageLink('« First', withParams(route, { offset: 0 }), offset > 0, null),
      pageLink('‹ Previous', withParams(route, { offset: Math.max(0, offset - PAGE) || '' }), offset > 0, 'prev'),
      pageLink('Next ›', withParams(route, { offset: offset + PAGE }), last < page.total, 'next'),
      pageLink('Last »', withParams(route, { offset: Math.floor((page.total - 1) / PAGE) * PAGE }), last < page.total, null))) : null;
  put(view, 
    pageHead(`Snapshot ${s.short_id}`, `${s.hostname} · ${when(s.time)} · ${s.paths.join(', ')}`,
      h('a', { class: 'button', href: archiveHref(s.id, path, 'tar'), download: '' }, 'Download .tar'),
      h('a', { class: 'button', href: archiveHref(s.id, path, 'zip'), download: '' }, 'Download .zip'),
      h('button', { type: 'button', class: 'primary', onclick: () => restoreDialog(s.id, path).catch((e) => view.prepend(errorBox(e))) }, 'Restore here…')),
    crumbs(s.id, path),
    card(null, h('p', { class: 'muted' }, `${num(page.total)} entries`), rows, pager));
}

function archiveHref(id, path, format) {
  return `/api/snapshots/${encodeURIComponent(id)}/archive${qs({ path, format })}`;
}

export async function history(view, route, alive) {
  const path = route.params.get('path') || '';
  const host = route.params.get('host') || '';
  const form = h('form', { class: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    location.hash = withParams(route, { path: f.get('path'), host: f.get('host') });
  } },
  h('label', {}, 'Path', h('input', { name: 'path', value: path, size: 50, placeholder: '/home/me/notes.txt', required: true })),
  h('label', {}, 'Host', h('input', { name: 'host', value: host })),
  h('button', { class: 'primary' }, 'Show history'));
  const head = pageHead('History', 'Every version of one path across the snapshots.');
  if (!path) {
    put(view, head, card(null, form));
    return;
  }
  const [hist, snaps] = await Promise.all([api(`/api/history${qs({ path, host })}`), api('/api/snapshots')]);
  if (!alive()) return;
  const byId = new Map(snaps.map((s) => [s.id, s]));
  const rows = table([
    { label: 'Version', num: true, cell: (v) => String(hist.versions.indexOf(v) + 1) },
    { label: 'Type', cell: (v) => v.type },
    { label: 'Size', num: true, cell: (v) => h('span', { title: `${num(v.size)} bytes` }, bytes(v.size)) },
    { label: 'Modified', cls: 'nowrap', cell: (v) => timeCell(v.mtime) },
    { label: 'First seen', cls: 'nowrap', cell: (v) => timeCell(v.first_seen) },
    { label: 'Last seen', cls: 'nowrap', cell: (v) => timeCell(v.last_seen) },
    { label: 'Snapshots', cell: (v) => h('span', {}, v.snapshots.map((id) => byId.get(id) ? [snapLink(byId.get(id)), ' '] : null)) },
    { label: '', cell: (v) => (v.type === 'file' && v.snapshots.length ? h('div', { class: 'actions' },
      h('a', { class: 'button small', href: fileHref(v.snapshots[0], path), download: '' }, 'Download'),
      h('a', { class: 'button small', href: browseHref(v.snapshots[0], parent(path)) }, 'Folder')) : '') },
  ], [...hist.versions].reverse(), { empty: `${path} is in none of the ${num(hist.snapshots_searched)} snapshots searched.` });
  put(view, head, card(null, form),
    card(`${path}: ${hist.versions.length} version${hist.versions.length === 1 ? '' : 's'} in ${num(hist.snapshots_searched)} snapshots`, rows));
}

// A pager button: a link where it leads somewhere, else an inert, announced-as-disabled label
// (not a link, so neither a click nor Enter moves).
function pageLink(label, href, enabled, rel) {
  return enabled
    ? h('a', { class: 'button', href, rel }, label)
    : h('span', { class: 'button', 'aria-disabled': 'true' }, label);
}
