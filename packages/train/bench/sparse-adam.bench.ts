// Lazy sparse Adam vs a dense Adam step over a PEER-sized expert table: 1024² rows × 256 (1 GiB of
// float32) with 512 tokens · 8 heads · 16 experts = 65 536 row lookups per step (duplicates included,
// coalesced inside the step). Anchors (notes/anchors.md): dense pass 1.7 s, lazy 0.16 s.
// SPARSE_ADAM_ROWS=65536 npm run bench -- sparse-adam  runs a smaller table.
import { Bench } from 'tinybench';
import { Rng, SparseGrad, tensor, type Tensor } from '@myriad/core';
import { Adam } from '@myriad/train';

const rows = Number(process.env.SPARSE_ADAM_ROWS ?? 1024 * 1024);
const width = 256;
const lookups = 512 * 8 * 16;

const table = tensor(new Float32Array(rows * width), { shape: [rows, width], requiresGrad: true });
const rng = new Rng(1);
const indices = Int32Array.from({ length: lookups }, () => rng.int(rows));
const values = Float32Array.from({ length: lookups * width }, () => rng.normal() * 1e-3);
const sparse = new SparseGrad(tensor(indices, { shape: [lookups], dtype: 'int32' }), tensor(values, { shape: [lookups, width] }), [
  rows,
  width,
]);

const report: string[] = [];
async function measure(name: string, opt: Adam, grad: () => Tensor | SparseGrad): Promise<void> {
  const bench = new Bench({ iterations: 3, time: 0, warmupIterations: 1, warmupTime: 0 });
  bench.add(name, () => {
    table.grad = grad();
    opt.step();
  });
  await bench.run();
  console.table(bench.table());
  const r = bench.tasks[0]!.result;
  const median = r && 'latency' in r ? r.latency.p50 : NaN;
  report.push(`${name}: median ${median?.toFixed(1)} ms`);
}

// Lazy first, then let its 2 GiB of moments go before the dense run allocates its own (peak ~4 GiB).
let lazy: Adam | null = new Adam([table], { lr: 1e-3 });
await measure(`lazy Adam step, ${lookups} of ${rows} rows × ${width}`, lazy, () => sparse);
lazy = null;
const denseGrad = sparse.toDense();
await measure(`dense Adam step, ${rows} rows × ${width}`, new Adam([table], { lr: 1e-3 }), () => denseGrad);
console.log(report.join('\n'));
