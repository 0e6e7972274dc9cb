// The real optimizers of @myriad/train on the gpu backend (issue 10): SGD (plain, momentum, Nesterov,
// weight decay), Adam (L2 decay) and AdamW (decoupled decay, groups from weightDecayGroups), dense and
// lazily on row-sparse gradients (SparseGrad, repeated rows), with and without clipGradNormTensor, give
// the CPU backend's parameters and moments after a few steps; rows no sparse gradient touched stay bit
// for bit as they were; and a step (clip + update, with the lr changed every step) transfers nothing
// between host and device, falls back to the CPU for nothing and compiles no kernel after the first
// steps. Random shapes include size-1 dims and primes. On webasm, and on WebGPU where an adapter
// exists (skipped loudly otherwise; MYRIAD_REQUIRE_OPTIONAL=1 makes that a failure).
import { SparseGrad, Tensor, cpuBackend, getBackend, setBackend, tensor, type Backend } from '@myriad/core';
import { allClose, describeWithOptional, type Tolerance } from '@myriad/core/testing';
import { createGpuBackend, type GpuBackend, type GpuStats } from '@myriad/gpu';
import { Adam, AdamW, SGD, clipGradNormTensor, weightDecayGroups, type BaseHyper, type Optimizer } from '@myriad/train';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VULKAN_INSTALL, webgpuUnavailable } from './webgpu-probe.js';

/**
 * Parameters and moments against the CPU backend: the kernels' default tolerance (tolerances.ts: rtol
 * 1e-4, atol 1e-5). The CPU rule computes each element in double and rounds to f32 once per table;
 * the kernels compute in f32 (and WGSL's sqrt/division are a few ulp), and the clip norm sums in
 * another order, so a few steps of Adam agree to about 1e-6 relative.
 */
const TOL: Tolerance = { rtol: 1e-4, atol: 1e-5 };
const STEPS = 3;

interface Params {
  /** [rows, ...inner]: the table a sparse gradient addresses by row. */
  table: Tensor;
  bias: Tensor;
  /** A 0-d parameter (one row of one element on the device). */
  scale: Tensor;
}

interface OptCase {
  name: string;
  make: (p: Params) => Optimizer<BaseHyper>;
  /** Moment buffers the optimizer keeps per parameter (checked as well as the parameters). */
  buffers: readonly string[];
}

const CASES: readonly OptCase[] = [
  { name: 'SGD', make: (p) => new SGD([p.table, p.bias, p.scale], { lr: 0.1 }), buffers: [] },
  {
    name: 'SGD, momentum 0.9, weight decay 0.01',
    make: (p) => new SGD([p.table, p.bias, p.scale], { lr: 0.05, momentum: 0.9, weightDecay: 0.01 }),
    buffers: ['momentumBuffer'],
  },
  {
    name: 'SGD, Nesterov momentum 0.8, weight decay 0.05 on the table only',
    make: (p) =>
      new SGD(
        [
          { params: [p.table], weightDecay: 0.05 },
          { params: [p.bias, p.scale], lr: 0.02 },
        ],
        { lr: 0.05, momentum: 0.8, nesterov: true },
      ),
    buffers: ['momentumBuffer'],
  },
  {
    name: 'Adam, L2 weight decay 0.01',
    make: (p) => new Adam([p.table, p.bias, p.scale], { lr: 0.01, weightDecay: 0.01 }),
    buffers: ['expAvg', 'expAvgSq'],
  },
  {
    name: 'AdamW, weightDecayGroups 0.1, betas (0.9, 0.95)',
    make: (p) => {
      const model = {
        parameters: () => [p.table, p.bias, p.scale],
        namedParameters: (): [string, Tensor][] => [
          ['embed.weight', p.table],
          ['out.bias', p.bias],
          ['scale', p.scale],
        ],
      };
      return new AdamW(weightDecayGroups(model, { weightDecay: 0.1 }), { lr: 0.01, betas: [0.9, 0.95] });
    },
    buffers: ['expAvg', 'expAvgSq'],
  },
];

interface Problem {
  rows: number;
  inner: number[];
  sparse: boolean;
  /** Clip to this global norm (null: no clipping). */
  clip: number | null;
  /** Rows of each step's sparse gradient (repeats allowed). */
  nnz: number;
  seed: number;
}

/** mulberry32: the same numbers for both backends. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface HostData {
  table: Float32Array;
  bias: Float32Array;
  scale: Float32Array;
  /** Per step: dense gradients, or the sparse table gradient's rows and values. */
  steps: { rows: Int32Array; table: Float32Array; bias: Float32Array; scale: Float32Array }[];
  /** Rows of the table that no step's sparse gradient touches. */
  untouched: number[];
}

function hostData(pr: Problem): HostData {
  const r = rng(pr.seed);
  const width = pr.inner.reduce((a, b) => a * b, 1);
  const bias = pr.inner[pr.inner.length - 1]!;
  const fill = (n: number, s = 1): Float32Array => Float32Array.from({ length: n }, () => (r() * 2 - 1) * s);
  const touched = new Set<number>();
  const steps = Array.from({ length: STEPS }, () => {
    // Sparse: rows from the lower ~2/3 of the table (some rows stay untouched where rows > 1), repeats included.
    const span = Math.max(1, Math.ceil((pr.rows * 2) / 3));
    const rows = Int32Array.from({ length: pr.nnz }, () => Math.floor(r() * span));
    rows.forEach((x) => touched.add(x));
    const tableRows = pr.sparse ? pr.nnz : pr.rows;
    return { rows, table: fill(tableRows * width, 2), bias: fill(bias, 2), scale: fill(1, 2) };
  });
  const untouched = pr.sparse ? Array.from({ length: pr.rows }, (_, i) => i).filter((i) => !touched.has(i)) : [];
  return { table: fill(pr.rows * width), bias: fill(bias), scale: fill(1), steps, untouched };
}

interface Result {
  params: Record<keyof Params, Float32Array>;
  /** `<param>.<buffer>` → contents. */
  buffers: Record<string, Float32Array>;
  norms: number[];
  /** Counters of each step (clip + update), device backends only. */
  stats: GpuStats[];
  /** Compiled kernels after each step, device backends only. */
  kernels: number[];
}

const isGpu = (b: Backend): b is GpuBackend => 'stats' in b;

/** Trains the problem's parameters for STEPS steps of `oc` on `backend`. */
async function run(backend: Backend, oc: OptCase, pr: Problem, data: HostData): Promise<Result> {
  const prev = getBackend();
  setBackend(backend);
  try {
    const shape = [pr.rows, ...pr.inner];
    const p: Params = {
      table: tensor(data.table, { shape }).requiresGrad_(),
      bias: tensor(data.bias, { shape: [pr.inner[pr.inner.length - 1]!] }).requiresGrad_(),
      scale: tensor(data.scale, { shape: [] }).requiresGrad_(),
    };
    // WebGPU uploads host data when a kernel first reads it: do that for the parameters now (a
    // copy), so the counters below see only what the steps themselves move.
    for (const t of Object.values(p)) (t as Tensor).detach().clone();
    const opt = oc.make(p);
    const base = opt.groups.map((g) => g.lr);
    const gpu = isGpu(backend) ? backend : null;
    const out: Result = { params: {} as Result['params'], buffers: {}, norms: [], stats: [], kernels: [] };
    for (let s = 0; s < STEPS; s++) {
      const d = data.steps[s]!;
      // Gradients made on the device (a copy of uploaded data) before the counters are reset: the step
      // itself must not move anything.
      const dev = (t: Tensor): Tensor => t.clone();
      p.table.grad = pr.sparse
        ? new SparseGrad(dev(tensor(d.rows, { dtype: 'int32' })), dev(tensor(d.table, { shape: [pr.nnz, ...pr.inner] })), shape)
        : dev(tensor(d.table, { shape }));
      p.bias.grad = dev(tensor(d.bias, { shape: p.bias.shape }));
      p.scale.grad = dev(tensor(d.scale, { shape: [] }));
      // A schedule: the lr changes every step (a kernel argument, never an upload or a recompile).
      opt.groups.forEach((g, i) => (g.lr = base[i]! * (1 - 0.25 * s)));
      if (gpu) {
        await gpu.sync();
        gpu.resetStats();
      }
      const norm = pr.clip === null ? null : clipGradNormTensor([p.table, p.bias, p.scale], pr.clip);
      opt.step();
      if (gpu) {
        await gpu.sync();
        out.stats.push(gpu.stats());
        out.kernels.push(gpu.memory().kernels);
      }
      if (norm) out.norms.push((await norm.read())[0]!);
      opt.zeroGrad();
    }
    for (const k of ['table', 'bias', 'scale'] as const) out.params[k] = Float32Array.from(await p[k].read());
    const sd = opt.stateDict();
    // stateDict numbers parameters in group order; name them back by identity.
    const order = opt.params();
    const names = new Map<Tensor, string>(Object.entries(p).map(([k, t]) => [t as Tensor, k]));
    for (const [key, t] of Object.entries(sd.tensors)) {
      const [index, buf] = key.split('.');
      out.buffers[`${names.get(order[Number(index)]!)}.${buf}`] = Float32Array.from(await t.read());
    }
    return out;
  } finally {
    setBackend(prev);
  }
}

function close(got: Float32Array, want: Float32Array, what: string): void {
  const r = allClose(tensor(got, { shape: [got.length] }), tensor(want, { shape: [want.length] }), TOL);
  if (!r.ok) throw new Error(`${what}: ${r.message}`);
}

const problems = (maxRows: number): fc.Arbitrary<Problem> =>
  fc.record({
    rows: fc.constantFrom(...[1, 2, 3, 7, 13, 31].filter((r) => r <= maxRows)),
    inner: fc.constantFrom([1], [3], [5], [2, 7], [13]),
    sparse: fc.boolean(),
    clip: fc.constantFrom(null, 0.5, 1e3),
    nnz: fc.constantFrom(1, 2, 5, 11),
    seed: fc.nat(),
  });

/** Always run, whatever fast-check draws: a sparse table with rows left untouched and clipping that scales, and all-size-1. */
const EXAMPLES: [Problem][] = [
  [{ rows: 7, inner: [2, 7], sparse: true, clip: 0.5, nnz: 2, seed: 1 }],
  [{ rows: 1, inner: [1], sparse: false, clip: null, nnz: 1, seed: 2 }],
];

/** The property for one optimizer on `gpu`: equal to the CPU backend, untouched rows unchanged, no transfers. */
async function matchesCpu(gpu: GpuBackend, oc: OptCase, numRuns: number, maxRows: number): Promise<void> {
  let untouchedRows = 0;
  await fc.assert(
    fc.asyncProperty(problems(maxRows), async (pr) => {
      const data = hostData(pr);
      const want = await run(cpuBackend, oc, pr, data);
      const got = await run(gpu, oc, pr, data);
      const where = `${oc.name}, table [${pr.rows},${pr.inner}], ${pr.sparse ? `sparse (${pr.nnz} rows a step)` : 'dense'}, clip ${pr.clip}`;
      for (const k of ['table', 'bias', 'scale'] as const) close(got.params[k], want.params[k], `${where}: ${k}`);
      expect(Object.keys(got.buffers).sort()).toEqual(Object.keys(want.buffers).sort());
      expect(Object.keys(want.buffers)).toHaveLength(3 * oc.buffers.length);
      for (const [k, v] of Object.entries(want.buffers)) close(got.buffers[k]!, v, `${where}: ${k}`);
      if (pr.clip !== null) close(Float32Array.from(got.norms), Float32Array.from(want.norms), `${where}: clip norms`);
      // Lazy: rows no sparse gradient touched keep their bits (parameter and moments) on both backends.
      const width = pr.inner.reduce((a, b) => a * b, 1);
      for (const row of data.untouched) {
        untouchedRows++;
        const at = (a: Float32Array): number[] => Array.from(a.subarray(row * width, (row + 1) * width));
        expect(at(got.params.table), `${where}: untouched row ${row}`).toEqual(at(data.table));
        expect(at(want.params.table)).toEqual(at(data.table));
        for (const b of oc.buffers) expect(at(got.buffers[`table.${b}`]!).every((x) => x === 0)).toBe(true);
      }
      // The step moves nothing between host and device and runs entirely as kernels.
      for (const s of got.stats) {
        expect(s, where).toMatchObject({ uploads: 0, uploadBytes: 0, downloads: 0, downloadBytes: 0, cpuFallbacks: 0 });
        expect(s.kernelLaunches).toBeGreaterThan(0);
      }
      // Same shapes every step, only the lr changes: nothing compiles after the second step.
      expect(got.kernels[STEPS - 1]).toBe(got.kernels[1]);
    }),
    { numRuns, examples: EXAMPLES },
  );
  expect(untouchedRows, 'rows left untouched by every sparse gradient were checked').toBeGreaterThan(0);
}

const strict = (mode: 'webasm' | 'webgpu'): Promise<GpuBackend> =>
  createGpuBackend({
    mode,
    warn: (m) => {
      throw new Error(`unexpected CPU fallback: ${m}`);
    },
  });

describe('optimizers on the gpu backend equal the CPU backend (webasm)', () => {
  let gpu: GpuBackend;
  it.each(CASES)('$name', async (oc) => {
    gpu ??= await strict('webasm');
    await matchesCpu(gpu, oc, 10, 31);
  });
});

// Each new shape compiles WGSL shaders (~0.1 s each on the software adapter): fewer, smaller runs.
describeWithOptional('optimizers on the gpu backend equal the CPU backend (webgpu)', await webgpuUnavailable(), VULKAN_INSTALL, () => {
  let gpu: GpuBackend;
  it.each(CASES)(
    '$name',
    async (oc) => {
      gpu ??= await strict('webgpu');
      await matchesCpu(gpu, oc, 2, 7);
    },
    120_000,
  );
});
