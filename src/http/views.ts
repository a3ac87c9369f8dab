import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifyView from '@fastify/view';
import type { FastifyInstance } from 'fastify';
import Handlebars from 'handlebars';

export const VIEWS_DIR = fileURLToPath(new URL('../../views', import.meta.url));

/** Strings of the hosted pages and e-mails (views/locales/en.json). */
export const strings: Record<string, string> = JSON.parse(readFileSync(`${VIEWS_DIR}/locales/en.json`, 'utf8'));

/** `{{t "key"}}`: a string from the locale file; unknown keys show as themselves. */
export function translate(key: string): string {
  return strings[key] ?? key;
}

export function createHandlebars() {
  const hb = Handlebars.create();
  hb.registerHelper('t', (key: unknown) => translate(String(key)));
  return hb;
}

/** Pages from views/ with one layout and partials; CSS from views/assets at /assets. */
export async function registerViews(app: FastifyInstance, { production }: { production: boolean }) {
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
