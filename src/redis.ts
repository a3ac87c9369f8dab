import { Cluster, Redis } from 'ioredis';

/**
 * Redis as Gatehouse uses it: one server (`REDIS_URL`) or a Redis Cluster
 * (`REDIS_CLUSTER_NODES`). Every multi-key operation keeps its keys in one hash slot (hash
 * tags, `{...}`) or is split into single-key commands, so both work the same.
 */
export type RedisClient = Redis | Cluster;

// Fail fast: with the offline queue off, a command issued while Redis is down rejects at once
// (a clear 503) instead of waiting in memory for a reconnect.
const FAIL_FAST = { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5000 } as const;
const backoff = (times: number) => Math.min(times * 200, 2000);

/** Where Redis is: a URL, or the nodes of a cluster. */
export type RedisTarget = { url: string } | { clusterNodes: string[] };

export async function openRedis(target: RedisTarget): Promise<RedisClient> {
  const redis =
    'url' in target
      ? new Redis(target.url, { ...FAIL_FAST, lazyConnect: true, retryStrategy: backoff })
      : new Cluster(
          target.clusterNodes.map((node) => ({ host: node.slice(0, node.lastIndexOf(':')), port: Number(node.slice(node.lastIndexOf(':') + 1)) })),
          {
            lazyConnect: true,
            enableOfflineQueue: false,
            clusterRetryStrategy: backoff,
            // A failover moves slots: follow MOVED/ASK and re-read the slot map a few times, but
            // answer within about half a second (a 503 the client may retry beats a hung request).
            maxRedirections: 5,
            retryDelayOnFailover: 100,
            retryDelayOnClusterDown: 100,
            retryDelayOnTryAgain: 100,
            slotsRefreshTimeout: 1000,
            redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 1000 },
          },
        );
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

/** The target the configuration names, if any. */
export function redisTarget(config: { redisUrl?: string; redisClusterNodes?: string[] }): RedisTarget | undefined {
  if (config.redisClusterNodes?.length) return { clusterNodes: config.redisClusterNodes };
  if (config.redisUrl) return { url: config.redisUrl };
  return undefined;
}

/** A second connection to the same Redis, not yet connected (a subscriber needs its own). */
export function duplicateLazy(redis: RedisClient): RedisClient {
  return redis instanceof Cluster ? redis.duplicate(undefined, { lazyConnect: true }) : redis.duplicate({ lazyConnect: true });
}

/**
 * The readiness check: PING for one server; for a cluster, whether it serves every slot (a
 * node answers PING while the cluster it is in refuses commands, CLUSTERDOWN).
 */
export async function checkRedis(redis: RedisClient): Promise<void> {
  if (!(redis instanceof Cluster)) {
    await redis.ping();
    return;
  }
  const info = (await redis.cluster('INFO')) as string;
  if (!/^cluster_state:ok\s*$/m.test(info)) throw new Error('the Redis Cluster does not serve every slot (cluster_state:fail)');
}
