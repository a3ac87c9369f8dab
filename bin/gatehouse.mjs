#!/usr/bin/env node
// `npx gatehouse`: runs src/cli.ts on Node 22+ (TypeScript by type stripping). When the `node`
// on PATH is older, it re-runs itself with the Node binary that `npm install` put in
// node_modules (the `node` package), so the CLI works on a machine whose system Node is 20.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = `${root}src/cli.ts`;
const major = Number(process.versions.node.split('.')[0]);
let node = process.execPath;
if (major < 22) {
  node = `${root}node_modules/node/bin/node`;
  if (!existsSync(node)) {
    process.stderr.write(`gatehouse: needs Node.js 22 or later (this is ${process.version}); run npm install first\n`);
    process.exit(1);
  }
}
const result = spawnSync(node, [cli, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
