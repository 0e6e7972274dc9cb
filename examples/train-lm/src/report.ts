import type { RunSummary } from './run.js';

/** Human-readable count: 1234567 → 1.23M. */
export function count(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** Printed between a prompt and the text generated after it. */
export const PROMPT_END = '▌';

/** The prompt, the PROMPT_END marker, then the generated text. */
export function markPrompt(prompt: string, generated: string): string {
  return `${prompt}${PROMPT_END}${generated}`;
}

/** The end-of-run report: validation perplexity, routing metrics per layer, a sample. */
export function formatSummary(s: RunSummary): string {
  const lines: string[] = [];
  const f = s.final;
  lines.push(
    `\n== ${s.config.ffw}: ${count(s.parameters)} parameters (${count(s.activeParameters)} active per token), ${s.elapsedSeconds.toFixed(1)} s, ${Math.round(s.tokensPerSecond)} tokens/s`,
  );
  lines.push(`validation loss ${f.valLoss.toFixed(4)} nats, perplexity ${f.perplexity.toFixed(2)} (step ${f.step})`);
  for (const [name, r] of Object.entries(f.routing)) {
    const dropped = r.droppedFraction === null ? '' : `, dropped ${(100 * r.droppedFraction).toFixed(2)}% of tokens`;
    lines.push(
      `routing ${name}: ${r.numExperts} experts, usage ${(100 * r.usage).toFixed(1)}%, unevenness KL ${r.unevenness.toFixed(3)} nats (log N = ${Math.log(r.numExperts).toFixed(3)})${dropped}`,
    );
  }
  lines.push(`checkpoint: ${s.checkpoint}`);
  if (s.sample) {
    const { prompt, generated, temperature, topK } = s.sample;
    lines.push(
      `sample: ${[...prompt].length} characters of validation text, then ${[...generated].length} generated (temperature ${temperature}, top-k ${topK}); ${PROMPT_END} marks where the prompt ends`,
    );
    lines.push(
      markPrompt(prompt, generated)
        .split('\n')
        .map((l) => `  | ${l}`)
        .join('\n'),
    );
  }
  return lines.join('\n');
}

/** Markdown table comparing runs. */
export function comparisonTable(runs: readonly RunSummary[]): string {
  const rows = [
    '| ffw | val loss | val perplexity | parameters | active / token | expert usage | unevenness (KL) | tokens/s |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const s of runs) {
    const routing = Object.values(s.final.routing)[0];
    rows.push(
      `| ${s.config.ffw} | ${s.final.valLoss.toFixed(4)} | ${s.final.perplexity.toFixed(2)} | ${count(s.parameters)} | ${count(s.activeParameters)} | ${routing ? `${(100 * routing.usage).toFixed(1)}%` : '—'} | ${routing ? routing.unevenness.toFixed(3) : '—'} | ${Math.round(s.tokensPerSecond)} |`,
    );
  }
  return rows.join('\n') + '\n';
}
