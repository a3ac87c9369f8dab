import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileMessage, type Message, type Values } from './icu.ts';

/** The languages of the hosted pages and e-mails (CONTRACT "Languages"); the first is the default. */
export const LOCALES = ['en', 'vi'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

export const LOCALES_DIR = fileURLToPath(new URL('../../views/locales', import.meta.url));

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

/** The raw messages of one locale file (`views/locales/<locale>.json`). */
export function loadMessages(locale: Locale): Record<string, string> {
  return JSON.parse(readFileSync(`${LOCALES_DIR}/${locale}.json`, 'utf8'));
}

// Compiled once at start-up: a broken message fails the boot, not a request.
const catalogs = new Map<Locale, Map<string, Message>>(
  LOCALES.map((locale) => [locale, new Map(Object.entries(loadMessages(locale)).map(([k, v]) => [k, compileMessage(v, locale)]))]),
);

export interface LocaleStore {
  locale: Locale;
  /** The brand's name (BRAND_NAME), given to every message as `{product}`. */
  product?: string;
}

/**
 * The locale of the request (or of the e-mail being rendered). An AsyncLocalStorage rather than
 * a parameter: view models, error classes and e-mail templates call translate() deep in the
 * call tree, and threading a locale through every one of them would touch every signature for
 * no gain. The store is mutable so a page that learns better (an interaction's `ui_locales`)
 * can say so once for the rest of the request.
 */
const storage = new AsyncLocalStorage<LocaleStore>();

export function currentLocale(): Locale {
  return storage.getStore()?.locale ?? DEFAULT_LOCALE;
}

/** Runs `fn` (and everything it awaits) under `locale`; `product` names the brand in messages. */
export function runInLocale<T>(locale: Locale, fn: () => T, product?: string): T {
  return storage.run({ locale, ...(product ? { product } : {}) }, fn);
}

/** Changes the current request's locale (e.g. to its authorization request's `ui_locales`). */
export function setLocale(locale: Locale) {
  const store = storage.getStore();
  if (store) store.locale = locale;
}

/** The product name messages say (`{product}`): the brand's, else Gatehouse. */
export function productName(): string {
  return storage.getStore()?.product ?? 'Gatehouse';
}

/** A string of the current locale, English when it has none; an unknown key shows as itself. */
export function translate(key: string, values?: Values): string {
  const message = catalogs.get(currentLocale())!.get(key) ?? catalogs.get(DEFAULT_LOCALE)!.get(key);
  return message ? message.format({ product: productName(), ...values }) : key;
}

/** The first supported language of a space-separated list (`ui_locales`, RFC: BCP 47 tags by preference). */
export function firstSupported(tags: unknown): Locale | undefined {
  if (typeof tags !== 'string') return undefined;
  for (const tag of tags.trim().split(/\s+/)) {
    const base = tag.toLowerCase().split('-')[0];
    if (isLocale(base)) return base;
  }
  return undefined;
}

/** The best supported language of an `Accept-Language` header (RFC 9110 §12.5.4), by q-value then order. */
export function fromAcceptLanguage(header: unknown): Locale | undefined {
  if (typeof header !== 'string') return undefined;
  const ranked = header
    .split(',')
    .map((item, index) => {
      const [tag = '', ...params] = item.trim().split(';');
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/i.exec(p)?.[1]).find(Boolean);
      return { base: tag.trim().toLowerCase().split('-')[0]!, q: q === undefined ? 1 : Number(q), index };
    })
    .filter((r) => r.q > 0 && isLocale(r.base))
    .sort((a, b) => b.q - a.q || a.index - b.index);
  return ranked[0]?.base as Locale | undefined;
}
