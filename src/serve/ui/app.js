// The app: the session, the header, and the pages by the URL's fragment (#/snapshots, …).
import { api, session, h, errorBox } from './util.js';
import * as dashboard from './dashboard.js';
import * as snapshots from './snapshots.js';
import * as browse from './browse.js';
import * as compare from './compare.js';
import * as jobs from './jobs.js';

const pages = {
  '': dashboard.render,
  snapshots: snapshots.render,
  policy: snapshots.policy,
  browse: browse.render,
  history: browse.history,
  diff: compare.diff,
  find: compare.find,
  jobs: jobs.render,
};

function parse() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  const parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
  return { parts, query, params: new URLSearchParams(query), page: parts[0] || '' };
}

let current = null;
let lastPage = null;

async function show() {
  const route = parse();
  const render = pages[route.page];
  for (const a of document.querySelectorAll('#nav a')) {
    const on = a.dataset.page === route.page || (route.page === 'browse' && a.dataset.page === 'snapshots') || (route.page === 'history' && a.dataset.page === 'find');
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const main = document.getElementById('main');
  const view = h('div', { class: 'view' });
  current = view;
  main.replaceChildren(view);
  const focus = lastPage !== route.page;
  lastPage = route.page;
  if (!render) {
    view.append(errorBox({ kind: 'not_found', message: `no page ${route.page}`, hint: 'pick one from the menu above' }));
    return;
  }
  view.append(h('p', { class: 'muted', 'aria-live': 'polite' }, 'Loading…'));
  try {
    await render(view, route, () => current === view);
  } catch (e) {
    if (current === view) view.replaceChildren(errorBox(e));
  }
  if (focus && current === view) main.focus({ preventScroll: true });
}

async function start() {
  document.getElementById('logout').addEventListener('click', async () => {
    try {
      await api('/logout', { method: 'POST' });
    } finally {
      location.assign('/login');
    }
  });
  try {
    const me = await api('/api/session');
    session.user = me.user;
    session.csrf = me.csrf;
    document.getElementById('user').textContent = me.user;
  } catch (e) {
    document.getElementById('main').replaceChildren(errorBox(e));
    return;
  }
  window.addEventListener('hashchange', show);
  await show();
}

start();
