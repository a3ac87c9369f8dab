import { z } from 'zod';

/**
 * The kinds of value a configuration key holds, and how a key is declared (`key`, `group`).
 * config/defaults.ts declares every key with these; src/config.ts loads them from the file
 * and the environment; scripts/config-reference.ts writes the README's reference from them.
 *
 * A kind has one schema and one sentence saying what it accepts (`expected`): that sentence
 * is the whole error message and the README's type column, so the two cannot disagree. An
 * environment variable is a string, so each kind also says how to read one (`fromEnv`); what
 * it reads is then validated by the same schema as a value from the file.
 */

/** What the README and the error messages know about one key. */
export interface KeyDoc {
  /** What the key means (the README's last column). */
  doc: string;
  /** What it accepts, e.g. "a positive integer". */
  expected: string;
  /** The environment variable that sets it, if any. */
  env?: string;
  /** Reads that variable's string; anything it cannot read is passed on for the schema to refuse. */
  fromEnv?: (raw: string) => unknown;
  /** The default in words, for keys whose default is computed or absent. */
  defaultText?: string;
  /** `secret`: never shown in an error; `url`: shown with its password masked. */
  sensitive?: 'secret' | 'url';
}

export const keyDocs = z.registry<KeyDoc>();
/** Groups of keys (`rateLimits`, `throttle.account`, ...) have a sentence of their own. */
export const groupDocs = z.registry<{ doc: string }>();

export interface Kind<S extends z.ZodType = z.ZodType> {
  schema: S;
  expected: string;
  fromEnv: (raw: string) => unknown;
  sensitive?: KeyDoc['sensitive'];
}

const asIs = (raw: string) => raw;
const toInt = (raw: string) => (/^\s*-?\d+\s*$/.test(raw) ? Number(raw) : raw);

/** A whole number in [min, max]. */
export function int(min: number, max?: number, expected?: string): Kind<z.ZodNumber> {
  const text =
    expected ??
    (max !== undefined ? `an integer from ${min} to ${max}` : min === 1 ? 'a positive integer' : min === 0 ? 'an integer of 0 or more' : `an integer of ${min} or more`);
  let schema = z.number({ error: text }).int({ error: text }).min(min, { error: text });
  if (max !== undefined) schema = schema.max(max, { error: text });
  return { schema, expected: text, fromEnv: toInt };
}

export const bool: Kind<z.ZodBoolean> = {
  schema: z.boolean({ error: 'true or false' }),
  expected: 'true or false',
  fromEnv: (raw) => (raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw),
};

export function oneOf<const T extends readonly [string, ...string[]]>(values: T): Kind<z.ZodEnum<{ [K in T[number]]: K }>> {
  const text = `one of ${values.join(', ')}`;
  return { schema: z.enum(values, { error: text }), expected: text, fromEnv: asIs };
}

/** A string; `check` refines it (one rule, described by `expected`). */
export function text(expected: string, check: (v: string) => boolean = (v) => v.length > 0): Kind<z.ZodString> {
  return { schema: z.string({ error: expected }).refine(check, { error: expected }), expected, fromEnv: asIs };
}

/**
 * A string `problem` judges: undefined when fine, else why not. The reason is added to the
 * expected sentence (`expected ... (it has 4 fields)`), for checks that can say more than yes/no.
 */
export function judged(expected: string, problem: (v: string) => string | undefined): Kind<z.ZodString> {
  const schema = z.string({ error: expected }).superRefine((v, ctx) => {
    const why = problem(v);
    if (why) ctx.addIssue({ code: 'custom', message: `${expected} (${why})` });
  });
  return { schema: schema as unknown as z.ZodString, expected, fromEnv: asIs };
}

function parsesAs(v: string, protocols: string[]) {
  try {
    return protocols.includes(new URL(v).protocol);
  } catch {
    return false;
  }
}

/** A URL with one of the given schemes (`['http:', 'https:']`); `more` adds a rule to the sentence. */
export function url(protocols: string[], more?: { expected: string; check: (v: string) => boolean }): Kind<z.ZodString> {
  const base = `a URL with scheme ${protocols.map((p) => p.replace(':', '')).join(' or ')}`;
  const kind = text(more ? `${base} ${more.expected}` : base, (v) => parsesAs(v, protocols) && (more?.check(v) ?? true));
  return { ...kind, sensitive: 'url' };
}

/** A list of strings; the environment gives it comma-separated. */
export function list(expected: string, item: (v: string) => boolean = (v) => v.length > 0, { min = 0 } = {}): Kind<z.ZodArray<z.ZodString>> {
  const schema = z.array(z.string({ error: expected }).refine(item, { error: expected }), { error: expected }).min(min, { error: expected });
  return {
    schema,
    expected,
    fromEnv: (raw) => raw.split(',').map((s) => s.trim()).filter(Boolean),
  };
}

/** Fastify's trustProxy: true, false, a hop count, or addresses (comma-separated). */
export const trustProxy: Kind<z.ZodUnion<[z.ZodBoolean, z.ZodNumber, z.ZodString]>> = (() => {
  const expected = 'true, false, a number of proxy hops, or comma-separated proxy addresses';
  return {
    schema: z.union([z.boolean(), z.number().int().min(0), z.string().min(1)], { error: expected }),
    expected,
    fromEnv: (raw) => (raw === 'true' ? true : raw === 'false' ? false : /^\d+$/.test(raw) ? Number(raw) : raw),
  };
})();

/** A key with a default. `doc` says what it means; config/defaults.ts is the one place keys are declared. */
export function key<S extends z.ZodType>(
  kind: Kind<S>,
  value: z.util.NoUndefined<z.input<S>>,
  doc: string,
  options: { env?: string; defaultText?: string; sensitive?: KeyDoc['sensitive'] } = {},
) {
  const schema = kind.schema.default(value as never);
  keyDocs.add(schema, { doc, expected: kind.expected, fromEnv: kind.fromEnv, sensitive: kind.sensitive, ...options });
  return schema;
}

/** A key without a default: unset unless the file or the environment sets it. */
export function optionalKey<S extends z.ZodType>(kind: Kind<S>, doc: string, options: { env?: string; defaultText?: string; sensitive?: KeyDoc['sensitive'] } = {}) {
  const schema = kind.schema.optional();
  keyDocs.add(schema, { doc, expected: kind.expected, fromEnv: kind.fromEnv, sensitive: kind.sensitive, defaultText: 'unset', ...options });
  return schema;
}

/** Keys that belong together; unknown keys in it are refused (a typo must not pass silently). */
export function group<T extends z.ZodRawShape>(doc: string, shape: T) {
  const schema = z.strictObject(shape).prefault({} as never);
  groupDocs.add(schema, { doc });
  return schema;
}

/** One key of the schema, found by walking it. */
export interface Leaf {
  path: string[];
  schema: z.ZodType;
  doc: KeyDoc;
}

export interface Branch {
  path: string[];
  object: z.ZodObject;
  doc?: string;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  return s;
}

/** Every key and group of `schema`, depth first, in declaration order. */
export function walk(schema: z.ZodObject, path: string[] = []): (Leaf | Branch)[] {
  const out: (Leaf | Branch)[] = [];
  for (const [name, child] of Object.entries(schema.shape) as [string, z.ZodType][]) {
    const inner = unwrap(child);
    const here = [...path, name];
    if (inner instanceof z.ZodObject) {
      out.push({ path: here, object: inner, doc: groupDocs.get(child)?.doc });
      out.push(...walk(inner, here));
    } else {
      const doc = keyDocs.get(child);
      if (!doc) throw new Error(`configuration key ${here.join('.')} is declared without key() or optionalKey()`);
      out.push({ path: here, schema: child, doc });
    }
  }
  return out;
}

export const isLeaf = (node: Leaf | Branch): node is Leaf => 'schema' in node;

/** A request limit: at most `max` requests in a window of `windowSeconds`. */
export function limit(max: number, windowSeconds: number, what: string) {
  return group(what, {
    max: key(int(1), max, 'requests allowed in one window'),
    windowSeconds: key(int(1), windowSeconds, 'the window, in seconds, from the first request counted'),
  });
}

/** A limit counted per client when the client proves who it is, else per address (src/security/client-rate-key.ts). */
export function clientLimit(max: number, clientMax: number, windowSeconds: number, what: string) {
  return group(what, {
    max: key(int(1), max, 'requests allowed in one window from one address (no client, or a wrong secret)'),
    clientMax: key(int(1), clientMax, 'requests allowed in one window to one authenticated client'),
    windowSeconds: key(int(1), windowSeconds, 'the window, in seconds, from the first request counted'),
  });
}
