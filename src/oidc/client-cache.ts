import { duplicateLazy, type RedisClient } from '../redis.ts';
import type { Knex } from 'knex';
import pg from 'pg';

/**
 * How every instance learns that a client changed: the writer publishes the client id, every
 * instance's listener drops its cached copy. Redis pub/sub when Redis is configured (one
 * dedicated subscriber connection: a subscribed ioredis connection can run nothing else),
 * Postgres LISTEN/NOTIFY otherwise (one dedicated pg connection).
 *
 * The embedded database has no listener: pglite-socket multiplexes every connection onto PGlite's
 * single backend session, so a NOTIFY is delivered to the session that sent it, never to
 * another connection's LISTEN. There the cache lives for EMBEDDED_TTL_MS only (the CLI and the
 * worker attached to a running server's database are the other writers).
 */
export interface ClientInvalidation {
  publish(clientId: string): Promise<void>;
  /** Starts listening; `onChange(id)` per change, `onChange(undefined)` when changes may have been missed. */
  listen(onChange: (clientId: string | undefined) => void, onState: (listening: boolean) => void): void;
  close(): Promise<void>;
}

const PG_CHANNEL = 'gatehouse_clients';

export function redisInvalidation(redis: RedisClient, prefix: string): ClientInvalidation {
  const channel = `${prefix}clients:changed`;
  let subscriber: RedisClient | undefined;
  return {
    async publish(clientId) {
      await redis.publish(channel, clientId);
    },
    listen(onChange, onState) {
      const sub = duplicateLazy(redis);
      subscriber = sub;
      sub.on('error', () => {});
      // While the subscription is down, messages are lost: the cache is bypassed and emptied.
      sub.on('close', () => onState(false));
      sub.on('message', (_channel: string, id: string) => onChange(id));
      sub.on('ready', () => {
        void sub.subscribe(channel).then(
          () => {
            onChange(undefined);
            onState(true);
          },
          () => onState(false),
        );
      });
      sub.connect().catch(() => onState(false));
    },
    async close() {
      subscriber?.disconnect();
    },
  };
}

export function postgresInvalidation(knex: Knex, url: string): ClientInvalidation {
  let listener: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  return {
    async publish(clientId) {
      await knex.raw('select pg_notify(?, ?)', [PG_CHANNEL, clientId]);
    },
    listen(onChange, onState) {
      const connect = () => {
        if (closed) return;
        const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
        listener = client;
        const lost = () => {
          onState(false);
          client.removeAllListeners();
          client.on('error', () => {});
          void client.end().catch(() => {});
          if (!closed) retry = setTimeout(connect, 1000).unref();
        };
        client.on('error', lost);
        client.on('end', () => !closed && lost());
        client.on('notification', (msg) => msg.channel === PG_CHANNEL && onChange(msg.payload));
        client
          .connect()
          .then(() => client.query(`listen ${PG_CHANNEL}`))
          .then(() => {
            onChange(undefined);
            onState(true);
          }, lost);
      };
      connect();
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      await listener?.end().catch(() => {});
    },
  };
}

/** Publishes only (the CLI, the worker, the embedded database): nobody here listens. */
export function publishOnly(publish: (clientId: string) => Promise<void>): ClientInvalidation {
  return { publish, listen: () => {}, close: async () => {} };
}

interface Entry<T> {
  value: T | undefined;
  until: number;
}

/**
 * A bounded map of client id → decrypted metadata. Served only while the listener is up (the
 * embedded database, with no listener, turns it on for its short TTL). Unknown ids are not cached: made-up
 * ids would only push real clients out, and each costs the primary-key read it costs today.
 * The size bound caps memory whatever ids are asked for.
 */
export function createClientCache<T>({ ttlMs, max, now = Date.now }: { ttlMs: number; max: number; now?: () => number }) {
  const entries = new Map<string, Entry<T>>();
  let listening = false;
  // Bumped on every invalidation: a read that started before one must not store what it read.
  let generation = 0;

  return {
    get(id: string): T | undefined {
      if (!listening) return undefined;
      const hit = entries.get(id);
      if (!hit) return undefined;
      if (hit.until <= now()) {
        entries.delete(id);
        return undefined;
      }
      return hit.value;
    },
    generation: () => generation,
    set(id: string, value: T, readAtGeneration: number) {
      if (!listening || readAtGeneration !== generation) return;
      entries.delete(id);
      if (entries.size >= max) entries.delete(entries.keys().next().value!);
      entries.set(id, { value, until: now() + ttlMs });
    },
    invalidate(id: string | undefined) {
      generation++;
      if (id === undefined) entries.clear();
      else entries.delete(id);
    },
    setListening(up: boolean) {
      generation++;
      listening = up;
      if (!up) entries.clear();
    },
    get size() {
      return entries.size;
    },
  };
}
