// PEER forward + backward at the paper's scale (He 2024): dim 256, heads 8, topK 16, dimKey 128,
// 512 tokens, loss Σ y·x, at N = 128², 256², 512², 1024² experts, and a dense FeedForward with the
// same 128 active hidden neurons (heads · topK) in the same run. Product-key retrieval makes the cost
// grow with √N (sub-key scoring), so the target is time(1024²) ≤ 2 × time(128²).
// Anchor (notes/anchors.md, PyTorch on this machine class): 302 / 346 / 431 / 573 ms; dense 4.3 ms.
//   npm run bench -- peer                      all sizes (needs ~3 GiB at 1024²)
//   PEER_BENCH_KEYS=128,256 npm run bench -- peer   a subset of numKeys
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Bench } from 'tinybench';
import * as core from '@myriad/core';
import { mul, randn, sum, type Tensor } from '@myriad/core';
import { FeedForward, PEER } from '@myriad/nn';

// Use core's WebAssembly kernels when this version of core offers them.
const install = (core as { installWasmKernels?: () => boolean }).installWasmKernels;
const kernels = install?.() ? 'wasm' : 'js';

const dim = 256;
const heads = 8;
const topK = 16;
const dimKey = 128;
const tokens = 512;
const keySizes = (process.env.PEER_BENCH_KEYS ?? '128,256,512,1024').split(',').map(Number);

const x = randn([tokens, dim], { seed: 1 });
const peakRssGiB = () => (process.resourceUsage().maxRSS * 1024) / 2 ** 30;

/** Median ms of `fn` over a few runs (plus one warm-up). */
async function medianMs(name: string, fn: () => void, iterations = 5): Promise<number> {
  const bench = new Bench({ iterations, time: 0, warmupIterations: 1, warmupTime: 0 });
  bench.add(name, fn);
  await bench.run();
  const r = bench.tasks[0]!.result;
  if (!r || !('latency' in r)) throw new Error(`bench ${name} failed: ${JSON.stringify(r)}`);
  return r.latency.p50 ?? NaN;
}

const rows: string[] = [];
const GiB = 2 ** 30;
// A collectable heap, so the typed-array bytes live after init are the parameters alone.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const typedBytes = () => process.memoryUsage().arrayBuffers;
let stepBytes = 0; // most typed-array bytes live right after a step's backward (gradients still held)
const step = (layer: PEER | FeedForward): void => {
  layer.zeroGrad();
  const y: Tensor = layer.forward(x);
  sum(mul(y, x)).backward();
  stepBytes = Math.max(stepBytes, typedBytes());
};

const ff = new FeedForward({ dim, hidden: heads * topK, seed: 2 });
const dense = await medianMs('dense FeedForward 256→128→256', () => step(ff), 20);
rows.push(`| dense FeedForward, hidden ${heads * topK} | — | ${dense.toFixed(1)} | — | — | ${peakRssGiB().toFixed(2)} |`);

let base = NaN;
for (const numKeys of keySizes) {
  const t0 = performance.now();
  let peer: PEER | null = new PEER({ dim, heads, numExperts: numKeys * numKeys, topK, dimKey, seed: 3 });
  const initS = (performance.now() - t0) / 1000;
  gc();
  const afterInit = typedBytes();
  stepBytes = 0;
  const ms = await medianMs(`PEER N=${numKeys}²`, () => step(peer!));
  const stepGiB = (stepBytes - afterInit) / GiB;
  if (Number.isNaN(base)) base = ms;
  rows.push(
    `| PEER, N = ${numKeys}² | ${(numKeys * numKeys).toLocaleString('en-US')} | ${ms.toFixed(0)} | ${(ms / base).toFixed(2)} | ${stepGiB.toFixed(2)} | ${peakRssGiB().toFixed(2)} |`,
  );
  console.log(
    `N=${numKeys}²: ${ms.toFixed(1)} ms (init ${initS.toFixed(1)} s), typed arrays above the parameters during steps ${stepGiB.toFixed(2)} GiB, peak RSS ${peakRssGiB().toFixed(2)} GiB`,
  );
  peer = null;
}

console.log(
  `\nPEER forward+backward, dim ${dim}, heads ${heads}, topK ${topK}, dimKey ${dimKey}, ${tokens} tokens, ${kernels} kernels (median ms)\n`,
);
console.log('| layer | experts | ms | × N = first | typed arrays above params per step, GiB | peak RSS GiB (cumulative, incl. init) |');
console.log('|---|---|---|---|---|---|');
console.log(rows.join('\n'));
