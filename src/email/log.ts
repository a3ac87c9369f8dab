import type { Log } from './outbox.service.ts';

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;

/** JSON lines on stderr in pino's shape, for processes without a Fastify logger (worker, CLI). */
export function createLog(level: string, name: string): Log {
  const min = LEVELS[level as keyof typeof LEVELS] ?? LEVELS.info;
  const write = (lvl: number) => (obj: object, msg?: string) => {
    if (lvl >= min) process.stderr.write(`${JSON.stringify({ level: lvl, time: Date.now(), pid: process.pid, name, ...obj, msg })}\n`);
  };
  return { info: write(LEVELS.info), warn: write(LEVELS.warn), error: write(LEVELS.error) };
}
