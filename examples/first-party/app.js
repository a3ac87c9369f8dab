// The demo first-party app. Everything about the session goes through Gatehouse's /session
// endpoints with `credentials: 'include'`; the page never holds a token (they are HttpOnly
// cookies), it only learns who is signed in and when the access cookie expires.

const config = await (await fetch('config.json')).json();
const gatehouse = config.gatehouse;
const $ = (id) => document.getElementById(id);

let refreshTimer;
let refreshes = 0;

function session(path, init = {}) {
  // Cross-origin: the browser sends Origin, which Gatehouse checks on every POST (CSRF).
  // A page on Gatehouse's own origin whose policy is no-referrer must also set
  // `referrerPolicy: 'same-origin'`, or its same-origin POSTs carry `Origin: null`.
  return fetch(`${gatehouse}${path}`, { credentials: 'include', referrerPolicy: 'same-origin', ...init });
}

function show(section) {
  for (const id of ['loading', 'signed-out', 'signed-in']) $(id).hidden = id !== section;
}

function signedOut(message) {
  clearTimeout(refreshTimer);
  $('error').hidden = !message;
  $('error').textContent = message ?? '';
  show('signed-out');
}

function signedIn(user) {
  $('user-name').textContent = user.name || '(no name)';
  $('user-email').textContent = user.email;
  $('user-sub').textContent = user.sub;
  $('user-roles').textContent = user.roles.length ? user.roles.join(', ') : '(none)';
  $('expires').textContent = new Date(user.expires_at * 1000).toLocaleTimeString();
  $('refreshes').textContent = `${refreshes} time${refreshes === 1 ? '' : 's'}`;
  $('document-cookie').textContent = JSON.stringify(document.cookie);
  show('signed-in');
  // Refresh a minute before the access cookie expires (or halfway, for short lifetimes).
  const left = user.expires_at - Date.now() / 1000;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, Math.max(1, left > 120 ? left - 60 : left / 2) * 1000);
}

async function refresh() {
  const res = await session('/session/refresh', { method: 'POST' });
  if (!res.ok) return signedOut('Your session has ended. Please sign in again.');
  refreshes += 1;
  signedIn(await res.json());
}

async function load() {
  const res = await session('/session');
  if (res.ok) return signedIn(await res.json());
  // No valid access cookie: the refresh cookie may still be good (it lives much longer).
  const refreshed = await session('/session/refresh', { method: 'POST' });
  if (refreshed.ok) return signedIn(await refreshed.json());
  signedOut();
}

$('sign-in').href = `${gatehouse}/session/start?${new URLSearchParams({ client_id: config.clientId, return_to: config.returnTo })}`;

$('refresh').addEventListener('click', () => refresh());

$('sign-out').addEventListener('click', async () => {
  await session('/session/logout', { method: 'POST' });
  signedOut();
});

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const res = await session('/session/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: config.clientId, login: form.get('login'), password: form.get('password') }),
  });
  const body = await res.json();
  if (!res.ok) return signedOut(`${body.message} (${body.error})`);
  signedIn(body);
});

await load();
