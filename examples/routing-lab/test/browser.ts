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

export const CHROMIUM_FLAGS = ['--headless=new', '--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--enable-unsafe-webgpu', '--ignore-gpu-blocklist'];

export async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
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
