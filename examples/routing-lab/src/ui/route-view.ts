// Draws the route of one token: for PKM/PEER the PEER paper's Figure 2 (query halves → each half's
// top-k sub-keys → k×k candidate grid with the k winners → experts on the √N×√N map → gates → heads),
// for MoE the router's probabilities, the chosen experts with their gates and capacity drops.
import type { MoERoute, ProductKeyHead, ProductKeyRoute, TokenRoute } from '../protocol.js';

const HEAD_COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
const headColor = (h: number) => HEAD_COLORS[h % HEAD_COLORS.length]!;

/** HTML-escapes text. */
const esc = (t: string) => t.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A tag as a string: the views are built as one HTML string and set once (far cheaper than DOM calls). */
function h(tag: string, attrs: Record<string, string> = {}, ...children: string[]): string {
  const a = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${esc(v)}"`)
    .join('');
  return `<${tag}${a}>${children.join('')}</${tag}>`;
}
const t = esc;

/** A share as a whole percentage, without a "-0%" for a tiny negative one. */
const pct = (share: number) => `${Math.round(100 * share) || 0}%`;
const fmt = (v: number, d = 3) => (Math.abs(v) >= 1000 ? v.toExponential(2) : v.toFixed(d));
const showChar = (c: string) => (c === '\n' ? '⏎' : c === ' ' ? '␣' : c === '\t' ? '⇥' : c);

/** Diverging colour for a value scaled to [-1, 1]: blue negative, white zero, red positive. */
function diverging(v: number): string {
  const t = Math.max(-1, Math.min(1, v));
  const a = Math.round(255 * (1 - Math.abs(t)));
  return t >= 0 ? `rgb(255,${a},${a})` : `rgb(${a},${a},255)`;
}

function vectorStrip(values: number[], label: string): string {
  const max = Math.max(1e-6, ...values.map(Math.abs));
  const cells = values.map((v) => h('span', { style: `background:${diverging(v / max)}` })).join('');
  const strip = h('div', { class: 'strip', title: `${label}: ${values.map((v) => v.toFixed(2)).join(', ')}` }, cells);
  return h('div', { class: 'strip-row' }, h('span', { class: 'strip-label' }, label), strip);
}

function subKeyList(title: string, hits: { key: number; score: number }[], used: Set<number>): string {
  const items = hits.map((hit, a) => h('li', { class: used.has(a) ? 'used' : '' }, h('b', {}, `#${hit.key}`), ` ${fmt(hit.score, 2)}`));
  return h('div', {}, h('h4', {}, title), h('ol', { class: 'subkeys' }, ...items));
}

function candidateGrid(head: ProductKeyHead, k: number): string {
  const rank = new Map<number, number>();
  head.winners.forEach((w, r) => rank.set(w.a * k + w.b, r + 1));
  const lo = Math.min(...head.grid);
  const hi = Math.max(...head.grid);
  const rows = [h('tr', {}, h('th', {}, 'i \\ j'), ...head.top2.map((s2) => h('th', {}, `${s2.key}`)))];
  for (let a = 0; a < k; a++) {
    const cells = [h('th', {}, `${head.top1[a]!.key}`)];
    for (let b = 0; b < k; b++) {
      const v = head.grid[a * k + b]!;
      const r = rank.get(a * k + b);
      const u = (v - lo) / (hi - lo || 1);
      cells.push(
        h(
          'td',
          {
            class: r ? 'winner' : '',
            style: `background:rgba(60,110,220,${(0.08 + 0.6 * u).toFixed(2)})`,
            title: `sub-keys (${head.top1[a]!.key}, ${head.top2[b]!.key}): ${v.toFixed(3)}`,
          },
          r ? String(r) : '',
        ),
      );
    }
    rows.push(h('tr', {}, ...cells));
  }
  return h('table', { class: k > 12 ? 'grid compact' : 'grid', 'aria-label': `${k} by ${k} candidate scores` }, ...rows);
}

function drawExpertMap(c: HTMLCanvasElement, route: ProductKeyRoute, selected: number): void {
  const n = route.numKeys;
  const size = c.width;
  const ctx = c.getContext('2d', { willReadFrequently: true })!;
  ctx.fillStyle = '#f4f5f8';
  ctx.fillRect(0, 0, size, size);
  const cell = size / n;
  if (cell >= 4) {
    ctx.strokeStyle = '#dde';
    ctx.beginPath();
    for (let i = 0; i <= n; i++) {
      ctx.moveTo(i * cell, 0);
      ctx.lineTo(i * cell, size);
      ctx.moveTo(0, i * cell);
      ctx.lineTo(size, i * cell);
    }
    ctx.stroke();
  }
  const r = Math.max(2.5, cell / 2);
  // Other heads first (faded), the selected head on top.
  const order = route.heads
    .map((_, i) => i)
    .filter((i) => i !== selected)
    .concat([selected]);
  for (const hi of order) {
    ctx.fillStyle = headColor(hi);
    ctx.globalAlpha = hi === selected ? 1 : 0.4;
    for (const w of route.heads[hi]!.winners) {
      const i = Math.floor(w.expert / n);
      const j = w.expert % n;
      ctx.beginPath();
      ctx.arc((j + 0.5) * cell, (i + 0.5) * cell, hi === selected ? r + 1.5 : r, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
  ctx.globalAlpha = 1;
}

function gateBar(gate: number, max: number, color: string): string {
  return h('span', { class: 'bar', style: `width:${Math.max(1, (100 * gate) / (max || 1)).toFixed(1)}px;background:${color}` });
}

/** The experts and gates of every head, one block per head (what the test compares with lastRouting). */
function routeTable(route: ProductKeyRoute): string {
  const peer = route.kind === 'peer';
  const blocks = route.heads.map((head, hi) => {
    const max = Math.max(...head.winners.map((w) => w.gate));
    const rows = head.winners.map((w) => {
      const i = Math.floor(w.expert / route.numKeys);
      const j = w.expert % route.numKeys;
      const title = `expert ${w.expert} = (${i}, ${j}); score q·k ${w.score.toFixed(3)}; gate ${w.gate.toFixed(5)}${peer ? `; σ(uᵀx) = ${(w.activation ?? 0).toFixed(3)}` : ''}`;
      return h(
        'tr',
        { 'data-head': String(hi), 'data-expert': String(w.expert), 'data-gate': String(w.gate), title },
        h('td', { class: 'ex' }, String(w.expert)),
        h('td', { class: 'gate' }, gateBar(w.gate, max, headColor(hi))),
        h('td', {}, fmt(w.gate, 3)),
      );
    });
    return h(
      'div',
      { class: 'head-block', style: `border-top-color:${headColor(hi)}` },
      h('div', { class: 'head-title' }, `head ${hi}`, h('small', {}, ` ${pct(head.share)} of y`)),
      h('table', {}, ...rows),
    );
  });
  return h('div', { class: 'route-heads', id: 'route-table' }, ...blocks);
}

function productKeyView(route: ProductKeyRoute, selected: number): string {
  const head = route.heads[selected]!;
  const k = route.k;
  const n = route.numKeys;
  const used1 = new Set(head.winners.map((w) => w.a));
  const used2 = new Set(head.winners.map((w) => w.b));
  const picker = route.heads
    .map((hd, i) =>
      h(
        'button',
        {
          type: 'button',
          role: 'tab',
          'data-pick-head': String(i),
          'aria-selected': String(i === selected),
          style: `border-color:${headColor(i)}`,
        },
        `head ${i}`,
        h('small', {}, ` ${pct(hd.share)}`),
      ),
    )
    .join('');
  const steps = h(
    'div',
    { class: 'fig2' },
    h(
      'div',
      { class: 'fig-step' },
      h('h3', {}, `1. head ${selected}'s query, split in two halves`),
      vectorStrip(head.q1, 'q₁'),
      vectorStrip(head.q2, 'q₂'),
      h(
        'p',
        { class: 'small' },
        `Each half is scored against its own ${n} sub-keys: q₁·cᵢ and q₂·c′ⱼ. The key of expert (i, j) is [cᵢ ; c′ⱼ], so its score is the sum.`,
      ),
    ),
    h(
      'div',
      { class: 'fig-step' },
      h('h3', {}, `2. each half's top-${k} sub-keys`),
      h('div', { class: 'two' }, subKeyList('half 1: i', head.top1, used1), subKeyList('half 2: j', head.top2, used2)),
      h(
        'p',
        { class: 'small subkeys-legend' },
        `#sub-key, then its score. Blue: part of at least one of the ${k} winning experts; grey: in this half's top ${k}, but no winner uses it.`,
      ),
    ),
    h(
      'div',
      // A large k (PKM's 32) gets two columns and smaller cells, so the grid never runs under step 4.
      { class: k > 12 ? 'fig-step wide' : 'fig-step' },
      h('h3', {}, `3. the ${k}×${k} candidates, top ${k} numbered`),
      candidateGrid(head, k),
      h('p', { class: 'small' }, `The best ${k} of all ${n * n} = ${n}² keys are always among these ${k * k}: exact search at √N cost.`),
    ),
    h(
      'div',
      { class: 'fig-step' },
      h('h3', {}, `4. the chosen experts on the ${n}×${n} map`),
      h('canvas', { width: '240', height: '240', class: 'expert-map', 'aria-label': `${n}×${n} expert map with the chosen experts` }),
      h('p', { class: 'small' }, `Row i, column j: expert i·${n} + j. Head ${selected} large, the other heads faded.`),
    ),
  );
  return (
    h('div', { class: 'heads', role: 'tablist' }, picker) +
    steps +
    h(
      'h3',
      {},
      `5. gates: ${route.scoreFn} over each head's ${k} scores (hover a row for its score${route.kind === 'peer' ? ' and hidden activation' : ''})`,
    ) +
    routeTable(route) +
    h('h3', {}, "6. each head's contribution") +
    headShares(route)
  );
}

function headShares(route: ProductKeyRoute): string {
  const max = Math.max(...route.heads.map((hd) => Math.abs(hd.share)), 1e-9);
  const items = route.heads.map((hd, i) =>
    h(
      'li',
      {},
      h('span', { class: 'label' }, `head ${i}`),
      gateBar(Math.abs(hd.share), max, headColor(i)),
      ` ${(100 * hd.share).toFixed(1)}% of the output (‖fₕ‖ = ${fmt(hd.outputNorm, 3)})`,
    ),
  );
  const formula =
    route.kind === 'peer'
      ? 'fₕ(x) = Σᵢ gᵢ·σ(uᵢᵀx)·vᵢ; the layer adds the heads: y = Σₕ fₕ(x). Share = fₕ·y / ‖y‖².'
      : 'fₕ(x) = Σᵢ gᵢ·vᵢ (memory rows); y = Σₕ fₕ(x). Share = fₕ·y / ‖y‖².';
  return h('ul', { class: 'head-shares' }, ...items) + h('p', { class: 'small' }, formula);
}

function moeView(route: MoERoute): string {
  const E = route.numExperts;
  const chosen = new Map(route.chosen.map((c) => [c.expert, c.gate]));
  const dropped = new Set(route.droppedSlots);
  const maxP = route.probs ? Math.max(...route.probs) : 1;
  const bars: string[] = [];
  for (let e = 0; e < E; e++) {
    const p = route.probs?.[e] ?? (chosen.has(e) ? chosen.get(e)! : 0);
    const cls = chosen.has(e) ? 'chosen' : dropped.has(e) ? 'dropped' : '';
    bars.push(
      h(
        'div',
        { class: `moe-bar ${cls}`, title: `expert ${e}: p = ${p.toFixed(4)}${route.bias ? `, bias ${route.bias[e]!.toFixed(4)}` : ''}` },
        h('span', { class: 'fill', style: `height:${((100 * p) / (maxP || 1)).toFixed(1)}%` }),
        // Few experts: each bar's p written above it (with many, the tooltip has it).
        E <= 16 && route.probs
          ? h('span', { class: 'val', style: `bottom:calc(${((100 * p) / (maxP || 1)).toFixed(1)}% + 2px)` }, pct(p))
          : '',
        h('span', { class: 'lbl' }, String(e)),
      ),
    );
  }
  const list = [
    ...route.chosen.map((c) =>
      h(
        'li',
        { 'data-head': '0', 'data-expert': String(c.expert), 'data-gate': String(c.gate) },
        `expert ${c.expert}: gate ${fmt(c.gate, 4)}${route.probs ? ` (p = ${fmt(route.probs[c.expert]!, 4)})` : ''}`,
      ),
    ),
    ...route.droppedSlots.map((e) =>
      h(
        'li',
        { class: 'dropped' },
        `expert ${e}: picked, but full (capacity ${route.capacity}); this token skips it and the residual carries it`,
      ),
    ),
  ];
  const routerText =
    route.router === 'hash'
      ? 'Hash router: the experts are a fixed hash of the character id, gates 1/k; there are no probabilities to learn.'
      : route.router === 'expert-choice'
        ? `Expert choice: each expert takes its top ${route.capacity} tokens of this context by p; this token is served by the experts that picked it, gate = p.`
        : `Top-k router: p = softmax(x·Wᵀ) over ${E} experts; the top ${route.chosen.length + route.droppedSlots.length} are picked${route.bias ? ' (by p + bias: the bias only steers the choice)' : ''}; gates = p, renormalised over the picks.`;
  const cap = route.capacity === null || !Number.isFinite(route.capacity) ? 'unlimited' : String(route.capacity);
  const drop = route.droppedFraction === null ? '–' : `${(100 * route.droppedFraction).toFixed(1)}% of assignments`;
  return (
    h('p', { class: 'small' }, routerText) +
    h('h3', {}, route.probs ? 'router probabilities p over the experts (chosen dark, dropped striped)' : 'experts (chosen dark)') +
    h('div', { class: 'moe-bars' }, ...bars) +
    h('h3', {}, 'chosen experts and gates') +
    h('ol', { class: 'moe-chosen', id: 'route-table' }, ...list) +
    h(
      'p',
      { class: 'small' },
      `${route.numShared ? `Plus ${route.numShared} shared expert(s) every token goes through. ` : ''}Capacity per expert: ${cap}; dropped in this context: ${drop}.`,
    )
  );
}

/** Renders `route` into `host`; `selectedHead` chooses the head the Figure-2 steps show (buttons call `onHead`). */
export function drawRoute(host: HTMLElement, route: TokenRoute, selectedHead: number, onHead: (h: number) => void): void {
  const guesses = route.next.map((n) => h('span', { class: 'guess' }, t(`${showChar(n.char)} ${(100 * n.p).toFixed(0)}%`))).join('');
  let html = h(
    'div',
    { class: 'route-head' },
    h('span', { class: 'token' }, t(showChar(route.char))),
    ` at step ${route.step}; the model's next-character guess: `,
    guesses,
  );
  if (route.agrees !== null) {
    html += h(
      'p',
      { class: route.agrees ? 'agree' : 'disagree', id: 'route-agrees' },
      route.agrees
        ? '✓ recomputed step by step, this route selects exactly the experts and gates the layer recorded in its forward pass (lastRouting).'
        : "✗ the recomputed route differs from the layer's record (lastRouting); please report this.",
    );
  }
  const d = route.detail;
  const head = d.kind === 'pkm' || d.kind === 'peer' ? Math.min(selectedHead, d.heads.length - 1) : 0;
  if (d.kind === 'dense')
    html += h('p', {}, 'The middle block is a dense MLP: every token uses all of it; there is no routing to show. Pick MoE, PKM or PEER.');
  else if (d.kind === 'moe') html += moeView(d);
  else html += productKeyView(d, head);
  // The expert map keeps one canvas element across refreshes: a new canvas would need a new 2D
  // context (with GPU rasterisation a round trip to the GPU process) every few training steps.
  const kept = host.querySelector<HTMLCanvasElement>('canvas.expert-map');
  host.innerHTML = html;
  if (d.kind === 'pkm' || d.kind === 'peer') {
    let canvas = host.querySelector<HTMLCanvasElement>('canvas.expert-map');
    if (canvas && kept) {
      kept.setAttribute('aria-label', canvas.getAttribute('aria-label') ?? '');
      canvas.replaceWith(kept);
      canvas = kept;
    }
    if (canvas) drawExpertMap(canvas, d, head);
    host.onclick = (e) => {
      const b = (e.target as HTMLElement).closest<HTMLElement>('[data-pick-head]');
      if (b) onHead(Number(b.dataset.pickHead));
    };
  }
}
