// The dashboard: what the repository holds, how fresh each source's backups are, and how it grew.
import { api, h, put, bytes, num, ratio, span, age, when, card, table, pageHead, snapLink, timeCell } from './util.js';
import { growth, calendar } from './charts.js';

function stat(label, value, sub, cls) {
  return h('div', { class: `card stat ${cls || ''}` }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), sub ? h('div', { class: 'sub' }, sub) : null);
}

function lastCheck(c) {
  if (!c) return stat('Last check', 'never', 'run arca check to verify the repository');
  const badge = c.ok ? h('span', { class: 'badge ok' }, 'passed') : h('span', { class: 'badge bad' }, `${num(c.errors)} errors`);
  return stat('Last check', badge, h('span', { title: c.summary || '' }, `${age(c.time)}${c.read_data ? `, read data ${c.read_data}` : ''}`));
}

export async function render(view, route, alive) {
  const d = await api(`/api/dashboard${route.params.get('stale_after') ? `?stale_after=${encodeURIComponent(route.params.get('stale_after'))}` : ''}`);
  if (!alive()) return;
  const r = d.repository;
  document.getElementById('repo-name').textContent = r.location;
  const stale = d.sources.filter((s) => s.stale).length;
  const sources = table([
    { label: 'Host', cell: (s) => s.host },
    { label: 'Paths', cls: 'path', cell: (s) => s.paths.join(', ') },
    { label: 'Snapshots', num: true, cell: (s) => num(s.snapshots) },
    { label: 'Newest', cell: (s) => h('span', {}, snapLink(s.newest), ' ', timeCell(s.newest.time)) },
    { label: 'Age', num: true, cell: (s) => h('span', {}, s.stale ? h('span', { class: 'badge stale', title: `older than ${span(d.stale_after_seconds)}` }, 'stale') : null, ' ', span(s.age_seconds)) },
    { label: '', cell: (s) => h('a', { href: `#/snapshots?host=${encodeURIComponent(s.host)}` }, 'all') },
  ], d.sources, { empty: 'No snapshots yet: run arca backup.' });
  put(view, 
    pageHead('Dashboard', `${r.location} · format v${r.version} · id ${String(r.id).slice(0, 8)}`),
    h('div', { class: 'cards' },
      stat('Stored', bytes(r.stored_bytes), `${num(r.packs)} packs, ${num(r.blobs)} blobs`),
      stat('Deduplication', ratio(r.dedup_ratio), `${bytes(r.raw_bytes)} unique data`),
      stat('Compression', ratio(r.compression_ratio), `latest of each source: ${bytes(r.logical_bytes)}`),
      stat('Snapshots', num(r.snapshots), `${num(d.sources.length)} sources${stale ? `, ${stale} stale` : ''}`, stale ? 'warn' : ''),
      lastCheck(d.last_check)),
    card(`Sources${stale ? ` · ${stale} stale` : ''}`, sources,
      h('p', { class: 'hint' }, `A source is stale when its newest snapshot is older than ${span(d.stale_after_seconds)}.`)),
    card('Growth', growth(d.series)),
    card('Snapshots by day', calendar(d.calendar)),
    d.series.length ? h('p', { class: 'muted' }, `First snapshot ${when(d.series[0].time)}, newest ${age(d.series[d.series.length - 1].time)}.`) : null,
  );
}
