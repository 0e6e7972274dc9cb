// Progress output: a redrawn one-line bar on a terminal, plain log lines otherwise (CI, pipes, files).
import { formatCount, formatDuration } from './format.js';
import type { EvalRecord, StepRecord } from './records.js';

/** 'auto' picks 'bar' on a TTY and 'lines' otherwise. */
export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

/** Where progress goes: a writable stream, optionally a TTY with a width. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Formats an evaluation as one line: val loss, perplexity and each routing layer's metrics. */
export function formatEval(e: EvalRecord): string {
  let line = `eval step ${e.step}: val loss ${e.valLoss.toFixed(4)}, perplexity ${e.perplexity.toFixed(2)}`;
  for (const [name, r] of Object.entries(e.routing)) {
    line += ` | ${name}: usage ${(100 * r.usage).toFixed(1)}% of ${r.numExperts}, KL ${r.unevenness.toFixed(3)}`;
    if (r.droppedFraction !== null) line += `, dropped ${(100 * r.droppedFraction).toFixed(1)}%`;
  }
  return line;
}

/** Draws training progress to a stream. */
export class ProgressReporter {
  private readonly mode: 'bar' | 'lines' | 'none';
  private lastDraw = 0;
  private barShown = false;

  /** `logEvery`: steps between plain lines in 'lines' mode. */
  constructor(
    private readonly out: ProgressStream,
    mode: ProgressMode,
    private readonly totalSteps: number,
    private readonly logEvery: number,
  ) {
    this.mode = mode === 'auto' ? (out.isTTY ? 'bar' : 'lines') : mode;
  }

  private describe(s: StepRecord, etaSeconds: number): string {
    const grad = s.gradNorm === null ? '' : ` | grad ${s.gradNorm.toFixed(2)}`;
    return (
      `loss ${s.loss.toFixed(4)} | lr ${s.lr.toExponential(2)}${grad} | ${formatCount(s.tokensPerSecond)} tok/s | ` +
      `ETA ${formatDuration(etaSeconds)}`
    );
  }

  /** Reports a finished training step. */
  step(s: StepRecord, etaSeconds: number): void {
    if (this.mode === 'none') return;
    const last = s.step === this.totalSteps;
    if (this.mode === 'lines') {
      if (s.step % this.logEvery === 0 || last || s.step === 1) {
        this.out.write(`step ${s.step}/${this.totalSteps} | ${this.describe(s, etaSeconds)}\n`);
      }
      return;
    }
    const now = Date.now();
    if (!last && now - this.lastDraw < 100) return; // redraw at most 10 times a second
    this.lastDraw = now;
    const width = Math.max(10, Math.min(30, (this.out.columns ?? 100) - 90));
    const filled = Math.round((width * s.step) / this.totalSteps);
    const pct = Math.floor((100 * s.step) / this.totalSteps);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
    this.out.write(`\r\x1b[K${bar} ${String(pct).padStart(3)}% ${s.step}/${this.totalSteps} ${this.describe(s, etaSeconds)}`);
    this.barShown = true;
    if (last) this.endBar();
  }

  /** Prints a line (an evaluation, a message) without breaking the bar. */
  line(text: string): void {
    if (this.mode === 'none') return;
    if (this.mode === 'bar' && this.barShown) this.out.write('\r\x1b[K');
    this.out.write(`${text}\n`);
    this.barShown = false;
  }

  /** Ends the bar's line. */
  endBar(): void {
    if (this.barShown) this.out.write('\n');
    this.barShown = false;
  }
}
