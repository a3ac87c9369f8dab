import { pino, type Logger } from 'pino';

/**
 * The log of a process without a Fastify server (the worker, the CLI): pino, as the server
 * logs, so every process writes the same JSON lines. On stderr (fd 2), because the CLI's
 * stdout is its answer, one JSON object and nothing else (CONTRACT.md); written synchronously,
 * so a CLI that exits right after a line has still written it.
 */
export function createLog(level: string, name: string): Logger {
  return pino({ name, level }, pino.destination({ fd: 2, sync: true }));
}
