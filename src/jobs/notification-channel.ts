import { PostgresNotificationChannel } from '@agendajs/postgres-backend';
import type pg from 'pg';

type State = PostgresNotificationChannel['state'];

/** Reconnect delays: doubling from the first to the cap, for as long as the outage lasts. */
export const RECONNECT_DELAYS = { initialMs: 100, maxMs: 5_000 };

/**
 * Agenda's LISTEN/NOTIFY channel on Postgres, reconnecting with a capped exponential backoff.
 * The library's own backoff never grows: its `connect()` resets the attempt count before
 * trying, so a dead Postgres was retried every 100 ms for the whole outage (issue 15, finding
 * 9); and its attempt limit, were it reached, would end reconnecting for good. Here the count
 * resets once connected, each delay doubles up to the cap, and retrying stops only on
 * `disconnect()`.
 */
export class BackoffNotificationChannel extends PostgresNotificationChannel {
  /** Reconnect attempts since the channel was last connected (the log says how many it took). */
  attempts = 0;
  private stopped = false;
  private readonly delays: typeof RECONNECT_DELAYS;

  constructor(pool: pg.Pool, channelName: string, delays = RECONNECT_DELAYS) {
    super({ channelName, reconnect: { enabled: true } });
    this.delays = delays;
    this.setPool(pool);
  }

  override async connect() {
    this.stopped = false;
    return super.connect();
  }

  override async disconnect() {
    this.stopped = true;
    return super.disconnect();
  }

  // Called by the library at the start of every connect(): keeps the count, drops the timer.
  protected override clearReconnect() {
    clearTimeout(this.reconnectTimeout);
    this.reconnectTimeout = undefined;
  }

  protected override setState(state: State) {
    super.setState(state); // 'stateChange' listeners still see how many attempts it took
    if (state === 'connected' || state === 'disconnected') this.attempts = 0;
  }

  protected override scheduleReconnect() {
    if (this.stopped || this.reconnectTimeout) return;
    const delay = Math.min(this.delays.initialMs * 2 ** this.attempts, this.delays.maxMs);
    this.attempts++;
    this.setState('reconnecting');
    this.reconnectTimeout = setTimeout(() => {
      this.reconnectTimeout = undefined;
      // A failed attempt has emitted its 'error' and scheduled the next one already.
      this.connect().catch(() => {});
    }, delay);
    this.reconnectTimeout.unref();
  }
}
