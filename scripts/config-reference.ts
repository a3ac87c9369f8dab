import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configSchema, defaults, ENV_ONLY } from '../config/defaults.ts';
import { isLeaf, walk } from '../config/values.ts';

/**
 * Writes the README's configuration reference from the schema (config/defaults.ts), between
 * the markers below: `npm run config:reference`. With `--check` it changes nothing and exits 1
 * when the README is not current (test/ops/config-reference.test.ts checks the same).
 */

export const BEGIN = '<!-- config-reference:begin: generated from config/defaults.ts by `npm run config:reference`; edit there, not here -->';
export const END = '<!-- config-reference:end -->';
export const README = fileURLToPath(new URL('../README.md', import.meta.url));

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const row = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
const code = (s: string) => `\`${s}\``;

const UNITS: [number, string][] = [
  [86_400, 'day'],
  [3_600, 'hour'],
  [60, 'minute'],
];

/** `1209600` (14 days): durations (keys in `ttl`, or named `...Seconds`, `...Ms`) also said in words. */
function defaultCell(value: unknown, path: string[]): string {
  const shown = code(typeof value === 'string' ? value : JSON.stringify(value));
  if (typeof value !== 'number' || value === 0) return shown;
  const name = path.at(-1)!;
  const inSeconds = name.endsWith('Seconds') || path[0] === 'ttl';
  const seconds = inSeconds ? value : name.endsWith('Ms') && value % 1000 === 0 ? value / 1000 : undefined;
  if (seconds === undefined) return shown;
  const unit = UNITS.find(([size]) => seconds >= size && seconds % size === 0);
  if (!unit) return name.endsWith('Ms') ? `${shown} (${seconds} s)` : shown;
  const n = seconds / unit[0];
  return `${shown} (${n} ${unit[1]}${n === 1 ? '' : 's'})`;
}

function valueAt(path: string[]): unknown {
  let cur: unknown = defaults;
  for (const p of path) cur = (cur as Record<string, unknown> | undefined)?.[p];
  return cur;
}

/** The reference: one row per key, a row per group saying what the keys under it are for. */
export function renderReference(): string {
  const rows = [row(['file key', 'variable', 'accepts', 'default', 'meaning']), row(Array(5).fill('---'))];
  for (const { env, doc } of ENV_ONLY) rows.push(row(['', code(env), '', '', doc]));
  for (const node of walk(configSchema)) {
    const key = code(node.path.join('.'));
    if (!isLeaf(node)) {
      rows.push(row([`**${key}**`, '', '', '', node.doc ?? '']));
      continue;
    }
    const { doc, expected, env, defaultText } = node.doc;
    const value = valueAt(node.path);
    rows.push(row([key, env ? code(env) : '', expected, value === undefined ? (defaultText ?? 'unset') : defaultCell(value, node.path), doc]));
  }
  return rows.join('\n');
}

/** `readme` with the reference between the markers replaced by the current one. */
export function withReference(readme: string): string {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${BEGIN} ... ${END} section`);
  return `${readme.slice(0, start + BEGIN.length)}\n${renderReference()}\n${readme.slice(end)}`;
}

if (import.meta.main) {
  const readme = readFileSync(README, 'utf8');
  const current = withReference(readme);
  if (process.argv.includes('--check')) {
    if (current !== readme) {
      process.stderr.write('README.md: the configuration reference is out of date; run `npm run config:reference`\n');
      process.exit(1);
    }
  } else if (current !== readme) {
    writeFileSync(README, current);
    process.stdout.write('README.md: configuration reference updated\n');
  } else process.stdout.write('README.md: configuration reference already current\n');
}
