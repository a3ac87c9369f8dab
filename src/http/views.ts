import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifyView from '@fastify/view';
import type { FastifyInstance } from 'fastify';
import Handlebars from 'handlebars';
import { currentLocale, translate } from '../i18n/locale.ts';
import { languageLinks, registerLanguage } from './language.ts';

export { translate };

export const VIEWS_DIR = fileURLToPath(new URL('../../views', import.meta.url));

/**
 * Helpers of every template: `{{t "key" name=value}}`, a string of the current locale (an ICU
 * message, views/locales/<locale>.json; unknown keys show as themselves); `{{lang}}`, the
 * current locale; `(languages)`, the language switcher's links.
 */
export function createHandlebars() {
  const hb = Handlebars.create();
  hb.registerHelper('t', (key: unknown, options: Handlebars.HelperOptions) => translate(String(key), options?.hash));
  hb.registerHelper('lang', () => currentLocale());
  hb.registerHelper('languages', () => languageLinks(currentLocale()));
  return hb;
}

/** Pages from views/ with one layout and partials; CSS from views/assets at /assets. */
export async function registerViews(app: FastifyInstance, { production }: { production: boolean }) {
  registerLanguage(app);
  await app.register(fastifyView, {
    engine: { handlebars: createHandlebars() },
    root: VIEWS_DIR,
    layout: 'layouts/main.hbs',
    viewExt: 'hbs',
    production,
    options: {
      partials: {
        brand: 'partials/brand.hbs',
        alert: 'partials/alert.hbs',
        field: 'partials/field.hbs',
        hidden: 'partials/hidden.hbs',
        captcha: 'partials/captcha.hbs',
        languages: 'partials/languages.hbs',
        adminNav: 'admin/nav.hbs',
      },
    },
  });
  await app.register(fastifyStatic, {
    root: `${VIEWS_DIR}/assets`,
    prefix: '/assets/',
    decorateReply: false,
    maxAge: production ? '1d' : 0,
  });
}
