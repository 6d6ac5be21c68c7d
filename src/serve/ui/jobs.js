// Jobs: restores and backups the server runs, with live progress (server-sent events) and
// their final report; run a backup of a profile the server was started with.
import { api, h, put, bytes, num, span, table, pageHead, card, timeCell, errorBox } from './util.js';

function badge(state) {
  const cls = { running: 'warn', done: 'ok', failed: 'bad' }[state] || '';
  return h('span', { class: `badge ${cls}` }, state);
}

function value(k, v) {
  if (typeof v === 'number') return /bytes|size|added/.test(k) ? bytes(v) : /seconds|duration/.test(k) ? span(v) : num(v);
  if (Array.isArray(v)) return v.length ? v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ') : 'none';
  if (v && typeof v === 'object') return Object.entries(v).map(([a, b]) => `${a.replace(/_/g, ' ')}: ${value(a, b)}`).join(' · ');
  return v === null || v === undefined ? '–' : String(v);
}

// A report (the CLI's --json summary) as a list of labelled values.
function report(r) {
  return h('dl', { class: 'report', 'data-report': '' }, Object.entries(r).map(([k, v]) => [h('dt', {}, k.replace(/_/g, ' ')), h('dd', {}, value(k, v))]));
}

function progress(p) {
  if (!p) return h('p', { class: 'muted' }, 'Starting…');
  const pct = typeof p.percent_done === 'number' ? p.percent_done : null;
  const parts = [];
  if (p.files_done !== undefined) parts.push(`${num(p.files_done)}${p.total_files ? ` of ${num(p.total_files)}` : ''} files`);
  if (p.bytes_done !== undefined) parts.push(`${bytes(p.bytes_done)}${p.total_bytes ? ` of ${bytes(p.total_bytes)}` : ''}`);
  if (p.seconds_elapsed !== undefined) parts.push(`${span(p.seconds_elapsed)} elapsed`);
  return h('div', { class: 'stack' },
    h('progress', { max: 1, value: pct === null ? null : pct, 'aria-label': 'progress' }),
    h('p', { class: 'muted' }, pct === null ? '' : `${(pct * 100).toFixed(1)} % · `, parts.join(' · ')),
    p.current_files && p.current_files.length ? h('p', { class: 'mono muted' }, p.current_files[0]) : null);
}

function jobBody(job) {
  return [
    h('p', {}, badge(job.state), ' ', `${job.kind} started `, timeCell(job.started), job.finished ? [' · finished ', timeCell(job.finished)] : null),
    job.state === 'running' ? progress(job.progress) : null,
    job.error ? errorBox(job.error) : null,
    job.report ? card('Report', report(job.report)) : null,
  ];
}

async function detail(view, id, alive) {
  const job = await api(`/api/jobs/${encodeURIComponent(id)}`);
  if (!alive()) return;
  const body = h('div', { 'data-job-state': job.state }, jobBody(job));
  put(view, pageHead(`Job ${id}`, null, h('a', { class: 'button', href: '#/jobs' }, 'All jobs')), card(null, body));
  if (job.state !== 'running') return;
  const events = new EventSource(`/api/jobs/${encodeURIComponent(id)}/events`);
  const update = (j) => {
    body.setAttribute('data-job-state', j.state);
    put(body, ...jobBody(j));
  };
  let last = job;
  events.addEventListener('progress', (ev) => {
    if (!alive()) return events.close();
    last = { ...last, progress: JSON.parse(ev.data) };
    update(last);
  });
  for (const end of ['done', 'failed']) {
    events.addEventListener(end, (ev) => {
      events.close();
      if (alive()) update(JSON.parse(ev.data));
    });
  }
  events.onerror = () => {
    // the stream ended without a final event (the server stopped): show what the job says now
    events.close();
    if (alive()) api(`/api/jobs/${encodeURIComponent(id)}`).then(update, (e) => body.append(errorBox(e)));
  };
}

export async function render(view, route, alive) {
  if (route.parts[1]) return detail(view, route.parts[1], alive);
  const [jobs, profiles] = await Promise.all([api('/api/jobs'), api('/api/backup/profiles')]);
  if (!alive()) return;
  const run = async (name, button) => {
    button.disabled = true;
    try {
      const r = await api('/api/backup', { method: 'POST', body: { profile: name } });
      location.hash = `#/jobs/${encodeURIComponent(r.job)}`;
    } catch (e) {
      button.disabled = false;
      view.prepend(errorBox(e));
    }
  };
  const profileList = profiles.profiles.length
    ? table([
      { label: 'Profile', cell: (p) => p.name },
      { label: 'Paths', cls: 'path', cell: (p) => (p.paths || []).join(', ') },
      { label: '', cell: (p) => { const b = h('button', { type: 'button', class: 'primary small', onclick: () => run(p.name, b) }, 'Run backup'); return b; } },
    ], profiles.profiles)
    : h('p', { class: 'muted' }, 'No profile can be run from here: start arca serve with -P PROFILE to offer one.');
  put(view, 
    pageHead('Jobs', 'Restores and backups run by this server.'),
    card('Run a backup', profileList),
    card('Recent jobs', table([
      { label: 'Job', cell: (j) => h('a', { href: `#/jobs/${encodeURIComponent(j.id)}`, class: 'mono' }, j.id) },
      { label: 'Kind', cell: (j) => j.kind },
      { label: 'State', cell: (j) => badge(j.state) },
      { label: 'Started', cls: 'nowrap', cell: (j) => timeCell(j.started) },
      { label: 'Finished', cls: 'nowrap', cell: (j) => (j.finished ? timeCell(j.finished) : '–') },
    ], [...jobs].reverse(), { empty: 'No jobs yet: restore from a snapshot, or run a backup.' })));
}
