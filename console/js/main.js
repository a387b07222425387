// The console's entry: sign-in state, the header, and the router that mounts one page at a time.

import { createApi, ApiError } from './api.js';
import { capabilitiesFrom } from './capabilities.js';
import { h, replace, errorBox, toast } from './dom.js';
import { matchRoute } from './router.js';
import { storedToken, storeToken, clearToken, identityFrom, canWrite, WHOAMI_PATH } from './session.js';
import * as signin from './pages/signin.js';

// Pages load on first visit, so that the first paint needs only this module and the sign-in.
const overview = () => import('./pages/overview.js');
const devices = () => import('./pages/devices.js');
const device = () => import('./pages/device.js');
const products = () => import('./pages/products.js');
const assets = () => import('./pages/assets.js');
const rules = () => import('./pages/rules.js');
const alarms = () => import('./pages/alarms.js');
const tokens = () => import('./pages/tokens.js');

const ROUTES = [
  ['', overview],
  ['devices', devices],
  ['devices/:id', device],
  ['products', products],
  ['products/:id', products],
  ['assets', assets],
  ['rules', rules],
  ['rules/:id', rules],
  ['alarms', alarms],
  ['tokens', tokens],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');

const state = { token: storedToken(), identity: null, caps: capabilitiesFrom(null), current: null, firstRender: true };

const api = createApi({
  getToken: () => state.token,
  onUnauthorized: () => {
    if (state.identity) signOut('Your token is no longer accepted. Sign in again.');
  },
});

async function loadCapabilities() {
  try {
    state.caps = capabilitiesFrom(await api.get('/api/v1/openapi.json'));
  } catch {
    state.caps = capabilitiesFrom(null);
  }
}

/** Asks the server who the token is; throws ApiError when the token is not accepted. */
async function identify() {
  return identityFrom(await api.get(WHOAMI_PATH));
}

function signOut(message) {
  clearToken();
  state.token = null;
  state.identity = null;
  if (message) toast(message, 'error');
  renderChrome();
  route();
}

function renderChrome() {
  nav.hidden = !state.identity;
  const tokensLink = nav.querySelector('a[href="#/tokens"]');
  if (tokensLink) tokensLink.hidden = !state.identity || state.identity.role !== 'admin';
  if (!state.identity) {
    replace(who);
    return;
  }
  const { tenant, role, name, platformAdmin } = state.identity;
  replace(
    who,
    h('span', { class: 'badge tenant', title: name ? `token: ${name}` : null }, h('span', { class: 'sr-only' }, 'tenant '), tenant),
    h('span', { class: `badge role role-${role}`, 'data-role': role, title: platformAdmin ? 'platform admin: may act for every tenant' : null }, role),
    name ? h('span', { class: 'who-token muted small', 'data-token-name': name }, name) : null,
    h('button', { type: 'button', class: 'link', onclick: () => signOut() }, 'Sign out'),
  );
}

function highlightNav(hash) {
  const section = (hash.replace(/^#\/?/, '').split(/[/?]/)[0] || '').toLowerCase();
  for (const a of nav.querySelectorAll('a')) {
    const target = a.getAttribute('href').replace(/^#\/?/, '');
    if (target === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function signIn(token) {
  state.token = token;
  await loadCapabilities();
  try {
    state.identity = await identify();
  } catch (e) {
    state.token = null;
    throw e;
  }
  storeToken(token);
  renderChrome();
  route();
}

function route() {
  if (state.current) {
    state.current.controller.abort();
    for (const fn of state.current.disposers) {
      try {
        fn();
      } catch {
        /* a failing cleanup must not stop navigation */
      }
    }
    state.current = null;
  }
  const controller = new AbortController();
  const disposers = [];
  state.current = { controller, disposers };
  const hash = location.hash || '#/';
  highlightNav(hash);
  const matched = state.identity ? matchRoute(ROUTES, hash) : { page: () => signin, params: {}, query: {} };
  const container = h('div', { class: 'page' });
  replace(main, container);
  if (!state.firstRender) main.focus({ preventScroll: false });
  state.firstRender = false;
  if (!matched) {
    replace(container, h('h1', {}, 'Not found'), h('p', {}, 'There is no page at this address. ', h('a', { href: '#/' }, 'Go to the overview.')));
    return;
  }
  const ctx = {
    api,
    caps: state.caps,
    identity: state.identity,
    canWrite: canWrite(state.identity),
    token: state.token,
    params: matched.params,
    query: matched.query,
    signal: controller.signal,
    onDispose: (fn) => disposers.push(fn),
    signIn,
    setTitle: (t) => {
      document.title = t ? `${t} · wanwu` : 'wanwu console';
    },
  };
  Promise.resolve()
    .then(() => matched.page())
    .then((page) => {
      if (controller.signal.aborted) return undefined;
      ctx.setTitle(page.title);
      return page.render(container, ctx);
    })
    .catch((e) => {
      if (controller.signal.aborted || e?.name === 'AbortError') return;
      replace(container, errorBox(e instanceof ApiError ? e : new Error(String(e?.message || e)), 'This page could not be shown'));
    });
}

window.addEventListener('hashchange', route);
window.addEventListener('unhandledrejection', (event) => {
  if (event.reason?.name === 'AbortError') event.preventDefault();
});

(async function start() {
  if (state.token) {
    try {
      await loadCapabilities();
      state.identity = await identify();
    } catch {
      clearToken();
      state.token = null;
    }
  }
  renderChrome();
  route();
})();
