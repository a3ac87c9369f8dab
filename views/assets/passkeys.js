// Passkeys on the login page (button and autofill) and on /account (add one). Without this
// script, or without WebAuthn, both stay hidden and the password forms work as before.
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;
  if (!lib || !lib.browserSupportsWebAuthn()) return;

  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      referrerPolicy: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) throw new Error(data.message || res.statusText);
        return data;
      });
    });
  }

  function csrf() {
    var input = document.querySelector('input[name=_csrf]');
    return input ? input.value : undefined;
  }

  function show(error) {
    var box = document.querySelector('[data-passkey-error]');
    if (!box || (error && error.name === 'AbortError')) return;
    box.textContent = (error && error.message) || String(error);
    box.setAttribute('role', 'alert');
    box.hidden = false;
  }

  var login = document.querySelector('[data-passkey-login]');
  if (login) {
    var base = login.getAttribute('data-passkey-login');
    var signIn = function (autofill) {
      return post(base + '/options', {})
        .then(function (optionsJSON) { return lib.startAuthentication({ optionsJSON: optionsJSON, useBrowserAutofill: autofill }); })
        .then(function (credential) { return post(base, { credential: credential }); })
        .then(function (done) { window.location.assign(done.redirect); });
    };
    login.hidden = false;
    login.addEventListener('click', function () { signIn(false).catch(show); });
    // Conditional mediation: the login field (autocomplete="username webauthn") offers passkeys.
    lib.browserSupportsWebAuthnAutofill().then(function (ok) {
      if (ok) signIn(true).catch(function () { /* a cancelled autofill is not an error */ });
    });
  }

  var add = document.querySelector('[data-passkey-add]');
  if (add) {
    var url = add.getAttribute('data-passkey-add');
    var name = add.querySelector('input[name=passkey_name]');
    add.hidden = false;
    add.querySelector('button').addEventListener('click', function () {
      post(url + '/options', { _csrf: csrf() })
        .then(function (optionsJSON) { return lib.startRegistration({ optionsJSON: optionsJSON }); })
        .then(function (credential) { return post(url, { _csrf: csrf(), name: name ? name.value : '', credential: credential }); })
        .then(function (done) { window.location.assign(done.redirect); })
        .catch(show);
    });
  }
})();
