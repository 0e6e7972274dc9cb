// The records the trainer emits: to hooks, to the JSONL log and in its result.
import type { RoutingMetrics } from '../metrics/routing-metrics.js';

/** One training step. */
export interface StepRecord {
  kind: 'train';
  /** Steps completed (1 after the first step). */
  step: number;
  loss: number;
  lr: number;
  /** Gradient norm before clipping, when clipping is on. */
  gradNorm: number | null;
  /** True when the gradient was not finite and the update was skipped (the weights are unchanged). */
  skipped?: boolean;
  /** Training tokens seen since step 0 (step · batch · context), resumed runs included. */
  tokens: number;
  /** Training throughput over recent steps. */
  tokensPerSecond: number;
  /** Wall time since the run (or resume) started. */
  elapsedSeconds: number;
}

/** One evaluation pass. */
export interface EvalRecord {
  kind: 'eval';
  step: number;
  valLoss: number;
  /** exp(valLoss). */
  perplexity: number;
  /** Per routing layer, over the evaluation window. */
  routing: Record<string, RoutingMetrics>;
  /** Tokens evaluated. */
  tokens: number;
  elapsedSeconds: number;
}

/** Any trainer record. */
export type LogRecord = StepRecord | EvalRecord;
