import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifyView from '@fastify/view';
import type { FastifyInstance } from 'fastify';
import Handlebars from 'handlebars';
import type { Config } from '../config.ts';
import { currentLocale, translate } from '../i18n/locale.ts';
import { assetUrl, loadAssets, serveAssets, vendorScripts, type Assets } from './assets.ts';
import { brandCss, brandTheme, showableImage } from './brand.ts';
import { languageLinks, registerLanguage } from './language.ts';

export { translate };

export const VIEWS_DIR = fileURLToPath(new URL('../../views', import.meta.url));

/**
 * Helpers of every template: `{{t "key" name=value}}`, a string of the current locale (an ICU
 * message, views/locales/<locale>.json; unknown keys show as themselves); `{{lang}}`, the
 * current locale; `(languages)`, the language switcher's links.
 */
export function createHandlebars(assets?: Assets) {
  const hb = Handlebars.create();
  // `{{asset "gatehouse.css"}}`: the content-hashed URL (src/http/assets.ts).
  if (assets) hb.registerHelper('asset', (name: unknown) => assetUrl(assets, String(name)));
  hb.registerHelper('t', (key: unknown, options: Handlebars.HelperOptions) => translate(String(key), options?.hash));
  hb.registerHelper('lang', () => currentLocale());
  hb.registerHelper('languages', () => languageLinks(currentLocale()));
  // `{{linkify text}}`: plain text, escaped, with its http(s) addresses made links (the dev mailbox).
  hb.registerHelper('linkify', (text: unknown) => {
    const escaped = hb.escapeExpression(String(text ?? ''));
    return new hb.SafeString(escaped.replace(/https?:\/\/[^\s<>"]+/g, (url) => `<a href="${url}">${url}</a>`));
  });
  return hb;
}

/**
 * Pages from views/ with one layout and partials; every page gets `brand` (name, logo, colours:
 * src/http/brand.ts). CSS and scripts from views/assets: content-hashed and cached for a year
 * (src/http/assets.ts), the plain names too, uncached, for anything that links them directly.
 */
export async function registerViews(app: FastifyInstance, { production, brand, passwordMinLength = 12 }: { production: boolean; brand: Config['brand']; passwordMinLength?: number }) {
  const theme = brandTheme(brand);
  const logoUrl = showableImage(theme.logoUrl);
  registerLanguage(app, { product: theme.name });
  const assets = loadAssets(`${VIEWS_DIR}/assets`, { 'brand.css': brandCss(theme), ...vendorScripts() });
  serveAssets(app, assets);
  await app.register(fastifyView, {
    engine: { handlebars: createHandlebars(assets) },
    root: VIEWS_DIR,
    layout: 'layouts/main.hbs',
    viewExt: 'hbs',
    production,
    // `passwordMinLength`: the strength hint's first rule (views/assets/gatehouse.js).
    defaultContext: { brand: { ...theme, logoUrl }, passwordMinLength },
    options: {
      partials: {
        brand: 'partials/brand.hbs',
        alert: 'partials/alert.hbs',
        field: 'partials/field.hbs',
        hidden: 'partials/hidden.hbs',
        captcha: 'partials/captcha.hbs',
        languages: 'partials/languages.hbs',
        adminNav: 'admin/nav.hbs',
        'client-logo': 'partials/client-logo.hbs',
      },
    },
  });
  await app.register(fastifyStatic, {
    root: `${VIEWS_DIR}/assets`,
    prefix: '/assets/',
    decorateReply: false,
    maxAge: 0,
  });
}
