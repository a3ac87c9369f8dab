import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { AppError } from '../errors.ts';

/**
 * What the CLI's command modules share: option parsing whose errors name the option, one JSON
 * value per line on stdout, and field problems said as the option that carried the field.
 */

/** Bad command-line input: the CLI prints its one-line message and exits 64. */
export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
  }
}

/** Prints one JSON value as one line on stdout. */
export function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Parses options; an unknown or malformed option is a usage error naming it. */
export function parseOptions<O extends ParseArgsOptionsConfig>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliUsageError((err as Error).message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, ''));
  }
}

/** `a,b` → `['a', 'b']` (spaces and empty items dropped). */
export function commaList(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * A field problem (a ValidationError or a client metadata error) said as the option that set
 * the field, with its rule: `--password: use at least 12 characters`. `options` maps field
 * names to options; other errors pass unchanged.
 */
export function asOptionError(err: unknown, options: Record<string, string>): unknown {
  if (!(err instanceof AppError) || !err.fields) return err;
  const [field, problem] = Object.entries(err.fields)[0] ?? [];
  if (!field) return err;
  const option = options[field] ?? `--${field.replace(/_/g, '-')}`;
  // A client metadata problem repeats its field's name first; the option says it already.
  const rule = String(problem).replace(new RegExp(`^${field}:? `), '');
  return new CliUsageError(`${option}: ${rule}`);
}

/** One positional argument (an id or e-mail address), and nothing else, or a usage error. */
export function onePositional(positionals: string[], what: string, command: string): string {
  if (positionals.length !== 1) throw new CliUsageError(`${command} needs ${what}${positionals.length > 1 ? ' (one only)' : ''}`);
  return positionals[0]!;
}
