import { Redis } from 'ioredis';

/**
 * A Redis client that fails fast: with the offline queue off, a command issued while Redis
 * is down rejects at once (a clear 503) instead of waiting in memory for a reconnect.
 */
export async function openRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  // Connection errors are reported by the commands that fail and by /readyz.
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (err) {
    // Without this the client keeps reconnecting in the background and the process never exits.
    redis.disconnect();
    throw err;
  }
  return redis;
}
