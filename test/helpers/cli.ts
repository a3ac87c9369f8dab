import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Env } from '../../src/config.ts';

const BIN = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `gatehouse <args>` as a user would (`npx gatehouse`), with only `env` configured. */
export function runCli(args: string[], env: Env): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The one JSON object a creating command prints. */
export function json<T = Record<string, unknown>>(result: CliResult): T {
  const lines = result.stdout.trim().split('\n');
  if (result.code !== 0 || lines.length !== 1) throw new Error(`expected one JSON line, got code ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return JSON.parse(lines[0]!) as T;
}
