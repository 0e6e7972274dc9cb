// The routing lab in a real headless Chromium (Debian's, driven by playwright-core): it builds, loads
// without console errors, trains PEER on the CPU and on WebGL2 (SwiftShader) with falling loss, tries
// WebGPU, shows exactly the experts and gates the worker's layer recorded (lastRouting) for PEER, PKM
// and MoE, keeps the main thread free while training, refuses bad settings with clear messages,
// moves checkpoints to and from `npm run demo`, keeps its model when a checkpoint does not load
// (another model's weights, a truncated file), and on a plain host (no COOP/COEP) in a Chromium
// without GPU APIs says SharedArrayBuffer is off and that WebGPU fell back to the CPU, keeping the
// model across a backend switch. Screenshots go to examples/routing-lab/test-results/.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { describeWithOptional } from '@myriad/core/testing';
import { CharTokenizer, checkpointToBytes } from '@myriad/train';
import { buildModel, layerDefaults } from '../../train-lm/src/models.js';
import { buildLab, DIST, LAB_ROOT, serveStatic, type Served } from '../scripts/server.js';
import { cliModelConfig, DEFAULT_SPEC } from '../src/spec.js';
import { chromiumMissing, launch, NO_GPU_FLAGS, openLab, traceMainThread } from './browser.js';

const run = promisify(execFile);
const REPO = resolve(LAB_ROOT, '../..');
export const SHOTS = process.env.MYRIAD_LAB_SCREENSHOTS ?? join(LAB_ROOT, 'test-results');
/**
 * The GPU legs train a tiny PEER model (width 16, one block, 4² experts, 2 heads × top-2, batch 2 ×
 * context 16): gpu.js on SwiftShader (a CPU emulating the GPU) compiles every kernel on its first
 * launch and runs the demo-size model at seconds a step; the small one learns visibly in 30 steps.
 */
const TINY =
  'dim=16&depth=1&heads=2&peer.numExperts=16&peer.heads=2&peer.topK=2&peer.dimKey=8&batch=2&context=16&warmup=0&lr=0.01&evalEvery=1000';
/** Hard limit of the WebGPU leg's one step (compiling its pipelines included). */
const WEBGPU_STEP_LIMIT_MS = 90_000;

interface LabState {
  info: {
    backend: string;
    backendNote: string | null;
    device: string;
    step: number;
    spec: { model: { ffw: string }; train: { batchSize: number; evalBatches: number } };
  } | null;
  step: number;
  training: boolean;
  losses: [number, number][];
  evals: [number, number][];
  shownRoute: unknown;
  lastRoute: {
    step: number;
    char: string;
    agrees: boolean | null;
    layerRouting: { experts: number[][]; gates: number[][] } | null;
  } | null;
  lastLoaded: { name: string; step: number; valLoss: number; note: string } | null;
  lastError: string | null;
  stepMs: number[];
}

const state = (page: Page) => page.evaluate(() => (window as unknown as { routingLab: unknown }).routingLab) as Promise<LabState>;
const waitFor = (page: Page, fn: string, timeout = 90_000) => page.waitForFunction(fn, null, { timeout, polling: 100 });
const ready = (page: Page) => waitFor(page, 'window.routingLab.info !== null && window.routingLab.lastRoute !== null');

/** The rows the route view shows: head, expert, gate, as written in the DOM. */
async function shownRoute(page: Page): Promise<{ head: number; expert: number; gate: number }[]> {
  return page.$$eval('#route-table [data-expert]', (rows) =>
    rows.map((r) => ({
      head: Number(r.getAttribute('data-head')),
      expert: Number(r.getAttribute('data-expert')),
      gate: Number(r.getAttribute('data-gate')),
    })),
  );
}

/** Scrolls the route view into sight (it draws only on screen) and waits until it shows the latest route. */
async function showRoute(page: Page): Promise<void> {
  await page.locator('#route').scrollIntoViewIfNeeded();
  await waitFor(page, 'window.routingLab.lastRoute !== null && window.routingLab.shownRoute === window.routingLab.lastRoute', 30_000);
}

/** The route view lists exactly lastRouting's experts (in order) and gates (to 1e-5) for every head. */
async function expectRouteMatchesLayer(page: Page): Promise<void> {
  await showRoute(page);
  const s = await state(page);
  const recorded = s.lastRoute!.layerRouting!;
  expect(recorded).not.toBeNull();
  const shown = await shownRoute(page);
  const expected = recorded.experts.flatMap((es, h) => es.map((e, i) => ({ head: h, expert: e, gate: recorded.gates[h]![i]! })));
  expect(shown.length).toBeGreaterThan(0);
  expect(shown.map((r) => [r.head, r.expert])).toEqual(expected.map((r) => [r.head, r.expert]));
  shown.forEach((r, i) => expect(Math.abs(r.gate - expected[i]!.gate)).toBeLessThan(1e-5));
  expect(s.lastRoute!.agrees).toBe(true);
  expect(await page.textContent('#route-agrees')).toContain('✓');
}

/** Long tasks (ms) of the main thread since the last call. */
async function takeLongTasks(page: Page): Promise<number[]> {
  return page.evaluate(() => {
    const w = window as unknown as { longTasks: number[] };
    const t = w.longTasks.map(Math.round);
    w.longTasks = [];
    return t;
  });
}

/**
 * CPU time a main-thread task may spend (ms): the issue's 100 ms. On an idle machine a task's CPU time
 * is its wall time; the page's heaviest tasks measure 15–35 ms here (a route refresh with the route view
 * on screen: parsing it, then style, layout and paint).
 */
const TASK_CPU_BUDGET_MS = 100;

/**
 * Trains up to step `steps` while tracing the page's main thread, and checks that no task blocked it:
 * every task's own work (CPU time) is within TASK_CPU_BUDGET_MS, and where the machine is not loaded
 * beyond its cores every long task (wall clock, the Long Tasks API) is within 100 ms too. On a machine
 * loaded beyond its cores a task's wall time also counts the time its thread waited for a core; both
 * are printed.
 */
async function trainWatchingMainThread(browser: Browser, page: Page, steps: number, where: string): Promise<LabState> {
  await takeLongTasks(page);
  let s: LabState | null = null;
  const tasks = await traceMainThread(browser, page, async () => {
    s = await trainSteps(page, steps);
  });
  const longTasks = await takeLongTasks(page);
  const worst = tasks.reduce((a, t) => (t.cpuMs > a.cpuMs ? t : a), { wallMs: 0, cpuMs: 0, work: '' });
  const [load] = loadavg();
  console.log(
    `[lab] main thread while training (${where}): long tasks ${JSON.stringify(longTasks)} ms wall; tasks over 50 ms wall (wall/CPU ms): ${tasks.map((t) => `${t.wallMs}/${t.cpuMs}`).join(' ') || 'none'}; most CPU in one task ${worst.cpuMs} ms${worst.work ? ` (${worst.work})` : ''} (${machine()})`,
  );
  expect(worst.cpuMs, `a main-thread task did ${worst.cpuMs} ms of work (${where}): ${worst.work}`).toBeLessThanOrEqual(TASK_CPU_BUDGET_MS);
  if (load! <= cpus().length)
    expect(Math.max(0, ...longTasks), `main-thread long tasks (${where}): ${longTasks.join(', ')} ms`).toBeLessThanOrEqual(100);
  else if (Math.max(0, ...longTasks) > 100)
    console.warn(
      `[myriad] routing lab: long tasks over 100 ms wall (${where}) on a machine with ${machine()}: their CPU time is at most ${worst.cpuMs} ms, the rest waiting for a core`,
    );
  return s!;
}

const machine = () =>
  `load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on ${cpus().length} cores`;

async function trainSteps(page: Page, steps: number, timeout = 120_000): Promise<LabState> {
  await page.click('#train');
  // A training error stops the wait at once (and fails below) instead of running out the clock.
  await waitFor(page, `window.routingLab.step >= ${steps} || window.routingLab.lastError !== null`, timeout);
  expect((await state(page)).lastError).toBeNull();
  await page.click('#pause');
  await waitFor(page, 'window.routingLab.training === false', timeout);
  return state(page);
}

/** Builds the page once for both groups of browser tests. */
let built: Promise<string> | null = null;
const buildOnce = () => (built ??= buildLab({ quiet: true }));

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * A checkpoint of another model than its config says: the weights of a tiny PEER (width 16, one
 * block) under the config of the demo's (width 64, three blocks), as a file renamed or mixed up would be.
 */
function mismatchedCheckpoint(): Buffer {
  const tiny = { ffw: 'peer' as const, vocabSize: 30, dim: 16, depth: 1, heads: 2, contextLength: 16, seed: 1 };
  const { model } = buildModel({ ...tiny, peer: { numExperts: 16, heads: 2, topK: 2, dimKey: 8 } });
  const bytes = checkpointToBytes({
    model,
    step: 7,
    tokenizer: CharTokenizer.fromText('abcdefghijklmnopqrstuvwxyz .,;'),
    config: cliModelConfig(DEFAULT_SPEC.model, 30),
  });
  return Buffer.from(bytes);
}

/** The page still runs the model it had: same settings, same step and curves, and Step trains on. */
async function expectModelKept(page: Page, before: LabState): Promise<void> {
  const s = await state(page);
  expect(s.info, 'the page lost its model').not.toBeNull();
  expect(s.info!.spec).toEqual(before.info!.spec);
  expect(s.step).toBe(before.step);
  expect(s.losses).toEqual(before.losses);
  expect(await page.isDisabled('#train')).toBe(false);
  await page.click('#step');
  await waitFor(page, `window.routingLab.step === ${before.step + 1} && window.routingLab.training === false`);
}

describe('routing lab spec', () => {
  it("has the CLI's default layer sizes: the default model is npm run demo's, config for config", () => {
    for (const ffw of ['moe', 'pkm', 'peer'] as const) {
      const config = cliModelConfig({ ...DEFAULT_SPEC.model, ffw }, 96);
      expect(config[ffw], ffw).toEqual(layerDefaults(DEFAULT_SPEC.model.dim)[ffw]);
    }
  });
});

describeWithOptional('routing lab in Chromium', chromiumMissing(), 'sudo bash scripts/browser/install-chromium.sh', () => {
  let served: Served;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await buildOnce();
    served = await serveStatic(DIST);
    browser = await launch();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await served?.close();
  });

  it('builds without node: modules on the browser path', () => {
    const assets = join(DIST, 'assets');
    for (const f of readdirSync(assets).filter((f) => f.endsWith('.js'))) {
      const js = readFileSync(join(assets, f), 'utf8');
      // Vite replaces a node: import with an empty "__vite-browser-external" module; only lazy
      // imports inside Node-only functions (never called in a browser) may remain.
      const refs = [...js.matchAll(/__vite-browser-external/g)].map((m) => js.slice(Math.max(0, m.index! - 12), m.index!));
      for (const before of refs) expect(before, `${f}: static import of a node: module`).toMatch(/import\(`?\.?\/?$/);
    }
    const html = readFileSync(join(DIST, 'index.html'), 'utf8');
    expect(html).toContain('>Train<');
    expect(readFileSync(join(DIST, 'corpus', 'moby-dick.txt'), 'utf8').length).toBeGreaterThan(1_000_000);
  });

  it('trains PEER 30 steps on the CPU backend: loss falls, no console errors, route = lastRouting, main thread free', async () => {
    const { page, errors } = await openLab(browser, `${served.url}?batch=8`);
    await ready(page);
    const body = await page.textContent('body');
    expect(body).toMatch(/cross-entropy/);
    expect(body).toMatch(/experts/);
    const s0 = await state(page);
    expect(s0.info!.backend).toBe('CPU + WebAssembly SIMD');
    // Served with COOP/COEP: the kernels' pool runs on Web Workers, one thread per core.
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    expect(s0.info!.device).toBe(
      cores > 1 ? `${cores} CPU threads (the worker + ${cores - 1} Web Worker${cores > 2 ? 's' : ''})` : '1 of 1 CPU threads (the worker)',
    );
    // Training must not block the page: first at the top of the page (form, controls, loss chart; the
    // route and layer views draw when scrolled into sight), later with the route view on screen.
    const s = await trainWatchingMainThread(browser, page, 30, 'top of the page');
    const losses = s.losses.map(([, l]) => l);
    expect(losses.length).toBeGreaterThanOrEqual(30);
    expect(mean(losses.slice(-5))).toBeLessThan(losses[0]! - 0.5);
    console.log(
      `[lab] CPU: ${mean(s.stepMs.slice(2)) | 0} ms/step (batch 8 x 64), loss ${losses[0]!.toFixed(3)} -> ${losses.at(-1)!.toFixed(3)}`,
    );
    // The route view shows the worker's lastRouting for the selected token.
    await waitFor(page, `window.routingLab.lastRoute.step === ${s.step}`);
    await expectRouteMatchesLayer(page);
    // Click another character: the view follows it.
    const target = await page.$$('#probe-text span');
    const before = await page.evaluate(() => (window as unknown as { routingLab: { lastRoute: unknown } }).routingLab.lastRoute);
    await target[77]!.click();
    const ch = await target[77]!.getAttribute('data-i');
    await waitFor(
      page,
      `document.querySelector('#probe-text .selected')?.dataset.i === '${ch}' && window.routingLab.lastRoute.text !== ${JSON.stringify((before as { text: string }).text)}`,
    );
    await expectRouteMatchesLayer(page);
    // Training with the route view on screen (it redraws every 5 steps): still no blocking task.
    await trainWatchingMainThread(browser, page, s.step + 10, 'route view on screen');
    await waitFor(page, `window.routingLab.lastRoute.step === window.routingLab.step`);
    await expectRouteMatchesLayer(page);
    await page.click('#gen');
    await waitFor(page, "document.querySelector('#gen-out').textContent.length > 100");
    await showRoute(page);
    await page.screenshot({ path: join(SHOTS, 'lab-peer-cpu.png'), fullPage: true });
    await (await page.$('#route'))!.screenshot({ path: join(SHOTS, 'route-peer.png') });
    await page.locator('#layer').scrollIntoViewIfNeeded();
    await waitFor(page, 'window.routingLab.shownSnapshot !== null');
    await (await page.$('#layer'))!.screenshot({ path: join(SHOTS, 'layer-peer.png') });
    await (await page.$('#training'))!.screenshot({ path: join(SHOTS, 'training.png') });
    expect(errors).toEqual([]);
    await page.close();
  }, 180_000);

  for (const ffw of ['pkm', 'moe'] as const) {
    it(`shows ${ffw.toUpperCase()}'s route exactly as the layer recorded it`, async () => {
      const { page, errors } = await openLab(browser, `${served.url}?ffw=${ffw}&batch=4`);
      await ready(page);
      expect((await state(page)).info!.spec.model.ffw).toBe(ffw);
      // 12 steps: one closed 10-step window of the usage chart, and the paused model's route.
      const s = await trainSteps(page, 12);
      await waitFor(page, `window.routingLab.lastRoute.step === ${s.step}`);
      await expectRouteMatchesLayer(page);
      await (await page.$('#route'))!.screenshot({ path: join(SHOTS, `route-${ffw}.png`) });
      await page.locator('#layer').scrollIntoViewIfNeeded();
      await waitFor(page, 'window.routingLab.shownSnapshot !== null');
      if (ffw === 'pkm') await (await page.$('#layer'))!.screenshot({ path: join(SHOTS, `layer-${ffw}.png`) });
      // No capacity limit (the default): no chart of drops, and the numbers say nothing is dropped.
      expect(await page.isVisible('#usage-chart-dropped')).toBe(false);
      if (ffw === 'moe') expect(await page.textContent('#layer-stats')).toMatch(/dropped by capacitynone \(no capacity limit\)/);
      expect(errors).toEqual([]);
      await page.close();
    }, 120_000);
  }

  it("charts MoE's capacity drops over time in a panel of its own", async () => {
    const { page, errors } = await openLab(browser, `${served.url}?ffw=moe&batch=4&moe.capacityFactor=1`);
    await ready(page);
    expect((await state(page)).info!.spec.model.ffw).toBe('moe');
    await trainSteps(page, 12);
    await page.locator('#layer').scrollIntoViewIfNeeded();
    await waitFor(page, 'window.routingLab.shownSnapshot !== null');
    expect(await page.isVisible('#usage-chart-dropped')).toBe(true);
    expect(await page.textContent('#usage-chart-dropped')).toMatch(/dropped by capacity/);
    expect(await page.textContent('#layer-stats')).toMatch(/dropped by capacity\d+\.\d\d% of assignments/);
    await (await page.$('#layer'))!.screenshot({ path: join(SHOTS, 'layer-moe.png') });
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('refuses bad settings with a clear message in the page', async () => {
    const { page, errors } = await openLab(browser, served.url);
    await ready(page);
    const problems = () => page.textContent('#problems');
    await page.fill('input[name="peer.numExperts"]', '1000');
    expect(await problems()).toContain('N must be a perfect square');
    expect(await problems()).toContain('961 or 1024');
    expect(await page.isDisabled('#apply')).toBe(true);
    await page.fill('input[name="peer.numExperts"]', '4096');
    await page.fill('input[name="peer.topK"]', '80');
    expect(await problems()).toContain('top-k (80) must be from 1 to the number of sub-keys per half, √N = 64');
    await page.fill('input[name="peer.topK"]', '8');
    await page.check('input[name=corpus][value=text]');
    await page.fill('textarea[name=text]', 'Too short a corpus.');
    expect(await problems()).toMatch(/the corpus has 19 characters; with context 64 it needs at least/);
    expect(await page.isDisabled('#apply')).toBe(true);
    // The shot of the corpus check: the short text, its message under the form, Apply disabled.
    await (await page.$('#setup'))!.screenshot({ path: join(SHOTS, 'bad-corpus.png') });
    // Back to the defaults (the bundled excerpt, an empty text box), so nothing of this check stays
    // on screen for the checkpoint message below.
    await page.fill('textarea[name=text]', '');
    await page.check('input[name=corpus][value=excerpt]');
    expect(await problems()).toBe('');
    expect(await page.isDisabled('#apply')).toBe(false);
    // A file that is not a checkpoint: a message, and the page keeps working.
    await page.setInputFiles('#load', {
      name: 'notes.safetensors',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from('not a checkpoint at all'),
    });
    await waitFor(page, 'window.routingLab.lastError !== null');
    expect((await state(page)).lastError).toMatch(/notes\.safetensors.*(not a valid safetensors|corrupt|truncated)/);
    // The message stays in sight, and the current model keeps working.
    expect(await page.textContent('#message')).toMatch(/notes\.safetensors/);
    expect(await page.isDisabled('#train')).toBe(false);
    // The shot of the checkpoint check: the training panel with the message under it, model kept.
    await (await page.$('#training'))!.screenshot({ path: join(SHOTS, 'bad-checkpoint.png') });
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('keeps its model and says why when a checkpoint does not load: another model, a truncated file', async () => {
    const { page, errors } = await openLab(browser, `${served.url}?batch=4`);
    await ready(page);
    await page.click('#step');
    await waitFor(page, 'window.routingLab.step === 1 && window.routingLab.training === false');
    const message = () => page.textContent('#message');

    // Weights of another model than the config describes: refused by name, the current model stays.
    let before = await state(page);
    await page.setInputFiles('#load', {
      name: 'other-model.safetensors',
      mimeType: 'application/octet-stream',
      buffer: mismatchedCheckpoint(),
    });
    await waitFor(page, 'window.routingLab.lastError !== null', 120_000);
    expect((await state(page)).lastError).toMatch(
      /other-model\.safetensors does not fit this model \(was it saved from another configuration\?\): .*(missing keys|shape or dtype mismatch).* The current model is kept\.$/,
    );
    expect(await message()).toMatch(/^loading other-model\.safetensors: other-model\.safetensors does not fit this model/);
    await expectModelKept(page, before);

    // A checkpoint cut short (an interrupted download): the lab's own save, truncated.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
    const saved = readFileSync((await download.path())!);
    await page.evaluate(() => ((window as unknown as { routingLab: { lastError: unknown } }).routingLab.lastError = null));
    before = await state(page);
    await page.setInputFiles('#load', {
      name: 'cut.safetensors',
      mimeType: 'application/octet-stream',
      buffer: saved.subarray(0, Math.floor(saved.length * 0.6)),
    });
    await waitFor(page, 'window.routingLab.lastError !== null', 60_000);
    expect((await state(page)).lastError).toMatch(
      /cut\.safetensors is not a valid safetensors file \(truncated or corrupt\?\).* The current model is kept\.$/,
    );
    expect(await page.isVisible('#message.error')).toBe(true);
    await expectModelKept(page, before);
    expect(errors).toEqual([]);
    await page.close();
  }, 240_000);

  it('trains a tiny PEER 30 steps on WebGL2 (gpu.js on SwiftShader): falling loss', async () => {
    const { page, errors } = await openLab(browser, `${served.url}?backend=webgl2&${TINY}`);
    await waitFor(page, 'window.routingLab.info !== null || window.routingLab.lastError !== null', 120_000);
    const s0 = await state(page);
    expect(s0.lastError).toBeNull();
    expect(s0.info!.backendNote, 'WebGL2 fell back').toBeNull();
    expect(s0.info!.backend).toBe('WebGL2 (gpu.js)');
    const s = await trainSteps(page, 30, 150_000);
    const losses = s.losses.map(([, l]) => l);
    const ms = s.stepMs.map(Math.round);
    console.log(`[lab] WebGL2 ms/step: ${ms.join(' ')}`);
    console.log(
      `[lab] WebGL2 (SwiftShader), tiny PEER (batch 2 x 16): first step ${ms[0]} ms (kernel compiles), then median ${[...ms.slice(1)].sort((a, b) => a - b)[ms.length >> 1]} ms/step; loss ${losses[0]!.toFixed(3)} -> ${losses.at(-1)!.toFixed(3)} (${machine()})`,
    );
    expect(losses.length).toBeGreaterThanOrEqual(30);
    expect(mean(losses.slice(-5))).toBeLessThan(losses[0]! - 0.3);
    await page.screenshot({ path: join(SHOTS, 'lab-peer-webgl2.png') });
    expect(errors).toEqual([]);
    await page.close();
  }, 200_000);

  it(
    'runs one step of a tiny PEER on WebGPU where an adapter appears, else says why',
    async () => {
      const { page, errors } = await openLab(browser, `${served.url}?backend=webgpu&${TINY}`);
      await waitFor(page, 'window.routingLab.info !== null || window.routingLab.lastError !== null', 120_000);
      const s0 = await state(page);
      expect(s0.lastError).toBeNull();
      if (s0.info!.backendNote) {
        // No adapter here: the page falls back to the CPU and names the reason; the leg is skipped, loudly.
        console.warn(`\n[myriad] routing lab: WebGPU leg SKIPPED: ${s0.info!.backendNote}\n`);
        expect(s0.info!.backendNote).toMatch(/WebGPU (is unavailable|could not start)/);
        expect(s0.info!.backend).toMatch(/^CPU/);
      } else {
        expect(s0.info!.backend).toBe('WebGPU (gpu.js)');
        const t0 = Date.now();
        await page.click('#step');
        await waitFor(page, 'window.routingLab.step >= 1 || window.routingLab.lastError !== null', WEBGPU_STEP_LIMIT_MS);
        const s = await state(page);
        expect(s.lastError).toBeNull();
        expect(Number.isFinite(s.losses[0]![1])).toBe(true);
        console.log(
          `[lab] WebGPU (${(s0.info as unknown as { device: string }).device}), tiny PEER: one step ${Math.round(s.stepMs[0]!)} ms in the worker (${Date.now() - t0} ms from the click), loss ${s.losses[0]![1].toFixed(3)} (${machine()})`,
        );
      }
      expect(errors).toEqual([]);
      await page.close();
    },
    WEBGPU_STEP_LIMIT_MS + 130_000,
  );

  it('loads a checkpoint of npm run demo (same validation loss within 1e-4) and saves ones the CLI resumes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'myriad-lab-'));
    const cli = (args: string[]) =>
      run('node', ['--conditions=source', '--import', 'tsx', 'examples/train-lm/src/main.ts', ...args], { cwd: REPO, timeout: 120_000 });
    const loggedSteps = (log: string) =>
      readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { kind: string; step: number })
        .filter((r) => r.kind === 'train')
        .map((r) => r.step);
    const common = ['--batch', '4', '--eval-batches', '2', '--quiet', '--sample', '8'];
    try {
      // A CLI run of 3 steps, loaded by the page: its config (model and plan) is read by the CLI's rules.
      const first = cli(['--steps', '3', '--eval-every', '3', '--out', join(dir, 'cli'), ...common]);
      // Meanwhile a session born in the page, on the CLI's corpus: two steps, saved.
      const born = await openLab(browser, `${served.url}?corpus=book&batch=4`);
      await waitFor(born.page, 'window.routingLab.info !== null', 120_000);
      expect((await state(born.page)).info!.spec.train.batchSize).toBe(4);
      await born.page.click('#step');
      await waitFor(born.page, 'window.routingLab.step >= 1 && window.routingLab.training === false');
      await born.page.click('#step');
      await waitFor(born.page, 'window.routingLab.step >= 2 && window.routingLab.training === false');
      const [bornDownload] = await Promise.all([born.page.waitForEvent('download'), born.page.click('#save')]);
      await bornDownload.saveAs(join(dir, 'born.safetensors'));
      const bornMessage = await born.page.textContent('#message');
      expect(bornMessage).toContain('npm run demo -- --resume routing-lab-peer-step2.safetensors --steps 200 --batch 4');
      expect(born.errors).toEqual([]);
      await born.page.close();
      await first;

      const log = readFileSync(join(dir, 'cli', 'log.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { kind: string; step: number; valLoss?: number });
      const cliVal = log.filter((r) => r.kind === 'eval').at(-1)!;
      expect(cliVal.step).toBe(3);
      const { page, errors } = await openLab(browser, served.url);
      await ready(page);
      await page.setInputFiles('#load', join(dir, 'cli', 'checkpoint.safetensors'));
      await waitFor(page, 'window.routingLab.lastLoaded !== null || window.routingLab.lastError !== null', 120_000);
      const s = await state(page);
      expect(s.lastError).toBeNull();
      expect(s.lastLoaded!.step).toBe(3);
      expect(s.lastLoaded!.note).toBe('weights, optimizer state, data position and step restored');
      // The plan's batch and validation batches: the same windows as the CLI's evaluation.
      expect(s.info!.spec.train).toMatchObject({ batchSize: 4, evalBatches: 2 });
      console.log(`[lab] validation loss of a CLI checkpoint: CLI ${cliVal.valLoss} vs lab ${s.lastLoaded!.valLoss}`);
      expect(Math.abs(s.lastLoaded!.valLoss - cliVal.valLoss!)).toBeLessThan(1e-4);

      // Two more steps in the page (on the CLI plan's schedule), then save: the CLI resumes it.
      await page.click('#step');
      await waitFor(page, 'window.routingLab.step >= 4 && window.routingLab.training === false');
      await page.click('#step');
      await waitFor(page, 'window.routingLab.step >= 5 && window.routingLab.training === false');
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
      await download.saveAs(join(dir, 'lab.safetensors'));
      expect(await page.textContent('#message')).toContain(
        'npm run demo -- --resume routing-lab-peer-step5.safetensors --steps 200 --extend keep-schedule',
      );
      expect(errors).toEqual([]);
      await page.close();
      const [resumed, resumedBorn] = await Promise.all([
        cli([
          '--resume',
          join(dir, 'lab.safetensors'),
          '--steps',
          '7',
          '--extend',
          'keep-schedule',
          '--eval-every',
          '7',
          '--out',
          join(dir, 'resumed'),
          '--quiet',
          '--sample',
          '8',
        ]),
        cli([
          '--resume',
          join(dir, 'born.safetensors'),
          '--steps',
          '4',
          '--eval-every',
          '4',
          '--out',
          join(dir, 'resumed-born'),
          ...common,
        ]),
      ]);
      expect(loggedSteps(join(dir, 'resumed', 'log.jsonl'))).toEqual([6, 7]);
      expect(resumed.stdout).toMatch(/validation/i);
      expect(loggedSteps(join(dir, 'resumed-born', 'log.jsonl'))).toEqual([3, 4]);
      expect(resumedBorn.stdout).toMatch(/records no training plan/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});

describeWithOptional(
  'routing lab on a plain host, in a browser without GPU APIs',
  chromiumMissing(),
  'sudo bash scripts/browser/install-chromium.sh',
  () => {
    let served: Served;
    let browser: Browser;

    beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true });
      await buildOnce();
      // A static host that sends no COOP/COEP headers: the page is not cross-origin isolated.
      served = await serveStatic(DIST, 0, false);
      browser = await launch(NO_GPU_FLAGS);
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      await served?.close();
    });

    it('without COOP/COEP (no SharedArrayBuffer) says so in the page, and trains', async () => {
      const { page, errors } = await openLab(browser, `${served.url}?${TINY}`);
      await waitFor(page, 'window.routingLab.info !== null || window.routingLab.lastError !== null', 120_000);
      expect(await page.evaluate(() => [crossOriginIsolated, typeof SharedArrayBuffer])).toEqual([false, 'undefined']);
      const s0 = await state(page);
      expect(s0.lastError).toBeNull();
      expect(s0.info!.backend).toBe('CPU + WebAssembly SIMD');
      expect(await page.isVisible('#backend-note')).toBe(true);
      expect(await page.textContent('#backend-note')).toMatch(
        /not cross-origin isolated .* SharedArrayBuffer is unavailable: the kernels run on one thread/,
      );
      expect(s0.info!.device).toMatch(/^1 of \d+ CPU threads \(the worker\)$/);
      const s = await trainSteps(page, 5);
      expect(s.losses.length).toBeGreaterThanOrEqual(5);
      expect(s.losses.every(([, l]) => Number.isFinite(l))).toBe(true);
      expect(errors).toEqual([]);
      await page.close();
    }, 120_000);

    it('falls back to the CPU when WebGPU has no adapter, says why, and a backend switch keeps the model', async () => {
      // Asked for WebGPU from the start: the page runs on the CPU and names the reason.
      const first = await openLab(browser, `${served.url}?backend=webgpu&${TINY}`);
      await waitFor(first.page, 'window.routingLab.info !== null || window.routingLab.lastError !== null', 120_000);
      const s0 = await state(first.page);
      expect(s0.lastError).toBeNull();
      expect(s0.info!.backend).toBe('CPU + WebAssembly SIMD');
      expect(s0.info!.backendNote).toMatch(/^WebGPU is unavailable here: .*\. The model runs on the CPU backend instead/);
      expect(await first.page.textContent('#message')).toMatch(/on CPU \+ WebAssembly SIMD, because WebGPU could not start here/);
      expect(first.errors).toEqual([]);
      await first.page.close();

      // Trained on the CPU, then switched to WebGPU with Apply: the model moves over (same step, same
      // curves), the switch falls back as above, and training goes on from where it was.
      const { page, errors } = await openLab(browser, `${served.url}?${TINY}`);
      await waitFor(page, 'window.routingLab.info !== null', 120_000);
      const trained = await trainSteps(page, 3);
      await page.selectOption('select[name=backend]', 'webgpu');
      await page.click('#apply');
      await waitFor(page, `window.routingLab.info !== null && window.routingLab.info.spec.backend === 'webgpu'`, 120_000);
      const s = await state(page);
      expect(s.lastError).toBeNull();
      expect(s.info!.step).toBe(trained.step);
      expect(s.losses).toEqual(trained.losses);
      expect(s.info!.backendNote).toMatch(/^WebGPU is unavailable here/);
      expect(await page.textContent('#message')).toBe(
        `WebGPU could not start here (the yellow note says why), so the model stays on CPU + WebAssembly SIMD at step ${trained.step}, as it was. Press Train.`,
      );
      await page.click('#step');
      await waitFor(page, `window.routingLab.step === ${trained.step + 1} && window.routingLab.training === false`);
      await page.screenshot({ path: join(SHOTS, 'fallback.png') });
      expect(errors).toEqual([]);
      await page.close();
    }, 180_000);
  },
);
