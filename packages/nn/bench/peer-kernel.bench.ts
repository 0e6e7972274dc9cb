// Issue 12's table from one run: PEER at N = 1024² (dim 256, 8 heads × top-16, dimKey 128, BatchNorm
// queries, 512 tokens, float32, loss Σ y·x) with the fused expertMix ("fused") and with the composed
// ops PEER used before (indexSelect + matmul + activation + mul + matmul, "composed"; both variants
// retrieve with core's productKeyTopk, fused on the CPU since 2 December 2026), interleaved in
// one process, and PyTorch (Debian python3-torch, PEER from the paper in python/myriad_torch, sparse
// embeddings, 2 threads) in a child process run first. Then expertMix alone against the memory-traffic
// floor of its shape: every chosen row of down and up read twice (forward, backward) and every touched
// row of both gradients written once, measured as memcpy passes over the same rows. Last, PKM's weighted
// value read (embeddingBag) over the same rows of one table, fused and composed, against its own floor,
// and the retrieval alone (productKeyTopk, fused and composed).
//   npm run bench -- peer-kernel                 (PEER_KERNEL_KEYS=256 for a quick run, PEER_KERNEL_STEPS=5,
//                                                 PEER_KERNEL_POOL=off without the CPU backend's buffer reuse)
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuBufferPool, mul, nextTask, randn, reshape, sum, tensor, type Tensor } from '@myriad/core';
import { FeedForward, PEER } from '@myriad/nn';
import { AdamW } from '@myriad/train';
import { embeddingBagComposed, embeddingBagFused } from '../../core/src/ops/embedding-bag.js';
import { expertMixComposed, expertMixFused } from '../../core/src/ops/expert-mix.js';
import { productKeyTopkComposed, productKeyTopkFused } from '../../core/src/ops/product-key-topk.js';

const numKeys = Number(process.env.PEER_KERNEL_KEYS ?? 1024);
if (process.env.PEER_KERNEL_POOL === 'off') cpuBufferPool.setLimits({ maxFreeBytes: 0 });
const steps = Number(process.env.PEER_KERNEL_STEPS ?? 5);
const [dim, heads, topK, dimKey, tokens] = [256, 8, 16, 128, 512];
const S = heads * topK;
const GiB = 2 ** 30;
const loadBefore = loadavg()[0]!;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const peakRss = () => (process.resourceUsage().maxRSS * 1024) / GiB;

// --- PyTorch first, before this process holds its own tables ------------------------------------
interface TorchResult {
  torch: string;
  threads: number;
  fwd_bwd_ms: number;
  step_ms: number;
  peak_rss_gib: number;
}
let torch: TorchResult | null = null;
{
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const script = join(dirname(fileURLToPath(import.meta.url)), 'peer_torch.py');
  const r = spawnSync('/usr/bin/python3', [script, String(numKeys), String(tokens), String(steps), '2'], { env, encoding: 'utf8' });
  if (r.status === 0) torch = JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchResult;
  else console.log(`PyTorch column skipped: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
  if (torch)
    console.log(
      `PyTorch ${torch.torch}, ${torch.threads} threads: fwd+bwd ${torch.fwd_bwd_ms.toFixed(0)} ms, with optimizer ${torch.step_ms.toFixed(0)} ms`,
    );
}

// --- Myriad: one PEER, its expert mix switched between fused and composed ------------------------
class BenchPEER extends PEER {
  composed = false;
  protected override mixExperts(xf: Tensor, experts: Tensor, gates: Tensor): Tensor {
    return (this.composed ? expertMixComposed : expertMixFused)(xf, this.down.weight, this.up.weight, experts, gates, this.activation);
  }
}
const t0 = performance.now();
const peer = new BenchPEER({ dim, heads, numExperts: numKeys * numKeys, topK, dimKey, seed: 3 });
console.log(`Myriad PEER N = ${numKeys}² initialised in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const x = randn([tokens, dim], { seed: 1 });
const paramBytes = peer.parameters().reduce((n, p) => n + p.size * 4, 0);
const arrayBytes = () => process.memoryUsage().arrayBuffers;
const above: Record<'fused' | 'composed', number> = { fused: 0, composed: 0 };

const fwdBwd = (): void => {
  peer.zeroGrad();
  sum(mul(peer.forward(x), x)).backward();
};
/**
 * Interleaves the fused and composed variants of `fn` (order alternating), `steps` timed rounds after
 * `warmup` untimed ones. Each call is followed by a new task, as in a training loop that awaits its loss: the
 * CPU backend then reuses the buffers of the step before.
 */
async function interleave(fn: () => void, warmup = 1): Promise<{ fused: number; composed: number; means: string }> {
  const times = { fused: [] as number[], composed: [] as number[] };
  for (let r = -warmup; r < steps; r++) {
    const order = (r + warmup) % 2 === 0 ? (['fused', 'composed'] as const) : (['composed', 'fused'] as const);
    for (const v of order) {
      peer.composed = v === 'composed';
      const t = performance.now();
      fn();
      const ms = performance.now() - t;
      above[v] = Math.max(above[v], arrayBytes() - paramBytes);
      if (r >= 0) times[v].push(ms);
      await nextTask();
    }
  }
  // Means too: the garbage collector's rhythm makes some steps slow, which medians hide and throughput pays.
  const mean = (xs: number[]) => (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(0);
  return {
    fused: median(times.fused),
    composed: median(times.composed),
    means: `means: fused ${mean(times.fused)} ms, composed ${mean(times.composed)} ms`,
  };
}
const fb = await interleave(fwdBwd);
const rssFwdBwd = peakRss();
console.log(`fwd+bwd: fused ${fb.fused.toFixed(0)} ms, composed ${fb.composed.toFixed(0)} ms (medians; ${fb.means})`);
const opt = new AdamW(peer.parameters(), { lr: 1e-3 });
// Ten untimed optimizer steps first: the moment tables (2 × 2 GiB) start as untouched zero pages, and a
// step's first write to a page faults it in; after ten steps of 65 536 rows over 90 % of the moments'
// pages are resident. PyTorch pays the same once, in its warm-up step (SparseAdam's zeros_like writes
// every page).
const withStep = await interleave(() => {
  fwdBwd();
  opt.step();
}, 5);
const rssStep = peakRss();
console.log(
  `fwd+bwd+AdamW: fused ${withStep.fused.toFixed(0)} ms, composed ${withStep.composed.toFixed(0)} ms (medians; ${withStep.means})`,
);

// A dense FeedForward with the same active neurons (heads · topK), same tokens: the layer-level ratio.
const ff = new FeedForward({ dim, hidden: S, seed: 2 });
const ffTimes: number[] = [];
for (let r = -2; r < 20; r++) {
  const t = performance.now();
  ff.zeroGrad();
  sum(mul(ff.forward(x), x)).backward();
  if (r >= 0) ffTimes.push(performance.now() - t);
}
const dense = median(ffTimes);

// --- expertMix alone, on this step's routing, against the memory floor ----------------------------
peer.composed = false;
peer.forward(x);
const routing = peer.lastRouting!;
const idx = tensor(routing.indices, { shape: [tokens, S], dtype: 'int32' });
const gatesData = routing.scores;
const xs = randn([tokens, dim], { seed: 5 }).requiresGrad_();
const gs = reshape(tensor(gatesData, { shape: [tokens, S] }), [tokens, S]).requiresGrad_();
const w = randn([tokens, dim], { seed: 6 });
const down = peer.down.weight;
const up = peer.up.weight;
const mixTimes = { fused: [] as number[], composed: [] as number[], floor: [] as number[] };
const idxData = idx.toTypedArray() as Int32Array;
const distinct = new Set(idxData).size;
const downData = down.data as Float32Array;
const upData = up.data as Float32Array;
const row = new Float32Array(dim);
let _sink = 0;
/**
 * Reads the chosen rows of `tables` the fastest way found (as stageRows does): per chunk of 512 rows,
 * first one element a row (independent loads whose cache and TLB misses overlap), then each row whole.
 */
const readRows = (...tables: Float32Array[]): void => {
  for (let c0 = 0; c0 < idxData.length; c0 += 512) {
    const c1 = Math.min(idxData.length, c0 + 512);
    for (const t of tables) for (let p = c0; p < c1; p++) _sink += t[idxData[p]! * dim]!;
    for (let p = c0; p < c1; p++) {
      const o = idxData[p]! * dim;
      for (const t of tables) row.set(t.subarray(o, o + dim));
    }
  }
};
const readPass = () => readRows(downData, upData);
const uniqueRows = Int32Array.from(new Set(idxData)).sort();
// The gradient rows are written into memory written before (as reused buffers are), not fresh pages.
const [gradA, gradB] = [new Float32Array(distinct * dim), new Float32Array(distinct * dim)];
const writePass = () => {
  const [a, b] = [gradA, gradB];
  for (let u = 0; u < distinct; u++) {
    a.set(row, u * dim);
    b.set(row, u * dim);
  }
  return a[0]! + b[0]! + uniqueRows.length;
};
for (let r = -1; r < 3 * steps; r++) {
  for (const v of ['fused', 'composed', 'floor'] as const) {
    const t = performance.now();
    if (v === 'floor') {
      readPass();
      readPass();
      writePass();
    } else {
      peer.zeroGrad();
      xs.grad = null;
      gs.grad = null;
      const y = (v === 'fused' ? expertMixFused : expertMixComposed)(xs, down, up, idx, gs, 'gelu');
      sum(mul(y, w)).backward();
    }
    if (r >= 0) mixTimes[v].push(performance.now() - t);
    await nextTask();
  }
}
const mix = { fused: median(mixTimes.fused), composed: median(mixTimes.composed), floor: median(mixTimes.floor) };

// PKM's value read, y[t] = Σₛ gₛ·up[idx[t,s]]: the same rows of one table, read in the forward and the
// backward, its gradient rows written once.
const bagTimes = { fused: [] as number[], composed: [] as number[], floor: [] as number[] };
const readUpPass = () => readRows(upData);
const writeUpPass = () => {
  const a = gradA;
  for (let u = 0; u < distinct; u++) a.set(row, u * dim);
  return a[0]! + uniqueRows.length;
};
for (let r = -1; r < 3 * steps; r++) {
  for (const v of ['fused', 'composed', 'floor'] as const) {
    const t = performance.now();
    if (v === 'floor') {
      readUpPass();
      readUpPass();
      writeUpPass();
    } else {
      up.grad = null;
      gs.grad = null;
      const y = (v === 'fused' ? embeddingBagFused : embeddingBagComposed)(up, idx, gs);
      sum(mul(y, w)).backward();
    }
    if (r >= 0) bagTimes[v].push(performance.now() - t);
    await nextTask();
  }
}
const bag = { fused: median(bagTimes.fused), composed: median(bagTimes.composed), floor: median(bagTimes.floor) };
const readBytes = 4 * idxData.length * dim * 4;
const writeBytes = 2 * distinct * dim * 4;

// --- productKeyTopk alone: this PEER's retrieval (its queries and sub-keys), fused and composed ------
const queries = randn([tokens, heads, dimKey], { seed: 7 }).requiresGrad_();
const subKeys = peer.keys;
const scoreWeights = randn([tokens, heads, topK], { seed: 8 });
const pkTimes = { fused: { fwd: [] as number[], bwd: [] as number[] }, composed: { fwd: [] as number[], bwd: [] as number[] } };
for (let r = -1; r < 3 * steps; r++) {
  for (const v of r % 2 === 0 ? (['fused', 'composed'] as const) : (['composed', 'fused'] as const)) {
    queries.grad = null;
    subKeys.grad = null;
    const t = performance.now();
    const { scores } = (v === 'fused' ? productKeyTopkFused : productKeyTopkComposed)(queries, subKeys, topK);
    const t1 = performance.now();
    sum(mul(scores, scoreWeights)).backward();
    if (r >= 0) {
      pkTimes[v].fwd.push(t1 - t);
      pkTimes[v].bwd.push(performance.now() - t1);
    }
    await nextTask();
  }
}

// --- the table ---------------------------------------------------------------------------------------
const cpuFlags = (() => {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '';
  } catch {
    return '';
  }
})();
const ms = (v: number) => `${v.toFixed(0)} ms`;
const vsTorch = (v: number) =>
  torch ? ` (${(v / (v === fb.fused || v === fb.composed ? torch.fwd_bwd_ms : torch.step_ms)).toFixed(2)}× PyTorch's)` : '';
console.log(
  `\nPEER N = ${numKeys}², dim ${dim}, ${heads} heads × top-${topK}, dimKey ${dimKey}, ${tokens} tokens, float32; medians of ${steps} interleaved steps`,
);
console.log(
  `node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}${/\bavx512f\b/.test(cpuFlags) ? ' (AVX-512)' : ''}, ${cpus().length} cores; load average ${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after\n`,
);
console.log(`| | Myriad, composed (before) | Myriad, fused expertMix | PyTorch (${torch?.threads ?? 2} threads) | goal |`);
console.log('|---|---|---|---|---|');
console.log(
  `| fwd+bwd | ${ms(fb.composed)}${vsTorch(fb.composed)} | ${ms(fb.fused)}${vsTorch(fb.fused)} | ${torch ? ms(torch.fwd_bwd_ms) : '—'} | ≤ 0.25× PyTorch's |`,
);
console.log(
  `| fwd+bwd+optimizer (lazy AdamW vs SparseAdam + Adam) | ${ms(withStep.composed)}${vsTorch(withStep.composed)} | ${ms(withStep.fused)}${vsTorch(withStep.fused)} | ${torch ? ms(torch.step_ms) : '—'} | ≤ 0.15× |`,
);
console.log(
  `| layer only (not the demo model): dense FFW (hidden ${S}) time ÷ PEER time, fwd+bwd | ${(dense / fb.composed).toFixed(3)} | ${(dense / fb.fused).toFixed(3)} (dense ${dense.toFixed(1)} ms) | — | ≥ 0.8 (demo model tokens/s) |`,
);
console.log(
  `| peak RSS at ${numKeys}² (params ${(paramBytes / GiB).toFixed(2)} GiB; AdamW state 2× params) | after fwd+bwd ${rssFwdBwd.toFixed(2)} GiB, after the optimizer steps ${rssStep.toFixed(2)} GiB (one process, both variants) | typed arrays above the parameters: ${(above.fused / GiB).toFixed(2)} GiB fused, ${(above.composed / GiB).toFixed(2)} GiB composed | ${torch ? `${torch.peak_rss_gib.toFixed(2)} GiB` : '—'} | ≤ params + optimizer state + 10 % |`,
);
console.log(
  `\nexpertMix alone, [${tokens}×${dim}] tokens × ${S} experts each (${distinct} distinct of ${numKeys * numKeys}), fwd+bwd, medians of ${3 * steps}:`,
);
console.log(`| composed | fused | memory floor (memcpy passes) | fused ÷ floor | bytes: rows read, gradient rows written |`);
console.log('|---|---|---|---|---|');
console.log(
  `| ${mix.composed.toFixed(1)} ms | ${mix.fused.toFixed(1)} ms | ${mix.floor.toFixed(1)} ms | ${(mix.fused / mix.floor).toFixed(2)}× | ${(readBytes / 2 ** 20).toFixed(0)} MiB read (4 rows × ${idxData.length}), ${(writeBytes / 2 ** 20).toFixed(0)} MiB written (2 × ${distinct} rows); at the floor's speed ${((readBytes + writeBytes) / (mix.floor / 1000) / 1e9).toFixed(1)} GB/s |`,
);
const pool = cpuBufferPool.stats();
console.log(
  `\nCPU buffer pool over the run: ${pool.reused} buffers reused, ${pool.allocated} allocated, ${pool.unpooled} unpooled (over the per-task limit)`,
);
const pk = (v: 'fused' | 'composed') => `${median(pkTimes[v].fwd).toFixed(1)} + ${median(pkTimes[v].bwd).toFixed(1)} ms`;
console.log(
  `\nproductKeyTopk alone (${tokens * heads} queries, ${numKeys} sub-keys per half, dimKey ${dimKey}, k ${topK}), forward + backward, medians of ${3 * steps}:`,
);
console.log('| composed (matmul, topk, add, topk, gather) | fused |');
console.log('|---|---|');
console.log(`| ${pk('composed')} | ${pk('fused')} |`);
console.log(`\nPKM's value read alone (embeddingBag over the same ${idxData.length} rows of one table), fwd+bwd, medians of ${3 * steps}:`);
console.log('| composed (indexSelect + batched matmul) | fused | memory floor (memcpy passes) | fused ÷ floor |');
console.log('|---|---|---|---|');
console.log(
  `| ${bag.composed.toFixed(1)} ms | ${bag.fused.toFixed(1)} ms | ${bag.floor.toFixed(1)} ms | ${(bag.fused / bag.floor).toFixed(2)}× |`,
);
