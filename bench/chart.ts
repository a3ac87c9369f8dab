import { chromium } from 'playwright-core';

/** What the chart reads of a row of the report (report.ts's Row has more): Gatehouse's and bare's rate and CPU. */
interface Row {
  scenario: string;
  label: string;
  connections: number;
  g?: { rps: number; cpuMs: number };
  b?: { rps: number; cpuMs: number };
}

/**
 * bench/results.png: Gatehouse ÷ bare oidc-provider per scenario and connection count,
 * throughput on the left (target ≥ 0.90; the hosted login against argon2id alone, ≥ 0.80) and
 * server CPU per request on the right (target ≤ 1.15), drawn as SVG and photographed with
 * Debian's Chromium (CHROMIUM_PATH overrides).
 */
const COLORS: Record<number, string> = { 1: '#9db4d8', 16: '#4a78c2', 64: '#1d3f7a' };
const ROW_H = 16;
const GAP = 12;
const TOP = 56;
const LABEL_W = 240;
const PANEL_W = 360;
const TEXT_W = 170;

interface Bar {
  c: number;
  value: number;
  text: string;
}

interface Group {
  label: string;
  throughput: Bar[];
  cpu: Bar[];
}

function groupsOf(rows: Row[]): Group[] {
  const scenarios = [...new Set(rows.map((r) => r.scenario))].sort((a, b) => Number(a === 'login') - Number(b === 'login'));
  return scenarios
    .map((s) => rows.filter((r) => r.scenario === s && r.g && r.b))
    .filter((rs) => rs.length)
    .map((rs) => {
      const login = rs[0]!.scenario === 'login';
      return {
        label: login ? 'hosted login ÷ argon2id alone' : rs[0]!.label,
        throughput: rs.map((r) => ({ c: r.connections, value: r.g!.rps / r.b!.rps, text: `${(r.g!.rps / r.b!.rps).toFixed(2)}  (${r.g!.rps.toFixed(login ? 1 : 0)} vs ${r.b!.rps.toFixed(login ? 1 : 0)}/s)` })),
        cpu: login ? [] : rs.map((r) => ({ c: r.connections, value: r.g!.cpuMs / r.b!.cpuMs, text: `${(r.g!.cpuMs / r.b!.cpuMs).toFixed(2)}  (${r.g!.cpuMs.toFixed(2)} vs ${r.b!.cpuMs.toFixed(2)} ms)` })),
      };
    });
}

function panel(groups: Group[], pick: (g: Group) => Bar[], x0: number, title: string, targets: { value: number; label: string }[]) {
  const values = groups.flatMap((g) => pick(g).map((b) => b.value));
  const max = Math.max(1.5, Math.ceil(Math.max(...values) * 2) / 2);
  const scale = (v: number) => (Math.min(v, max) / max) * PANEL_W;
  const height = groups.reduce((y, g) => y + Math.max(1, g.throughput.length) * ROW_H + GAP, TOP);
  const parts = [`<text x="${x0}" y="${TOP - 16}" class="title">${title}</text>`];
  const step = max > 3 ? 1 : 0.5;
  for (let v = 0; v <= max + 1e-9; v += step) {
    parts.push(`<line x1="${x0 + scale(v)}" x2="${x0 + scale(v)}" y1="${TOP - 6}" y2="${height - GAP}" class="grid"/>`);
    parts.push(`<text x="${x0 + scale(v)}" y="${height + 6}" class="axis">${v}</text>`);
  }
  let y = TOP;
  for (const group of groups) {
    for (const bar of pick(group)) {
      const w = Math.max(1, scale(bar.value));
      parts.push(`<rect x="${x0}" y="${y}" width="${w}" height="${ROW_H - 3}" fill="${COLORS[bar.c] ?? '#888'}"/>`);
      parts.push(`<text x="${x0 + w + 4}" y="${y + ROW_H - 5}" class="val">${bar.text}</text>`);
      y += ROW_H;
    }
    y += (Math.max(1, group.throughput.length) - pick(group).length) * ROW_H + GAP;
  }
  for (const [i, t] of targets.entries()) {
    const tx = x0 + scale(t.value);
    parts.push(`<line x1="${tx}" x2="${tx}" y1="${TOP - 6}" y2="${height - GAP}" class="target"/>`);
    parts.push(`<text x="${tx + 3}" y="${height + 20 + i * 12}" class="note">${t.label}</text>`);
  }
  return { svg: parts.join(''), height: height + 20 + targets.length * 12 };
}

export function chartSvg(rows: Row[], subtitle: string): string {
  const groups = groupsOf(rows);
  const hasLogin = groups.some((g) => g.cpu.length === 0);
  const left = panel(groups, (g) => g.throughput, LABEL_W, 'Throughput, Gatehouse ÷ bare (higher is better)', [
    { value: 0.9, label: 'target 0.90' },
    ...(hasLogin ? [{ value: 0.8, label: 'login target 0.80' }] : []),
  ]);
  const rightX = LABEL_W + PANEL_W + TEXT_W;
  const right = panel(groups, (g) => g.cpu, rightX, 'Server CPU per request, Gatehouse ÷ bare (lower is better)', [{ value: 1.15, label: 'target 1.15' }]);
  const labels: string[] = [];
  let y = TOP;
  for (const group of groups) {
    const h = group.throughput.length * ROW_H;
    labels.push(`<text x="${LABEL_W - 8}" y="${y + h / 2 + 2}" class="label" text-anchor="end">${group.label}</text>`);
    y += h + GAP;
  }
  const bottom = Math.max(left.height, right.height) + 8;
  const legend = Object.entries(COLORS)
    .map(([c, color], i) => `<rect x="${LABEL_W + i * 130}" y="${bottom}" width="12" height="12" fill="${color}"/><text x="${LABEL_W + i * 130 + 16}" y="${bottom + 10}" class="val">${c} connection${c === '1' ? '' : 's'}</text>`)
    .join('');
  const width = rightX + PANEL_W + TEXT_W;
  const height = bottom + 24;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<style>
text { font-family: 'DejaVu Sans', sans-serif; fill: #222; }
.title { font-size: 13px; font-weight: bold; } .sub { font-size: 11px; fill: #555; } .label { font-size: 12px; } .val { font-size: 10px; fill: #333; }
.axis { font-size: 10px; fill: #666; text-anchor: middle; } .note { font-size: 10px; fill: #b02020; }
.target { stroke: #b02020; stroke-width: 1.5; stroke-dasharray: 4 3; } .grid { stroke: #e4e4e4; stroke-width: 1; }
</style>
<rect width="100%" height="100%" fill="white"/>
<text x="12" y="18" class="sub">${subtitle}</text>${left.svg}${right.svg}${labels.join('')}${legend}</svg>`;
}

export async function renderChart(rows: Row[], subtitle: string, file: string) {
  const svg = chartSvg(rows, subtitle);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ deviceScaleFactor: 1.5 });
    await page.setContent(`<!doctype html><html><body style="margin:0;background:white">${svg}</body></html>`);
    await page.locator('svg').screenshot({ path: file });
  } finally {
    await browser.close();
  }
}
