import { resolve } from 'node:path';
import type { z } from 'zod';
import { configSchema, DEV_SECRET, PUBLISHED_SECRETS, type Settings } from '../config/defaults.ts';
import { isLeaf, walk, type KeyDoc, type Leaf } from '../config/values.ts';
import { readConfigFile } from './config-file.ts';

/**
 * The one place that reads the environment (CONTRACT.md, "Configuration"). Keys are declared,
 * with their defaults, in config/defaults.ts. Precedence: defaults < the GATEHOUSE_CONFIG file
 * < environment variables. The file and the environment are each validated by that one schema,
 * so a value is held to the same rules wherever it came from, and every problem of both is
 * reported at once, one line each, naming where the value came from.
 */

export type Env = Record<string, string | undefined>;

/** The typed configuration. config/defaults.ts documents each key. */
export type Config = Omit<Settings, 'issuer' | 'secrets' | 'devFeatures'> & {
  issuer: string;
  /** NODE_ENV=production. */
  production: boolean;
  /** Newest first. */
  secrets: string[];
  devFeatures: boolean;
};

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const FILE = 'GATEHOUSE_CONFIG';
const NODES = walk(configSchema);
const LEAVES = NODES.filter(isLeaf);
const dotted = (path: readonly PropertyKey[]) => path.map(String).join('.');

/** What a value is shown as in an error: never a secret, never a password inside a URL. */
function show(value: unknown, sensitive?: KeyDoc['sensitive']): string {
  if (value === undefined) return 'nothing';
  if (sensitive === 'secret') return 'a value not shown here';
  let s = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  if (sensitive === 'url') s = s.replace(/(\/\/[^/@:]*:)[^/@]*@/, '$1***@');
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function at(obj: unknown, path: readonly PropertyKey[]): unknown {
  let cur = obj;
  for (const p of path) cur = cur !== null && typeof cur === 'object' ? (cur as Record<PropertyKey, unknown>)[p] : undefined;
  return cur;
}

function setAt(obj: Record<string, unknown>, path: string[], value: unknown) {
  let cur = obj;
  for (const p of path.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
  cur[path.at(-1)!] = value;
}

const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `base` with `over` laid on top, mappings merged key by key; lists and values replaced. */
function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isMapping(v) && isMapping(out[k]) ? deepMerge(out[k], v) : v;
  return out;
}

/** The leaf whose path is the issue's, or the nearest one above it (an item of a list). */
function leafFor(path: readonly PropertyKey[]): Leaf | undefined {
  for (let n = path.length; n > 0; n--) {
    const key = dotted(path.slice(0, n));
    const leaf = LEAVES.find((l) => dotted(l.path) === key);
    if (leaf) return leaf;
  }
  return undefined;
}

/** Levenshtein distance, to suggest the key a typo meant. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

function unknownKey(parent: readonly PropertyKey[], name: string): string {
  const node = NODES.find((n) => !isLeaf(n) && dotted(n.path) === dotted(parent));
  const known = Object.keys(node && !isLeaf(node) ? node.object.shape : configSchema.shape);
  const near = known.filter((k) => distance(k, name) <= Math.max(1, Math.floor(k.length / 4))).sort((a, b) => distance(a, name) - distance(b, name));
  const where = `${FILE} ${dotted([...parent, name])}`;
  if (near.length) return `${where}: unknown key, did you mean ${dotted([...parent, near[0]!])}?`;
  return `${where}: unknown key, expected one of ${known.join(', ')}`;
}

/** One line per problem the schema found in `input`; `label` names where a key's value came from. */
function describeIssues(issues: z.core.$ZodIssue[], input: unknown, label: (leaf: Leaf | undefined, path: readonly PropertyKey[]) => string, raw: (leaf: Leaf) => unknown) {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const name of issue.keys) lines.push(unknownKey(issue.path, name));
      continue;
    }
    const leaf = leafFor(issue.path);
    if (leaf) {
      // A check that says why (config/values.ts `judged`) gives the reason after the sentence.
      const expected = issue.code === 'custom' && issue.message.startsWith(leaf.doc.expected) ? issue.message : leaf.doc.expected;
      lines.push(`${label(leaf, leaf.path)}: got ${show(raw(leaf), leaf.doc.sensitive)}, expected ${expected}`);
    } else {
      // A group given as something else than a mapping (`rateLimits: 5`).
      lines.push(`${label(undefined, issue.path)}: got ${show(at(input, issue.path))}, expected a mapping of ${issue.path.length ? dotted(issue.path) : 'configuration'} keys`);
    }
  }
  return lines;
}

/** The environment's values as a partial configuration, each read by its key's kind. */
function fromEnvironment(env: Env) {
  const input: Record<string, unknown> = {};
  for (const leaf of LEAVES) {
    const raw = leaf.doc.env ? env[leaf.doc.env] : undefined;
    if (raw !== undefined) setAt(input, leaf.path, leaf.doc.fromEnv ? leaf.doc.fromEnv(raw) : raw);
  }
  return input;
}

/**
 * Parse the file named by GATEHOUSE_CONFIG and the environment; throws ConfigError listing
 * every problem, one line each. `overrides` replace whole keys afterwards, unvalidated (tests).
 */
export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  // Empty strings count as unset, as docker-compose writes `VAR=` for "no value".
  const clean: Env = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const problems: string[] = [];

  let file: Record<string, unknown> = {};
  if (clean[FILE]) {
    const read = readConfigFile(clean[FILE]);
    if ('problem' in read) problems.push(`${FILE}: ${read.problem}`);
    else {
      const parsed = configSchema.safeParse(read.value);
      if (parsed.success) file = read.value;
      else problems.push(...describeIssues(parsed.error.issues, read.value, (_leaf, path) => `${FILE} ${dotted(path)}`, (leaf) => at(read.value, leaf.path)));
    }
  }
  const fromEnv = fromEnvironment(clean);
  const envParsed = configSchema.safeParse(fromEnv);
  if (!envParsed.success) problems.push(...describeIssues(envParsed.error.issues, fromEnv, (leaf) => leaf!.doc.env!, (leaf) => clean[leaf.doc.env!]));
  if (problems.length) throw new ConfigError(problems);

  // Both are valid on their own, so the merge is too (no rule spans two keys in the schema).
  const merged = deepMerge(file, fromEnv);
  const s = configSchema.parse(merged);
  const production = clean.NODE_ENV === 'production';
  const issuer = s.issuer ?? `http://localhost:${s.port}`;
  const secrets = s.secrets ?? [DEV_SECRET];
  const devFeatures = s.devFeatures ?? !production;

  /** Names where a key was set (its variable, else the file), or where to set it. */
  const name = (path: string) => {
    const leaf = LEAVES.find((l) => dotted(l.path) === path)!;
    const envName = leaf.doc.env;
    if (envName && clean[envName] !== undefined) return envName;
    if (at(file, leaf.path) !== undefined || !envName) return `${FILE} ${path}`;
    return envName;
  };
  const is = (path: string, value: string) => (name(path).startsWith(FILE) ? `${name(path)} is ${value}` : `${name(path)}=${value}`);

  if (s.redisUrl && s.redisClusterNodes) {
    problems.push(`${name('redisClusterNodes')}: got ${s.redisClusterNodes.join(',')}, expected either it or ${name('redisUrl')}, not both`);
  }
  if (s.jobsBackend === 'mongodb' && !s.mongodbUrl) {
    problems.push(`${name('mongodbUrl')}: got nothing, expected a mongodb:// URL when ${is('jobsBackend', 'mongodb')}`);
  }
  if (s.captcha.provider !== 'none' && (!s.captcha.siteKey || !s.captcha.secret)) {
    problems.push(
      `${name('captcha.secret')}: got ${s.captcha.secret ? 'a secret' : 'nothing'}, expected ${name('captcha.siteKey')} and ${name('captcha.secret')} when ${is('captcha.provider', s.captcha.provider)}`,
    );
  }
  if (s.passwordPolicy.maxLength < s.passwordPolicy.minLength) {
    problems.push(`${name('passwordPolicy.maxLength')}: got ${s.passwordPolicy.maxLength}, expected at least passwordPolicy.minLength (${s.passwordPolicy.minLength})`);
  }
  // The phases of a shutdown must end before its hard limit, or a normal close would exit 1.
  for (const [path, ms] of [['http.closeGraceMs', s.http.closeGraceMs], ['jobs.drainMs', s.jobs.drainMs]] as const) {
    if (ms >= s.shutdownTimeoutSeconds * 1000) {
      problems.push(`${name(path)}: got ${ms}, expected less than ${name('shutdownTimeoutSeconds')} (${s.shutdownTimeoutSeconds} s = ${s.shutdownTimeoutSeconds * 1000} ms)`);
    }
  }
  if (production) {
    const host = new URL(issuer).hostname;
    if (new URL(issuer).protocol !== 'https:' && host !== 'localhost' && host !== '127.0.0.1') {
      problems.push(`${name('issuer')}: got ${show(issuer)}, expected an https URL when NODE_ENV=production`);
    }
    if (devFeatures) problems.push(`${name('devFeatures')}: got "true", expected false when NODE_ENV=production`);
    if (secrets.includes(DEV_SECRET)) problems.push(`${name('secrets')}: got nothing, expected your own secrets when NODE_ENV=production`);
    else if (secrets.some((x) => PUBLISHED_SECRETS.includes(x))) {
      problems.push(`${name('secrets')}: got a sample secret published in Gatehouse's repository, expected your own secrets when NODE_ENV=production`);
    }
  }
  if (problems.length) throw new ConfigError(problems);

  return { ...s, issuer, production, secrets, devFeatures, dataDir: resolve(s.dataDir), ...overrides };
}
