import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dictionary } from '@zxcvbn-ts/language-common';
import { checkPasswordPolicy, DEFAULT_PASSWORD_POLICY } from '../../src/accounts/passwords/password-policy.ts';
import { defaults } from '../../config/defaults.ts';

const GOOD = 'correct horse battery staple';

describe('password policy (NIST 800-63B-4 §3.1.1.2, ASVS V6.2)', () => {
  test('a long passphrase without any composition is accepted (V6.2.5: no composition rules)', () => {
    assert.equal(checkPasswordPolicy(GOOD), undefined);
    assert.equal(checkPasswordPolicy('all lower case letters only'), undefined);
    assert.equal(checkPasswordPolicy('ŝtranĝaj literoj kaj spacoj'), undefined);
  });

  test('the shipped defaults are the documented ones', () => {
    assert.equal(DEFAULT_PASSWORD_POLICY.minLength, 12);
    assert.equal(defaults.passwordPolicy.minLength, 12);
    assert.ok(defaults.passwordPolicy.maxLength >= 64);
  });

  test('too short is refused with the minimum in the message; the minimum is configurable', () => {
    assert.equal(checkPasswordPolicy('elevenchars'), 'Use at least 12 characters.');
    assert.equal(checkPasswordPolicy('twelve chars'), undefined);
    const policy = { minLength: 16, maxLength: 128 };
    assert.equal(checkPasswordPolicy('twelve chars', {}, policy), 'Use at least 16 characters.');
    assert.equal(checkPasswordPolicy('sixteen chars ok', {}, policy), undefined);
  });

  test('missing, empty and non-string passwords are refused', () => {
    for (const value of [undefined, null, '', 42, ['a long enough password'], { length: 20 }]) {
      assert.equal(checkPasswordPolicy(value), 'Enter a password.', JSON.stringify(value));
    }
  });

  test('64 characters and the maximum are accepted; one more is refused, never truncated (V6.2.8, V6.2.9)', () => {
    const sixtyFour = 'x7Kq'.repeat(16);
    assert.equal(sixtyFour.length, 64);
    assert.equal(checkPasswordPolicy(sixtyFour), undefined);
    const max = DEFAULT_PASSWORD_POLICY.maxLength;
    const atMax = 'a9Zq'.repeat(max / 4);
    assert.equal(checkPasswordPolicy(atMax), undefined);
    assert.equal(checkPasswordPolicy(`${atMax}b`), `Use at most ${max} characters.`);
  });

  test('a 1 MB password is refused with the same message', () => {
    assert.equal(checkPasswordPolicy('p'.repeat(1024 * 1024)), `Use at most ${DEFAULT_PASSWORD_POLICY.maxLength} characters.`);
  });

  test('length counts code points after NFKC: an emoji is one character, a ligature is two', () => {
    // Eleven emoji (each two UTF-16 units) are eleven characters: too short although .length is 22.
    assert.equal(checkPasswordPolicy('🔒'.repeat(11)), 'Use at least 12 characters.');
    assert.equal(checkPasswordPolicy('🔒'.repeat(12)), undefined);
    // "ﬁ" (U+FB01) normalises to "fi": six of them are twelve characters.
    assert.equal(checkPasswordPolicy('\uFB01'.repeat(6)), undefined);
    // A decomposed "é" (e + combining acute) composes to one character.
    assert.equal(checkPasswordPolicy('e\u0301'.repeat(11)), 'Use at least 12 characters.');
  });

  test('common passwords from @zxcvbn-ts/language-common are refused, in any case and width (V6.2.4, V6.2.12)', () => {
    const common = dictionary['passwords-common'].filter((p) => p.length >= 12);
    assert.ok(common.length > 100, 'the list has long entries to test with');
    const message = 'This password is one of the most common passwords. Choose one that is harder to guess.';
    for (const p of common.slice(0, 50)) assert.equal(checkPasswordPolicy(p), message, p);
    assert.equal(checkPasswordPolicy('QWERTY123456'), message);
    // Fullwidth letters are the same password after NFKC.
    assert.equal(checkPasswordPolicy('ｑｗｅｒｔｙ１２３４５６'), message);
    // Short common passwords are refused too when the minimum allows them.
    assert.equal(checkPasswordPolicy('password', {}, { minLength: 8, maxLength: 64 }), message);
    assert.equal(checkPasswordPolicy('Dragon', {}, { minLength: 6, maxLength: 64 }), message);
  });

  test('the e-mail address, its local part, the username and the name are refused inside a password (V6.2.11)', () => {
    const context = { email: 'Jane.Doe@Example.com', username: 'jdoe_42', name: 'Jane Marie Doe' };
    const message = 'Do not use your e-mail address, username or name in your password.';
    assert.equal(checkPasswordPolicy('my jane.doe@example.com pw', context), message);
    assert.equal(checkPasswordPolicy('xxJANE.DOExx 2024!', context), message, 'local part, other case');
    assert.equal(checkPasswordPolicy('I am JDOE_42 on the web', context), message, 'username');
    assert.equal(checkPasswordPolicy('hello janemariedoe!!', context), message, 'name without spaces');
    assert.equal(checkPasswordPolicy('Jane Marie Doe is me', context), message, 'name');
    assert.equal(checkPasswordPolicy('marie curie radium', context), message, 'a part of the name');
    // Parts shorter than four characters ("doe") are ordinary syllables, not refused.
    assert.equal(checkPasswordPolicy('doe a deer, a female deer', { name: 'Jo Doe' }), undefined);
    assert.equal(checkPasswordPolicy(GOOD, context), undefined);
  });

  test('a short local part is not a word to refuse, the whole address still is', () => {
    const context = { email: 'al@example.com' };
    assert.equal(checkPasswordPolicy('always alert, always', context), undefined);
    assert.equal(checkPasswordPolicy('al@example.com rocks', context), 'Do not use your e-mail address, username or name in your password.');
  });

  test('the name of the service is refused', () => {
    assert.equal(checkPasswordPolicy('my GateHouse password', {}), 'Do not use the name of this service in your password.');
    assert.equal(checkPasswordPolicy('my GateHouse password', {}, { minLength: 12, maxLength: 64, blockedWords: [] }), undefined);
  });

  test('context fields that are not strings are ignored rather than crashing', () => {
    assert.equal(checkPasswordPolicy(GOOD, { email: 42, name: { toString: () => 'horse' }, username: ['battery'] }), undefined);
  });
});
