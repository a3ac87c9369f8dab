import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

/**
 * Reads the GATEHOUSE_CONFIG file: JSON when its name ends in `.json`, YAML otherwise. Any
 * reason it cannot be used is one line (`problem`), said without the contents, which may hold
 * secrets. Validation of what it says is src/config.ts's.
 */
export function readConfigFile(path: string): { value: Record<string, unknown> } | { problem: string } {
  const full = resolve(path);
  let source: string;
  try {
    source = readFileSync(full, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a directory, not a file' : (err as Error).message;
    return { problem: `cannot read ${full}: ${why}` };
  }

  let value: unknown;
  if (full.toLowerCase().endsWith('.json')) {
    try {
      value = JSON.parse(source);
    } catch (err) {
      return { problem: `${full} is not valid JSON: ${(err as Error).message}` };
    }
  } else {
    try {
      // YAML 1.2 core schema: `yes`/`no` stay strings; a key given twice is an error.
      value = parseYaml(source);
    } catch (err) {
      // The message goes on with the offending line quoted: the first line says what and where.
      const what = (err as Error).message.split('\n')[0]!.replace(/:$/, '');
      return { problem: `${full} is not valid YAML: ${what}` };
    }
  }
  // An empty file says nothing, which is valid.
  if (value === null || value === undefined) return { value: {} };
  if (typeof value !== 'object' || Array.isArray(value)) {
    return { problem: `${full} must hold a mapping of configuration keys, got ${Array.isArray(value) ? 'a list' : `a ${typeof value}`}` };
  }
  return { value: value as Record<string, unknown> };
}
