import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileMessage } from '../../src/i18n/icu.ts';
import { firstSupported, fromAcceptLanguage, LOCALES, loadMessages, runInLocale, translate } from '../../src/i18n/locale.ts';

describe('locale files (views/locales)', () => {
  const en = loadMessages('en');

  for (const locale of LOCALES.filter((l) => l !== 'en')) {
    test(`${locale}.json has exactly the keys of en.json, each with the same ICU arguments`, () => {
      const other = loadMessages(locale);
      assert.deepEqual(Object.keys(other).sort(), Object.keys(en).sort());
      for (const key of Object.keys(en)) {
        assert.deepEqual(compileMessage(other[key]!, locale).args, compileMessage(en[key]!, 'en').args, `arguments of ${key}`);
      }
    });

    test(`${locale}.json is translated, not copied`, () => {
      const other = loadMessages(locale);
      // Brand names and the like may stay; whole sentences may not.
      const same = Object.keys(en).filter((k) => en[k] === other[k] && en[k]!.includes(' '));
      assert.deepEqual(same, []);
    });
  }

  test('ICU plurals and interpolation, per locale', () => {
    assert.equal(runInLocale('en', () => translate('time.minutes', { n: 1 })), '1 minute');
    assert.equal(runInLocale('en', () => translate('time.minutes', { n: 5 })), '5 minutes');
    assert.equal(runInLocale('vi', () => translate('time.minutes', { n: 5 })), '5 phút');
    assert.equal(runInLocale('vi', () => translate('email.expires', { duration: '24 giờ' })), 'Liên kết này chỉ dùng được một lần và hết hạn sau 24 giờ.');
    assert.equal(translate('login.title'), 'Sign in', 'English outside any request');
    assert.equal(translate('no.such.key'), 'no.such.key');
    const m = compileMessage('{n, plural, =0 {none} one {# file} other {# files}} in {dir}', 'en');
    assert.equal(m.format({ n: 0, dir: '/' }), 'none in /');
    assert.equal(m.format({ n: 1, dir: '/' }), '1 file in /');
    assert.equal(m.format({ n: 1200, dir: '/' }), '1,200 files in /');
    assert.deepEqual(m.args, ['dir', 'n']);
    assert.equal(compileMessage('at most {max} characters', 'en').format({ max: 1024 }), 'at most 1024 characters', 'a plain argument is not number-formatted');
    assert.throws(() => compileMessage('{n, plural, one {x}}', 'en'), /OTHER/i);
    assert.throws(() => compileMessage('oops {n', 'en'));
  });

  test('language negotiation helpers', () => {
    assert.equal(fromAcceptLanguage('fr-FR, vi;q=0.8, en;q=0.5'), 'vi');
    assert.equal(fromAcceptLanguage('en;q=0.3, vi-VN'), 'vi');
    assert.equal(fromAcceptLanguage('vi;q=0, en'), 'en');
    assert.equal(fromAcceptLanguage('de, fr'), undefined);
    assert.equal(firstSupported('fr vi-VN en'), 'vi');
    assert.equal(firstSupported('fr'), undefined);
  });
});
