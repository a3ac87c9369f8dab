import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from './server.ts';

const run = promisify(execFile);

export interface RedisClusterNode {
  port: number;
  process: ChildProcess;
}

export interface TestRedisCluster {
  nodes: RedisClusterNode[];
  /** `host:port,...` as REDIS_CLUSTER_NODES takes it. */
  nodesEnv: string;
  /** Kills one node's process (SIGKILL: a machine that died, not a shutdown). */
  kill(node: RedisClusterNode): Promise<void>;
  /** `redis-cli` against one node. */
  cli(node: RedisClusterNode, ...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of `masters` masters, started from the machine's redis-server in a temporary
 * directory on free ports, with a short node timeout so a dead master is noticed in seconds.
 */
export async function startRedisCluster({ masters = 3, nodeTimeoutMs = 2000 } = {}): Promise<TestRedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-redis-cluster-'));
  const nodes: RedisClusterNode[] = [];
  const cli = async (node: RedisClusterNode, ...args: string[]) => (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(node.port), ...args])).stdout.trim();
  const stop = async () => {
    for (const node of nodes) if (node.process.exitCode === null && node.process.signalCode === null) node.process.kill('SIGKILL');
    await Promise.all(nodes.map((n) => (n.process.exitCode === null && n.process.signalCode === null ? new Promise((r) => n.process.once('exit', r)) : undefined)));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      const child = spawn(
        'redis-server',
        [
          '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
          '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout', String(nodeTimeoutMs), '--dir', dir,
        ],
        { stdio: 'ignore' },
      );
      nodes.push({ port, process: child });
    }
    for (const node of nodes) {
      for (let tries = 0; ; tries++) {
        if ((await cli(node, 'ping').catch(() => '')) === 'PONG') break;
        if (tries > 100) throw new Error(`redis-server on ${node.port} did not start`);
        await sleep(50);
      }
    }
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    for (const node of nodes) {
      for (let tries = 0; !(await cli(node, 'cluster', 'info')).includes('cluster_state:ok'); tries++) {
        if (tries > 200) throw new Error(`the cluster did not become ready on ${node.port}`);
        await sleep(50);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes,
    nodesEnv: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    async kill(node) {
      node.process.kill('SIGKILL');
      if (node.process.exitCode === null && node.process.signalCode === null) await new Promise((r) => node.process.once('exit', r));
    },
    cli,
    stop,
  };
}
