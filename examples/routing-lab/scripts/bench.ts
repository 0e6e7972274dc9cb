#!/usr/bin/env node
// Per-step time of the demo-size PEER model in the page (the lab's worker, per backend) against the
// Node CLI (`npm run demo`), interleaved on the same machine. Usage:
//   node --conditions=source --import tsx examples/routing-lab/scripts/bench.ts [--steps 20] [--gpu-steps 8] [--backends cpu,webgl2] [--no-isolation]
// --no-isolation serves the page without COOP/COEP: the CPU backend's kernels then run on the worker's one thread.
// Prints a markdown table (median and quartiles of ms/step after 3 warm-up steps) and the load.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { buildLab, DIST, LAB_ROOT, serveStatic } from './server.js';
import { launch } from '../test/browser.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : fallback);
const steps = Number(opt('steps', '20'));
/** Steps of a GPU backend in the page (gpu.js on a software GPU takes seconds a step at this size). */
const gpuSteps = Number(opt('gpu-steps', '8'));
const backends = opt('backends', 'cpu').split(',');
const isolated = !args.includes('--no-isolation');
const WARMUP = 3;

function quartiles(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))]!;
  return `${q(0.5).toFixed(0)} (${q(0.25).toFixed(0)}–${q(0.75).toFixed(0)})`;
}

async function cliSteps(): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'myriad-bench-'));
  try {
    await promisify(execFile)(
      'node',
      [
        '--conditions=source',
        '--import',
        'tsx',
        'examples/train-lm/src/main.ts',
        '--steps',
        String(steps),
        '--eval-every',
        String(steps),
        '--quiet',
        '--sample',
        '1',
        '--out',
        dir,
      ],
      { cwd: resolve(LAB_ROOT, '../..'), timeout: 900_000 },
    );
    const recs = readFileSync(join(dir, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; elapsedSeconds: number });
    const t = recs.filter((r) => r.kind === 'train').map((r) => r.elapsedSeconds);
    return t.slice(1).map((v, i) => 1000 * (v - t[i]!));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function pageSteps(
  url: string,
  backend: string,
  steps: number,
): Promise<{ ms: number[]; name: string; device: string; note: string | null }> {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(`${url}?backend=${backend}&evalEvery=100000`);
    await page.waitForFunction('window.routingLab.info !== null', null, { timeout: 300_000 });
    await page.click('#train');
    await page.waitForFunction(`window.routingLab.step >= ${steps} || window.routingLab.lastError !== null`, null, {
      timeout: 1_800_000,
      polling: 500,
    });
    await page.click('#pause');
    const r = (await page.evaluate(
      '({ ms: window.routingLab.stepMs, name: window.routingLab.info.backend, device: window.routingLab.info.device, note: window.routingLab.info.backendNote, error: window.routingLab.lastError })',
    )) as { ms: number[]; name: string; device: string; note: string | null; error: string | null };
    if (r.error) throw new Error(`page on ${backend}: ${r.error}`);
    return r;
  } finally {
    await browser.close();
  }
}

await buildLab({ quiet: true });
const served = await serveStatic(DIST, 0, isolated);
const load0 = loadavg()[0]!;
const rows: string[] = [];
const cli = await cliSteps();
rows.push(
  `| Node CLI (\`npm run demo\`, ${steps} steps), CPU + WebAssembly | ${quartiles(cli.slice(WARMUP - 1))} | ${cli
    .slice(0, WARMUP - 1)
    .map(Math.round)
    .join(', ')} |`,
);
for (const b of backends) {
  const n = b === 'cpu' ? steps : gpuSteps;
  const r = await pageSteps(served.url, b, n);
  rows.push(
    `| page (Chromium ${b}, ${n} steps): ${r.name}, ${r.device}${r.note ? ` (${r.note})` : ''} | ${quartiles(r.ms.slice(WARMUP))} | ${r.ms.slice(0, WARMUP).map(Math.round).join(', ')} |`,
  );
}
await served.close();
console.log(
  `\ndemo-size PEER model (dim 64, 3 blocks, 64² experts, 8 heads × top-8), batch 16 × 64; first ${WARMUP} steps dropped (shown apart)`,
);
console.log(`machine: ${cpus()[0]?.model} × ${cpus().length}; load average ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}\n`);
console.log('| where | ms/step: median (quartiles) | first steps (ms) |\n|---|---|---|');
console.log(rows.join('\n'));
