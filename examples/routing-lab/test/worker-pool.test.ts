// The CPU backend's WebAssembly worker pool in a real headless Chromium (Debian's, driven by
// playwright-core). A page served with COOP/COEP starts a module Web Worker, as the lab's training
// worker is; in it the kernels must run on Web Workers (the pool's browser mode) and give bit-identical
// numbers on 1, 2 and 3 threads: a matmul, softmax and top-k rows, and the losses and weights of a few
// SGD steps of a small MLP. Served without the headers, the same page must fall back to one thread,
// say why once on the console, and give the same numbers again. The fixture is built by Vite from
// core's TypeScript sources, as the lab is (so the worker source the pool stringifies is the minified one).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { describeWithOptional } from '@myriad/core/testing';
import { LAB_ROOT, serveStatic, type Served } from '../scripts/server.js';
import { chromiumMissing, launch } from './browser.js';

const CORE_SRC = resolve(LAB_ROOT, '../../packages/core/src');

/** What the fixture's worker reports for one thread setting. */
interface PoolRun {
  isolated: boolean;
  cores: number;
  /** wasmThreads() before any setting: the default maximum and why there is no pool. */
  defaults: { max: number; why: string | null } | null;
  threads: { max: number; ready: number; workers: string | null; why: string | null } | null;
  /** FNV-1a of the float bits of each result, and the SGD losses. */
  matmul: string;
  softmax: string;
  topk: string;
  losses: number[];
  weights: string;
  /** Wall time of the SGD steps (ms) and the notes the worker printed with console.info. */
  trainMs: number;
  notes: string[];
}

const WORKER = `
import { matmul, randn, randint, softmax, topk, crossEntropy, noGrad } from ${JSON.stringify(join(CORE_SRC, 'index.ts'))};
import { startWasmThreads, wasmThreads } from ${JSON.stringify(join(CORE_SRC, 'cpu/wasm/install.ts'))};

const notes = [];
const info = console.info.bind(console);
console.info = (...a) => { notes.push(a.join(' ')); info(...a); };
const first = wasmThreads();
const defaults = first && { max: first.max, why: first.why };

function hash(t) {
  const a = t.toTypedArray();
  const u = new Uint32Array(a.buffer, a.byteOffset, a.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i], 0x01000193) >>> 0;
  return h.toString(16) + ':' + u.length;
}

function train() {
  // 128 tokens of width 256 -> 512 (gelu) -> 64 classes: every matmul and the gelu are big enough to split.
  const w1 = randn([256, 512], { seed: 11 }).mul(0.06).detach().requiresGrad_();
  const w2 = randn([512, 64], { seed: 12 }).mul(0.03).detach().requiresGrad_();
  const x = randn([128, 256], { seed: 13 });
  const y = randint(0, 64, [128], { seed: 14 });
  const losses = [];
  const t0 = performance.now();
  for (let step = 0; step < 4; step++) {
    w1.grad = null;
    w2.grad = null;
    const loss = crossEntropy(x.matmul(w1).gelu().matmul(w2), y);
    loss.backward();
    losses.push(loss.item());
    noGrad(() => {
      w1.assign(w1.sub(w1.grad.mul(0.5)));
      w2.assign(w2.sub(w2.grad.mul(0.5)));
    });
  }
  return { losses, trainMs: performance.now() - t0, weights: hash(w1) + '/' + hash(w2) };
}

self.onmessage = async (e) => {
  try {
    const threads = await startWasmThreads(e.data.threads, 20000);
    const a = randn([256, 384], { seed: 1 });
    const b = randn([384, 512], { seed: 2 });
    const logits = randn([512, 1024], { seed: 3 });
    const r = train();
    self.postMessage({
      isolated: self.crossOriginIsolated === true,
      cores: navigator.hardwareConcurrency,
      defaults,
      threads,
      matmul: hash(matmul(a, b)),
      softmax: hash(softmax(logits, -1)),
      topk: hash(topk(logits, 8).values),
      ...r,
      notes: notes.slice(),
    });
  } catch (err) {
    self.postMessage({ error: String(err && err.stack || err) });
  }
};
`;

const MAIN = `
import { WorkerPool } from ${JSON.stringify(join(CORE_SRC, 'cpu/wasm/pool.ts'))};
// The page's own thread may not block in Atomics.wait: the pool must refuse it (a runtime with shared memory asked).
window.mainThreadWhy = WorkerPool.unavailable({ shared: true });
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
let pending = null;
worker.onmessage = (e) => pending(e.data);
window.poolRun = (threads) => new Promise((ok) => { pending = ok; worker.postMessage({ threads }); });
`;

async function buildFixture(dir: string): Promise<string> {
  writeFileSync(
    join(dir, 'index.html'),
    '<!doctype html><title>pool</title><link rel="icon" href="data:,"><script type="module" src="./main.js"></script>\n',
  );
  writeFileSync(join(dir, 'main.js'), MAIN);
  writeFileSync(join(dir, 'worker.js'), WORKER);
  const { build } = await import('vite');
  const outDir = join(dir, 'dist');
  await build({
    root: dir,
    base: './',
    configFile: false,
    logLevel: 'error',
    resolve: { conditions: ['source', 'browser', 'module', 'import', 'default'] },
    worker: { format: 'es' },
    build: { outDir, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 4000 },
  });
  return outDir;
}

async function poolRun(page: Page, threads: number | undefined): Promise<PoolRun> {
  const r = (await page.evaluate((t) => (window as unknown as { poolRun(t?: number): Promise<unknown> }).poolRun(t), threads)) as
    PoolRun | { error: string };
  if ('error' in r) throw new Error(`fixture worker: ${r.error}`);
  return r;
}

/** The numbers of a run, for bit-for-bit comparison. */
const numbers = (r: PoolRun) => ({ matmul: r.matmul, softmax: r.softmax, topk: r.topk, losses: r.losses, weights: r.weights });

describeWithOptional(
  'wasm worker pool on Web Workers in Chromium',
  chromiumMissing(),
  'sudo bash scripts/browser/install-chromium.sh',
  () => {
    let dir: string;
    let isolated: Served;
    let plain: Served;
    let browser: Browser;
    const consoleErrors: string[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'myriad-pool-'));
      const dist = await buildFixture(dir);
      isolated = await serveStatic(dist, 0, true);
      plain = await serveStatic(dist, 0, false);
      browser = await launch();
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      await isolated?.close();
      await plain?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    async function open(url: string): Promise<Page> {
      const page = await browser.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error') consoleErrors.push(m.text());
      });
      page.on('pageerror', (e) => consoleErrors.push(e.message));
      await page.goto(url);
      await page.waitForFunction('typeof window.poolRun === "function"');
      return page;
    }

    let single: PoolRun | undefined;

    it('runs the kernels on Web Workers where the page is cross-origin isolated, bit-identical on 1, 2 and 3 threads', async () => {
      const page = await open(isolated.url);
      const byDefault = await poolRun(page, undefined);
      expect(byDefault.isolated).toBe(true);
      expect(await page.evaluate('window.mainThreadWhy')).toMatch(/main thread, where a thread may not block/);
      // Default: as many threads as the browser reports cores, all of them started as Web Workers.
      expect(byDefault.defaults).toEqual({ max: byDefault.cores, why: null });
      expect(byDefault.threads).toMatchObject({ max: byDefault.cores, ready: byDefault.cores });
      if (byDefault.cores > 1) expect(byDefault.threads!.workers).toBe('web-workers');
      single = await poolRun(page, 1);
      expect(single.threads).toMatchObject({ max: 1, ready: 1 });
      const runs = [byDefault];
      for (const threads of [2, 3]) {
        const r = await poolRun(page, threads);
        expect(r.threads).toEqual({ max: threads, ready: threads, workers: 'web-workers', why: null });
        runs.push(r);
      }
      for (const r of runs) expect(numbers(r)).toEqual(numbers(single));
      // The MLP learns: the loss falls over the four steps.
      expect(single.losses.at(-1)!).toBeLessThan(single.losses[0]!);
      expect(single.notes).toEqual([]);
      const two = runs[1]!;
      console.log(
        `[worker pool] Chromium, ${byDefault.cores} cores: 4 MLP steps ${single.trainMs.toFixed(0)} ms on 1 thread, ` +
          `${two.trainMs.toFixed(0)} ms on 2 Web Worker threads (${(single.trainMs / two.trainMs).toFixed(2)}×; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores: ` +
          `with more runnable threads than cores, two threads can lose to one)`,
      );
      await page.close();
    }, 60_000);

    it('falls back to one thread without the isolation headers, says why once, and gives the same numbers', async () => {
      const page = await open(plain.url);
      const a = await poolRun(page, undefined);
      const b = await poolRun(page, 3);
      expect(a.isolated).toBe(false);
      expect(await page.evaluate('window.mainThreadWhy')).toMatch(/not cross-origin isolated/);
      expect(a.threads!.ready).toBe(1);
      expect(b.threads).toMatchObject({ max: 3, ready: 1, workers: null });
      expect(b.threads!.why).toContain('not cross-origin isolated');
      // One note, printed by the first kernel call big enough for the pool, and never again.
      const notes = b.notes.filter((n) => n.startsWith('myriad:'));
      expect(notes).toHaveLength(1);
      expect(notes[0]).toContain('Cross-Origin-Embedder-Policy: require-corp');
      // The same numbers on this page (both runs are single-threaded here) and as the isolated page's
      // one-thread run, when that test got so far (it fails on its own otherwise).
      expect(numbers(b)).toEqual(numbers(a));
      if (single) expect(numbers(a)).toEqual(numbers(single));
      await page.close();
    }, 60_000);

    it('printed no console errors', () => {
      expect(consoleErrors).toEqual([]);
    });
  },
);
