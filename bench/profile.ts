import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Summarises the V8 CPU profile Gatehouse wrote under `--cpu-prof` (`npm run bench --
 * --profile --only cc-opaque`), counting only the samples taken while the bench loaded
 * Gatehouse (`windows`, in µs of the monotonic clock, which V8's profile timestamps use too):
 * self time by file (node_modules packages collapsed), the top functions by self time, and
 * the inclusive time of each package and of Gatehouse's own files (a sample counts once for
 * every file on its stack), all in percent of the busy samples (idle excluded).
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const ROOT = new URL('..', import.meta.url).href;
const IDLE = new Set(['(idle)']);

function fileOf(url: string): string {
  if (!url) return '(V8: GC, builtins, native)';
  const rel = url.startsWith(ROOT) ? url.slice(ROOT.length) : url;
  const pkg = rel.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  return pkg ? pkg[1]! : rel;
}

function top(map: Map<string, number>, total: number, n: number) {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}`)
    .join('\n');
}

export async function summariseProfile(dir: string, windows: [number, number][] = [], n = 20) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (!files.length) return void process.stderr.write(`no .cpuprofile in ${dir}\n`);
  const profile = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const self = new Map<string, number>();
  const selfFn = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  let t = profile.startTime;
  for (const [i, id] of profile.samples.entries()) {
    t += profile.timeDeltas[i] ?? 0;
    if (windows.length && !windows.some(([a, b]) => t >= a && t <= b)) continue;
    const leaf = byId.get(id)!;
    if (IDLE.has(leaf.callFrame.functionName)) continue;
    busy++;
    const { functionName, url, lineNumber } = leaf.callFrame;
    const file = fileOf(url);
    self.set(file, (self.get(file) ?? 0) + 1);
    const fn = `${functionName || '(anonymous)'}${url ? ` (${file}:${lineNumber + 1})` : ''}`;
    selfFn.set(fn, (selfFn.get(fn) ?? 0) + 1);
    const onStack = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = parent.get(node)) {
      const u = byId.get(node)!.callFrame.url;
      if (u) onStack.add(fileOf(u));
    }
    for (const f of onStack) inclusive.set(f, (inclusive.get(f) ?? 0) + 1);
  }
  const own = new Map([...inclusive].filter(([f]) => f.startsWith('src/')));
  const packages = new Map([...inclusive].filter(([f]) => !f.startsWith('src/') && !f.startsWith('node:')));
  process.stdout.write(
    [
      `\nGatehouse CPU profile (${join(dir, files[0]!)}): ${busy} busy samples while under load`,
      `\nSelf time by file or package:\n${top(self, busy, n)}`,
      `\nTop functions by self time:\n${top(selfFn, busy, n)}`,
      `\nInclusive time by package (on the stack):\n${top(packages, busy, n)}`,
      `\nInclusive time of Gatehouse's own files:\n${top(own, busy, n)}\n`,
    ].join('\n'),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await summariseProfile(process.argv[2] ?? '.');
