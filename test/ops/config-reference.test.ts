import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../../config/defaults.ts';
import { isLeaf, walk } from '../../config/values.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { README, withReference } from '../../scripts/config-reference.ts';

const readme = readFileSync(README, 'utf8');
const configuration = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('### Reference'));

function problems(env: Record<string, string>) {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

function withFile<T>(name: string, text: string, use: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-readme-'));
  try {
    writeFileSync(join(dir, name), text);
    return use(join(dir, name));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('README configuration reference', () => {
  test('is current with config/defaults.ts (else run `npm run config:reference`)', () => {
    assert.equal(withReference(readme), readme, 'README.md is out of date: run `npm run config:reference`');
    const script = fileURLToPath(new URL('../../scripts/config-reference.ts', import.meta.url));
    execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' });
  });

  test('lists every key, with its variable where it has one', () => {
    for (const node of walk(configSchema).filter(isLeaf)) {
      const line = readme.split('\n').find((l) => l.startsWith(`| \`${node.path.join('.')}\` |`));
      assert.ok(line, `${node.path.join('.')} is missing from the reference`);
      if (node.doc.env) assert.ok(line.includes(`\`${node.doc.env}\``), `${node.path.join('.')} does not name ${node.doc.env}`);
    }
    for (const variable of ['BRAND_NAME', 'BRAND_LOGO_URL', 'BRAND_COLOR', 'GATEHOUSE_CONFIG', 'NODE_ENV', 'SECRETS']) {
      assert.ok(readme.includes(`| \`${variable}\` |`), `${variable} is missing`);
    }
  });

  test('the YAML example is a valid configuration file', () => {
    const example = /```yaml\n([\s\S]*?)```/.exec(configuration)?.[1];
    assert.ok(example, 'the Configuration section shows a YAML example');
    const config = withFile('gatehouse.yaml', example, (path) => loadConfig({ GATEHOUSE_CONFIG: path }));
    assert.equal(config.issuer, 'https://id.example.com');
    assert.equal(config.rateLimits.register.windowSeconds, 600, 'as the README says');
  });

  test('the example problems are what Gatehouse says', () => {
    const shown = configuration.split('\n').filter((l) => l.startsWith('gatehouse: configuration: ')).map((l) => l.slice('gatehouse: configuration: '.length));
    assert.equal(shown.length, 3);
    const found = withFile('gatehouse.yaml', 'rateLimits:\n  register: { max: x }\nrateLimitz: {}\n', (path) => problems({ GATEHOUSE_CONFIG: path, PORT: 'abc' }));
    assert.deepEqual(found.sort(), shown.sort());
  });
});
