// Generates the op table of docs/core.md from the code: every op exported by @myriad/core is run once
// on a recording backend (the CPU backend behind a proxy that logs which Backend methods are called
// and acts like a device: no host arrays). "Differentiable" is whether the output joined the graph;
// the kernels are the Backend methods it called; an op that uploads host-made data (fromTypedArray)
// or reads values back (readSync/read) needs the host, so it is not native on a device backend.
// "Backward" lists the grad nodes the probe's output records; grad-registry.test.ts runs gradCheck
// through every differentiable op's probe, so each op in the table with a backward is gradient-checked.
import * as core from '@myriad/core';
import { cpuBackend, Rng, type Backend, type Tensor } from '@myriad/core';
import type { GradCheckOptions } from '@myriad/core/testing';

/** Exports of @myriad/core that are not tensor ops (classes, backend plumbing, I/O, randomness state, helpers). */
export const NOT_OPS = new Set([
  'BufferPool',
  'Rng',
  'SafetensorsError',
  'ShapeError',
  'SparseGrad',
  'Tensor',
  'broadcastShapes',
  'checkUpdateRule',
  'coalesceDims',
  'compileUpdateRule',
  'contiguousStrides',
  'formatShape',
  'formatTensor',
  'getBackend',
  'getCheckNumerics',
  'getGlobalRng',
  'getRngState',
  'installKernels',
  'installWasmKernels',
  'installWasmKernelsAsync',
  'isBackend',
  'isContiguousLayout',
  'isGradEnabled',
  'loadSafetensors',
  'loadSafetensorsWithMetadata',
  'manualSeed',
  'nextTask',
  'noGrad',
  'onesOf',
  'promoteTypes',
  'readSafetensorsFile',
  'readSafetensorsFileWithMetadata',
  'readSafetensorsMetadata',
  'removeStaleTempFiles',
  'resetKernels',
  'startWasmThreads',
  'saveSafetensors',
  'scalarLike',
  'setBackend',
  'setCheckNumerics',
  'setRngState',
  'shapeSize',
  'shapesEqual',
  'sortRowPositions',
  'toBackendAsync',
  'wasmKernels',
  'wasmThreads',
  'writeFileAtomic',
  'writeSafetensorsFile',
]);

type Out = Tensor | readonly Tensor[] | { values: Tensor; indices: Tensor };
interface Inputs {
  /** float64 [3,4] in (−1, 1), requiresGrad. */
  x: Tensor;
  /** float64 [3,4] in (0.1, 1), requiresGrad. */
  pos: Tensor;
  /** int32 [3] class ids in [0, 4). */
  ids: Tensor;
}

/** One call of each op (functions only: method forms call the same functions). */
export const PROBES: Record<string, (i: Inputs) => Out> = {
  tensor: () => core.tensor([1, 2]),
  zeros: () => core.zeros([2]),
  ones: () => core.ones([2]),
  full: () => core.full([2], 3),
  zerosLike: ({ x }) => core.zerosLike(x),
  onesLike: ({ x }) => core.onesLike(x),
  arange: () => core.arange(4),
  linspace: () => core.linspace(0, 1, 4),
  rand: () => core.rand([2], { seed: 1 }),
  randn: () => core.randn([2], { seed: 1 }),
  randint: () => core.randint(0, 4, [2], { seed: 1 }),
  toBackend: ({ x }) => core.toBackend(x, cpuBackend),
  cast: ({ x }) => core.cast(x, 'float32'),
  add: ({ x }) => core.add(x, x),
  sub: ({ x }) => core.sub(x, 1),
  mul: ({ x }) => core.mul(x, x),
  div: ({ x, pos }) => core.div(x, pos),
  pow: ({ pos, x }) => core.pow(pos, x),
  maximum: ({ x, pos }) => core.maximum(x, pos),
  minimum: ({ x, pos }) => core.minimum(x, pos),
  clamp: ({ x }) => core.clamp(x, -0.5, 0.5),
  eq: ({ x }) => core.eq(x, 0),
  ne: ({ x }) => core.ne(x, 0),
  lt: ({ x }) => core.lt(x, 0),
  le: ({ x }) => core.le(x, 0),
  gt: ({ x }) => core.gt(x, 0),
  ge: ({ x }) => core.ge(x, 0),
  neg: ({ x }) => core.neg(x),
  exp: ({ x }) => core.exp(x),
  log: ({ pos }) => core.log(pos),
  sqrt: ({ pos }) => core.sqrt(pos),
  abs: ({ x }) => core.abs(x),
  sign: ({ x }) => core.sign(x),
  square: ({ x }) => core.square(x),
  reciprocal: ({ pos }) => core.reciprocal(pos),
  sin: ({ x }) => core.sin(x),
  cos: ({ x }) => core.cos(x),
  tanh: ({ x }) => core.tanh(x),
  sigmoid: ({ x }) => core.sigmoid(x),
  relu: ({ x }) => core.relu(x),
  gelu: ({ x }) => core.gelu(x),
  geluGrad: ({ x }) => core.geluGrad(x),
  silu: ({ x }) => core.silu(x),
  erf: ({ x }) => core.erf(x),
  sum: ({ x }) => core.sum(x, -1),
  mean: ({ x }) => core.mean(x),
  max: ({ x }) => core.max(x, 0),
  min: ({ x }) => core.min(x),
  argmax: ({ x }) => core.argmax(x, -1),
  variance: ({ x }) => core.variance(x, -1),
  std: ({ x }) => core.std(x),
  cumsum: ({ x }) => core.cumsum(x, 0),
  sumToShape: ({ x }) => core.sumToShape(x, [1, 4]),
  softmax: ({ x }) => core.softmax(x),
  logSoftmax: ({ x }) => core.logSoftmax(x),
  logsumexp: ({ x }) => core.logsumexp(x),
  reshape: ({ x }) => core.reshape(x, [4, 3]),
  permute: ({ x }) => core.permute(x, [1, 0]),
  transpose: ({ x }) => core.transpose(x),
  expand: ({ x }) => core.expand(x, [2, 3, 4]),
  slice: ({ x }) => core.slice(x, 0, 1),
  unsqueeze: ({ x }) => core.unsqueeze(x, 0),
  squeeze: ({ x }) => core.squeeze(core.unsqueeze(x, 0), 0),
  flatten: ({ x }) => core.flatten(x),
  concat: ({ x }) => core.concat([x, x], 1),
  cat: ({ x }) => core.cat([x, x]),
  stack: ({ x }) => core.stack([x, x]),
  split: ({ x }) => core.split(x, 2, 1),
  chunk: ({ x }) => core.chunk(x, 2, 0),
  clone: ({ x }) => core.clone(x),
  contiguous: ({ x }) => core.contiguous(core.transpose(x)),
  tril: ({ x }) => core.tril(x),
  triu: ({ x }) => core.triu(x, 1),
  matmul: ({ x }) => core.matmul(x, core.transpose(x)),
  gather: ({ x, ids }) => core.gather(x, 1, core.unsqueeze(ids, 1)),
  scatterAdd: ({ x, ids }) => core.scatterAdd(x, 1, core.unsqueeze(ids, 1), core.slice(x, 1, 0, 1)),
  indexSelect: ({ x, ids }) => core.indexSelect(x, 0, core.clamp(ids, 0, 2).to('int32')),
  expertMix: ({ x, pos, ids }) =>
    core.expertMix(x, pos, pos, core.reshape(core.clamp(ids, 0, 2).to('int32'), [3, 1]), core.slice(x, 1, 0, 1), 'gelu'),
  embeddingBag: ({ x, pos, ids }) =>
    core.embeddingBag(pos, core.reshape(core.clamp(ids, 0, 2).to('int32'), [3, 1]), core.slice(x, 1, 0, 1)),
  rowDots: ({ x, pos, ids }) => core.rowDots(pos, core.reshape(core.clamp(ids, 0, 2).to('int32'), [3, 1]), x),
  // Queries [3 rows, 1 head, dimKey 4] and shared sub-keys [2, numKeys 3, 2].
  productKeyTopk: ({ x, pos }) => core.productKeyTopk(core.reshape(x, [3, 1, 4]), core.reshape(pos, [2, 3, 2]), 2).scores,
  topk: ({ x }) => core.topk(x, 2),
  sort: ({ x }) => core.sort(x, -1),
  argsort: ({ x }) => core.argsort(x, -1, true),
  where: ({ x }) => core.where(core.gt(x, 0), x, 0),
  maskedFill: ({ x }) => core.maskedFill(x, core.lt(x, 0), 0),
  oneHot: ({ ids }) => core.oneHot(ids, 4),
  crossEntropy: ({ x, ids }) => core.crossEntropy(x, ids),
  layerNorm: ({ x }) => core.layerNorm(x),
  dropout: ({ x }) => core.dropout(x, 0.5, { rng: new core.Rng(1) }),
  mseLoss: ({ x, pos }) => core.mseLoss(x, pos),
  l1Loss: ({ x, pos }) => core.l1Loss(x, pos),
  binaryCrossEntropy: ({ pos }) => core.binaryCrossEntropy(core.mul(pos, 0.9), pos),
  binaryCrossEntropyWithLogits: ({ x, pos }) => core.binaryCrossEntropyWithLogits(x, pos),
};

/**
 * Ops whose output does not join the autograd graph, and why. grad-registry.test.ts fails when an op's
 * output stops (or starts) requiring grad without a change here: a forgotten `record(...)` in a new op
 * is caught, not silently listed as "no".
 */
export const NO_GRADIENT: Readonly<Record<string, string>> = {
  argmax: 'integer output',
  argsort: 'integer output',
  eq: 'comparison (0/1 output)',
  ge: 'comparison (0/1 output)',
  gt: 'comparison (0/1 output)',
  le: 'comparison (0/1 output)',
  lt: 'comparison (0/1 output)',
  ne: 'comparison (0/1 output)',
  geluGrad: "gelu's derivative, used by gelu's backward (no second derivatives)",
  oneHot: 'integer input',
  sign: 'derivative 0 wherever it exists',
};

/** How the gradient check of an op's probe departs from the default, and why. */
export interface GradCheckAdjustment {
  /** Applied to the probe's output before the check (the check needs a float64 output). */
  finish?: (out: Tensor) => Tensor;
  options?: GradCheckOptions;
  why: string;
}

export const GRAD_CHECK_ADJUSTMENTS: Readonly<Record<string, GradCheckAdjustment>> = {
  cast: {
    finish: (out) => core.cast(out, 'float64'),
    options: { eps: 1e-2, atol: 1e-4, rtol: 1e-4 },
    why: 'the probe casts to float32: cast back, with a difference step sized for float32 rounding',
  },
  toBackend: {
    finish: (out) => core.toBackend(out, core.getBackend()),
    why: "the probe moves to the CPU backend: move back to the current one, where the check's output weights live",
  },
};

/** A probe's float outputs as one tensor: a single output as is, a list (split, chunk) concatenated flat, topk/sort's values. */
export function probeOutput(out: Out): Tensor {
  if (out instanceof core.Tensor) return out;
  if (Array.isArray(out)) return core.concat(out.map((t) => core.flatten(t)));
  return (out as { values: Tensor }).values;
}

/**
 * Random float64 inputs for a probe's gradient check: x in (−1, 1), pos in (0.1, 1), drawn so that
 * no probe sits within 0.02 of a kink: |x| (relu, abs, where), |x ∓ 0.5| (the clamp probe),
 * x − pos (maximum, minimum, l1Loss) and ties between x's elements (max, min, topk, sort).
 */
export function gradCheckInputs(seed: number): { x: Tensor; pos: Tensor; ids: Tensor } {
  const rng = new Rng(seed);
  const margin = 0.02;
  const n = 12;
  const pos = Float64Array.from({ length: n }, () => 0.1 + 0.9 * rng.random());
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (;;) {
      const v = rng.random() * 2 - 1;
      const near = (a: number, b: number) => Math.abs(a - b) < margin;
      if (near(v, 0) || near(v, 0.5) || near(v, -0.5) || near(v, pos[i]!)) continue;
      if (x.subarray(0, i).some((u) => near(u, v))) continue;
      x[i] = v;
      break;
    }
  }
  return {
    x: core.tensor(x, { shape: [3, 4], dtype: 'float64' }),
    pos: core.tensor(pos, { shape: [3, 4], dtype: 'float64' }),
    ids: core.tensor(
      Array.from({ length: 3 }, () => rng.int(4)),
      { shape: [3], dtype: 'int32' },
    ),
  };
}

/** What running an op showed. */
export interface OpInfo {
  name: string;
  differentiable: boolean | null;
  kernels: string[];
  host: string[];
  /** The grad-node ops its output's graph records (what a backward through it runs). */
  backward: string[];
}

/** The op names of the grad nodes reachable from `roots`, sorted. */
function backwardOps(roots: readonly Tensor[]): string[] {
  const ops = new Set<string>();
  const seen = new Set<Tensor>();
  const stack = [...roots];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    const node = t.gradNode;
    if (node === null) continue;
    ops.add(node.op);
    stack.push(...node.inputs);
  }
  return [...ops].sort();
}

const HOST_METHODS = new Set(['fromTypedArray', 'readSync', 'read']);

/** A device-like view of the CPU backend: same kernels, no host arrays, every call logged. */
function recordingBackend(log: Set<string>): Backend {
  return new Proxy(cpuBackend, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (key === 'name') return 'recording';
      if (key === 'hostData') return () => null;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        log.add(String(key));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** The CPU backend seen as a device (no host arrays), so ops take the paths they take on the gpu backend. */
export function deviceLikeBackend(): Backend {
  return recordingBackend(new Set());
}

/** Runs every probe and returns one OpInfo per op, sorted by name. */
export function collectOps(): OpInfo[] {
  const log = new Set<string>();
  const rec = recordingBackend(log);
  const previous = core.getBackend();
  core.setBackend(rec);
  try {
    return Object.entries(PROBES)
      .map(([name, probe]) => {
        const make = (v: number[][]) => core.tensor(v, { dtype: 'float64' });
        const inputs: Inputs = {
          x: make([
            [0.3, -0.7, 0.1, 0.9],
            [-0.2, 0.5, -0.4, 0.8],
            [0.6, -0.1, 0.35, -0.85],
          ]).requiresGrad_(),
          pos: make([
            [0.3, 0.7, 0.15, 0.9],
            [0.25, 0.5, 0.4, 0.8],
            [0.6, 0.12, 0.35, 0.85],
          ]).requiresGrad_(),
          ids: core.tensor([0, 3, 1], { dtype: 'int32' }),
        };
        log.clear();
        const out = probe(inputs);
        const outputs = out instanceof core.Tensor ? [out] : Array.isArray(out) ? out : [(out as { values: Tensor }).values];
        const usesInput =
          name !== 'tensor' &&
          !['zeros', 'ones', 'full', 'arange', 'linspace', 'rand', 'randn', 'randint', 'zerosLike', 'onesLike'].includes(name);
        const differentiable = usesInput ? outputs.some((t) => t.requiresGrad) : null;
        const calls = [...log].sort();
        return {
          name,
          differentiable,
          kernels: calls.filter((c) => !HOST_METHODS.has(c)),
          host: calls.filter((c) => HOST_METHODS.has(c)),
          backward: backwardOps(outputs),
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  } finally {
    core.setBackend(previous);
  }
}

/** The markdown table between the op-list markers of docs/core.md. */
export function opTable(ops: readonly OpInfo[]): string {
  const rows = ops.map((op) => {
    const grad = op.differentiable === null ? '— (creates)' : op.differentiable ? 'yes' : 'no';
    const checked = op.differentiable ? `checked; backward: ${op.backward.join(', ')}` : (NO_GRADIENT[op.name] ?? '—');
    const device = op.host.length === 0 ? 'cpu, gpu' : `cpu; gpu with a host step (${op.host.join(', ')})`;
    const kernels = op.kernels.length > 0 ? op.kernels.join(', ') : op.host.length === 0 ? '(none: a view)' : '—';
    return `| \`${op.name}\` | ${grad} | ${checked} | ${device} | ${kernels} |`;
  });
  const header = '| op | differentiable | gradient check (grad-registry.test.ts) | runs natively on | backend kernels it calls |';
  return [header, '|---|---|---|---|---|', ...rows].join('\n');
}

export const BEGIN = '<!-- op-list:begin (generated by packages/core/test/op-list.test.ts; MYRIAD_UPDATE_DOCS=1 rewrites it) -->';
export const END = '<!-- op-list:end -->';
