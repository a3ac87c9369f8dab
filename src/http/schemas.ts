import type { FastifyInstance, FastifyRequest, FastifySchema, FastifySchemaValidationError } from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import { isPlausibleIdentifier } from '../identifiers.ts';
import { translate } from '../i18n/locale.ts';

/**
 * Route schemas (issue 8): every route declares the parts of the request it reads, in zod
 * (fastify-type-provider-zod), and a request that does not fit is a 400 naming each field: the
 * app's own ValidationError, so a JSON API answers `{ error: 'VALIDATION_FAILED', message,
 * fields }` and a page shows its form again with the field marked (`failedSchema`).
 *
 * Schemas say what a field is (one string, not a list); the rules of what a good value is (a
 * valid address, a strong password) stay in src/accounts, which name the field the same way.
 * Only the validator is zod's: answers are not serialized through schemas (no response
 * schemas: they would cost time on every answer).
 */

/** A route that reads nothing from its query string, params or body: anything sent is ignored. */
export const NO_INPUT: FastifySchema = {};


/**
 * A form field (application/x-www-form-urlencoded, @fastify/formbody): one string. A field
 * sent twice (`email=a&email=b`) arrives as a list, and is refused rather than guessed at.
 */
export const formText = z.string({ error: () => translate('form.once') });

/** An e-mail address (or a login) typed into a form: one string without control characters. */
// No control characters and at most 254 characters (src/identifiers.ts): refused at the door, the
// field marked, before any job is queued (issue 15, finding 6).
export const formEmail = formText.refine(isPlausibleIdentifier, { error: () => translate('form.invalid_email') });

/** A query string parameter: one string (a repeated one is refused). */
export const queryText = z.string({ error: 'must be given once, as text' });

/**
 * A form body: the fields a route reads, and any others kept as they came (`_csrf`, which the
 * CSRF check reads after validation; the captcha widgets' `g-recaptcha-response`,
 * `h-captcha-response`, `cf-turnstile-response`). A post without a body is an empty form.
 */
export function formBody<T extends z.ZodRawShape>(shape: T) {
  return z.preprocess((body) => body ?? {}, z.looseObject(shape));
}

/**
 * A JSON body: the fields a route reads (others are dropped). A body that is not an object
 * (none, `null`, a list, a string) has none of them, which is what its fields' own schemas say.
 */
export function jsonBody<T extends z.ZodRawShape>(shape: T) {
  return z.preprocess((body) => (body && typeof body === 'object' && !Array.isArray(body) ? body : {}), z.object(shape));
}

/** A required JSON string: `required` when absent, null or empty, as the API has always said. */
export const requiredJsonText = z
  .string({ error: (issue) => (issue.input === undefined || issue.input === null ? 'required' : 'must be a string') })
  .min(1, { error: 'required' });

/** An optional JSON string: absent or null is fine, anything else must be a string. */
export const optionalJsonText = z.string({ error: 'must be a string' }).nullish();

/** The part of the request a schema failure is about (Fastify's `dataVar`). */
type RequestPart = 'body' | 'querystring' | 'params' | 'headers';

/**
 * A schema failure as the app's ValidationError: each field with its first problem. The message
 * of a bad query string or path names the parameters (an error page has no form to mark).
 */
export function schemaError(errors: FastifySchemaValidationError[], part: RequestPart): ValidationError {
  const fields: Record<string, string> = {};
  for (const error of errors) {
    const name = error.instancePath.split('/')[1] || part;
    fields[name] ??= error.message ?? 'invalid';
  }
  if (part === 'body') return new ValidationError(fields);
  return new ValidationError(fields, translate('error.bad_parameter', { names: Object.keys(fields).join(', ') }));
}

/** Zod validates every route's schema; a failure is a ValidationError (src/errors.ts). Call before any route is added. */
export function useRouteSchemas(app: FastifyInstance) {
  app.setValidatorCompiler(validatorCompiler);
  app.setSchemaErrorFormatter((errors, part) => schemaError(errors, part as RequestPart));
}

/**
 * Form routes validate with `attachValidation: true`, so that the CSRF check (a preHandler,
 * src/security/csrf.ts) still answers first, and the handler shows the form again the way it
 * does for its own ValidationError: call this inside that `try`. Throws the schema's failure.
 */
export function failedSchema(request: FastifyRequest): void {
  if (request.validationError) throw request.validationError;
}

/** What a form route's options carry: its schema, and validation failures left to the handler. */
export function formRoute<S extends FastifySchema>(schema: S) {
  return { schema, attachValidation: true } as const;
}
