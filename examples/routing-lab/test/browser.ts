// Helpers of the browser tests: find Debian's Chromium, launch it headless through playwright-core
// (never a browser download), serve the built lab, collect console errors and long tasks.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { Browser, ConsoleMessage, Page } from 'playwright-core';

export const CHROMIUM = process.env.MYRIAD_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or null when Chromium is installed and starts. */
export function chromiumMissing(): string | null {
  if (!existsSync(CHROMIUM)) return `Chromium not found at ${CHROMIUM}`;
  try {
    execFileSync(CHROMIUM, ['--version'], { stdio: 'pipe', timeout: 20_000 });
  } catch (e) {
    return `${CHROMIUM} does not start: ${(e as Error).message.split('\n')[0]}`;
  }
  return null;
}

export const CHROMIUM_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--enable-unsafe-webgpu',
  '--ignore-gpu-blocklist',
];

/**
 * A Chromium without any GPU API for pages: no WebGL (--disable-3d-apis), no WebGPU (it stays behind
 * --enable-unsafe-webgpu on Linux, left out here; --disable-gpu for good measure). The lab's GPU
 * backends cannot start in it and must fall back to the CPU, saying why.
 */
export const NO_GPU_FLAGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-3d-apis'];

export async function launch(args: readonly string[] = CHROMIUM_FLAGS): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: [...args], headless: true });
}

/** A page that records console errors, uncaught exceptions and long tasks (> 50 ms) of the main thread. */
export async function openLab(browser: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  const errors: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  await page.addInitScript(() => {
    const w = window as unknown as { longTasks: number[] };
    w.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.longTasks.push(e.duration);
    }).observe({ type: 'longtask', buffered: true });
  });
  await page.goto(url);
  return { page, errors };
}

/** One task of the page's main thread: wall time, the CPU time the thread actually ran (ms), and what it did. */
export interface MainThreadTask {
  wallMs: number;
  cpuMs: number;
  /** The task's heaviest kinds of work, by CPU time: "Layout 12 ms, Paint 6 ms, ...". */
  work: string;
}

interface TraceEvent {
  ph: string;
  name: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string };
}

/** Work inside a task worth naming (trace event names of Chromium's timeline). */
const WORK = new Set([
  'FunctionCall',
  'EvaluateScript',
  'HandlePostMessage',
  'ParseHTML',
  'UpdateLayoutTree',
  'Layout',
  'PrePaint',
  'Paint',
  'Layerize',
  'Commit',
  'LayoutView::HitTest',
  'MajorGC',
  'MinorGC',
  'V8.GC_MARK_COMPACTOR',
  'FireAnimationFrame',
  'TimerFire',
]);

/**
 * Runs `fn` while Chromium traces, and returns the main-thread tasks longer than `minWallMs` (wall
 * clock) with the CPU time each spent running. On a machine loaded beyond its cores a task's wall time
 * includes time the thread waited for a core (other processes ran); its CPU time is the page's work.
 */
export async function traceMainThread(browser: Browser, page: Page, fn: () => Promise<void>, minWallMs = 50): Promise<MainThreadTask[]> {
  await browser.startTracing(page, { categories: ['toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline'] });
  let buffer: Buffer;
  try {
    await fn();
  } finally {
    buffer = await browser.stopTracing();
  }
  const events = (JSON.parse(buffer.toString('utf8')) as { traceEvents: TraceEvent[] }).traceEvents;
  const mains = new Set(
    events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`),
  );
  const onMain = events.filter((e) => e.ph === 'X' && mains.has(`${e.pid}:${e.tid}`));
  // Each task appears as ThreadControllerImpl::RunTask (and a nested RunTask): count the outer one.
  const outer = onMain.some((e) => e.name === 'ThreadControllerImpl::RunTask') ? 'ThreadControllerImpl::RunTask' : 'RunTask';
  return onMain
    .filter((e) => e.name === outer && (e.dur ?? 0) > minWallMs * 1000)
    .map((t) => {
      const work = new Map<string, number>();
      for (const e of onMain) {
        if (e.pid !== t.pid || e.tid !== t.tid || e.ts < t.ts || e.ts >= t.ts + t.dur! || !WORK.has(e.name)) continue;
        work.set(e.name, (work.get(e.name) ?? 0) + (e.tdur ?? 0) / 1000);
      }
      const top = [...work]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 4)
        .map(([n, ms]) => `${n} ${Math.round(ms)} ms`);
      return { wallMs: Math.round(t.dur! / 1000), cpuMs: Math.round((t.tdur ?? 0) / 1000), work: top.join(', ') };
    });
}
