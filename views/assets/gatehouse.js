// Gatehouse hosted pages: small improvements on forms that work without it (strict CSP: a
// static file, no inline script or style). Words come from the page (data-* on <body>), so they
// are in the page's language.
(function () {
  'use strict';
  var body = document.body;
  var words = body.dataset;

  // After a refused submit, focus the summary of what went wrong (screen readers read it, and
  // Tab goes on to the fields).
  var summary = document.querySelector('[data-error-summary]');
  if (summary) summary.focus();

  // Show / hide password: a button beside each password field.
  document.querySelectorAll('input[type="password"]').forEach(function (input) {
    var box = document.createElement('span');
    box.className = 'password-box';
    input.parentNode.insertBefore(box, input);
    box.appendChild(input);
    var toggle = document.createElement('button');
    toggle.type = 'button';
    toggle.className = 'reveal';
    if (input.id) toggle.setAttribute('aria-controls', input.id);
    function label(shown) {
      toggle.textContent = shown ? words.hide || 'Hide' : words.show || 'Show';
      toggle.setAttribute('aria-label', shown ? words.hidePassword || 'Hide password' : words.showPassword || 'Show password');
    }
    label(false);
    toggle.addEventListener('click', function () {
      var shown = input.type === 'text';
      input.type = shown ? 'password' : 'text';
      label(!shown);
      input.focus();
    });
    box.appendChild(toggle);
  });

  // A strength hint under new passwords: length first (the policy's minimum), then variety.
  var min = Number(words.passwordMin) || 12;
  document.querySelectorAll('input[autocomplete="new-password"]').forEach(function (input) {
    var hint = document.createElement('small');
    hint.className = 'field-hint strength';
    hint.id = (input.id || input.name) + '-strength';
    hint.setAttribute('aria-live', 'polite');
    var field = input.closest('.field') || input.parentNode;
    field.appendChild(hint);
    var described = input.getAttribute('aria-describedby');
    input.setAttribute('aria-describedby', (described ? described + ' ' : '') + hint.id);
    function judge() {
      var value = input.value;
      var length = Array.from(value).length;
      if (!length) {
        hint.textContent = '';
        hint.removeAttribute('data-level');
      } else if (length < min) {
        hint.textContent = (words.strengthShort || '{n} / {min}').replace('{n}', length).replace('{min}', min);
        hint.dataset.level = 'weak';
      } else {
        var kinds = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter(function (re) { return re.test(value); }).length;
        var distinct = new Set(Array.from(value.toLowerCase())).size;
        var strong = length >= min + 4 || (kinds >= 3 && distinct >= min * 0.6);
        hint.textContent = strong ? words.strengthStrong || 'Strong' : words.strengthFair || 'Fair';
        hint.dataset.level = strong ? 'ok' : 'fair';
      }
    }
    input.addEventListener('input', judge);
    judge();
  });

  // One submit per form: a second click (or Enter) while the first is on its way does nothing.
  // The button is marked busy, not disabled: a disabled button's name and value would not be sent.
  document.querySelectorAll('form').forEach(function (form) {
    form.addEventListener('submit', function (event) {
      if (form.dataset.submitting) {
        event.preventDefault();
        return;
      }
      form.dataset.submitting = '1';
      var buttons = Array.from(form.querySelectorAll('button[type="submit"]'));
      if (form.id) buttons = buttons.concat(Array.from(document.querySelectorAll('button[form="' + form.id + '"]')));
      buttons.forEach(function (button) {
        button.setAttribute('aria-disabled', 'true');
      });
      body.setAttribute('aria-busy', 'true');
    });
  });
  // Back to a page kept in the history (bfcache): forms can be used again.
  window.addEventListener('pageshow', function (event) {
    if (!event.persisted) return;
    document.querySelectorAll('form[data-submitting]').forEach(function (form) {
      delete form.dataset.submitting;
    });
    document.querySelectorAll('button[aria-disabled="true"]').forEach(function (button) {
      button.removeAttribute('aria-disabled');
    });
    body.removeAttribute('aria-busy');
  });
})();
