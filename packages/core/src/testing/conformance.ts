import fc from 'fast-check';
import { beforeAll, describe, it } from 'vitest';
import {
  Rng,
  SparseGrad,
  Tensor,
  cpuBackend,
  cpuKernels,
  crossEntropy,
  getBackend,
  indexSelect,
  installKernels,
  layerNorm,
  logSoftmax,
  matmul,
  resetKernels,
  setBackend,
  softmax,
  tensor,
  type Backend,
  type BinaryOp,
  type DType,
  type ReduceOp,
  type RowOp,
  type Storage,
  type UnaryOp,
  type UpdateRule,
} from '../index.js';
import { allClose, type Tolerance } from './all-close.js';
import { BINARY_OPS, REDUCE_OPS, ROW_OPS, UNARY_OPS } from '../backend.js';
import { shapeSize, shapesEqual } from '../shape.js';

export interface ConformanceOptions {
  /** fast-check runs per property (default 12). */
  numRuns?: number;
  /** dtypes to test (default float32 and int32; add float64 where the backend has it). */
  dtypes?: readonly DType[];
  /** Default tolerance for float results (default rtol 1e-4, atol 1e-5). */
  tolerance?: Tolerance;
  /** Per-check tolerances by key, e.g. `{ 'unary.exp': { rtol: 1e-3 }, matmul: { atol: 1e-3 } }`. */
  tolerances?: Readonly<Record<string, Tolerance>>;
  /** Check keys to skip (e.g. `'unary.erf'`, `'topk'`); skipped checks are reported as skipped tests. */
  skip?: readonly string[];
  /** Dim sizes drawn for shapes: 1, primes and non-multiples of common tile sizes (default below). */
  sizes?: readonly number[];
}

/** An Adam-shaped update rule (three state tables, seven scalars) for the applyUpdate check. */
const CONFORMANCE_RULE: UpdateRule = {
  name: 'conformance-adam',
  state: ['param', 'm', 'v'],
  scalars: ['b1', 'b2', 'eps', 'l2', 'stepSize', 'invBc', 'keep'],
  body: `const g = grad + l2 * param;
    mNext = b1 * m + (1.0 - b1) * g;
    vNext = b2 * v + (1.0 - b2) * g * g;
    paramNext = param * keep - (stepSize * mNext) / (Math.sqrt(vNext) * invBc + eps);`,
};

const DEFAULT_SIZES = [1, 2, 3, 4, 5, 7, 8, 13, 16, 17, 31, 33];
// Every op name of the seam (backend.ts) is checked: the lists come from there.
const UNARY: readonly UnaryOp[] = UNARY_OPS;
const INT_UNARY: readonly UnaryOp[] = ['neg', 'abs', 'relu', 'sign', 'square'];
const BINARY: readonly BinaryOp[] = BINARY_OPS;
const INT_BINARY: readonly BinaryOp[] = ['add', 'sub', 'mul', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'];
/** Value reductions (x's dtype out); 'argmax' (int32 out) has its own check below. */
const REDUCE: readonly ReduceOp[] = REDUCE_OPS.filter((op) => op !== 'argmax');
const ROW: readonly RowOp[] = ROW_OPS;

/** How an input is laid out in storage: the kernels must read every kind of view. */
type Layout = 'contiguous' | 'transposed' | 'sliced';
/** How values are drawn: uniform in [min, max], or small integers (which makes ties). */
interface Values {
  min: number;
  max: number;
  ints?: boolean;
}
interface InputSpec {
  shape: number[];
  layout: Layout;
  seed: number;
}

function draw(n: number, seed: number, v: Values, dtype: DType): number[] {
  const rng = new Rng(seed);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++)
    out[i] =
      v.ints || dtype === 'int32'
        ? Math.round(v.min) + rng.int(Math.round(v.max) - Math.round(v.min) + 1)
        : v.min + (v.max - v.min) * rng.random();
  return out;
}

/** Builds the input on the current backend through public view ops (transpose, slice), so both sides get the same logical values. */
function build(spec: InputSpec, v: Values, dtype: DType): Tensor {
  const { shape, layout, seed } = spec;
  const r = shape.length;
  if (layout === 'transposed' && r >= 2) {
    const stored = [...shape.slice(0, -2), shape[r - 1]!, shape[r - 2]!];
    return tensor(draw(shapeSize(stored), seed, v, dtype), { shape: stored, dtype }).transpose(-2, -1);
  }
  if (layout === 'sliced' && r >= 1) {
    const stored = [shape[0]! + 3, ...shape.slice(1)];
    return tensor(draw(shapeSize(stored), seed, v, dtype), { shape: stored, dtype }).slice(0, 2, 2 + shape[0]!);
  }
  return tensor(draw(shapeSize(shape), seed, v, dtype), { shape, dtype });
}

/** Runs fn with `backend` as the current backend. */
function on<T>(backend: Backend, fn: () => T): T {
  const prev = getBackend();
  setBackend(backend);
  try {
    return fn();
  } finally {
    setBackend(prev);
  }
}

/** Runs fn on the CPU backend with the plain TypeScript kernels: the reference for every check. */
function reference<T>(fn: () => T): T {
  const saved = { ...cpuKernels };
  resetKernels();
  try {
    return on(cpuBackend, fn);
  } finally {
    installKernels(saved);
  }
}

/**
 * Registers a vitest suite that checks every Backend kernel, and the main ops with their gradients,
 * on the backend from `makeBackend` against the CPU backend's plain TypeScript kernels, with
 * fast-check over shapes (sizes 1, primes, non-multiples of tile sizes), strided and broadcast views,
 * and value ranges with ties. Call it at the top level of a test file.
 */
export function runBackendConformance(name: string, makeBackend: () => Backend | Promise<Backend>, options: ConformanceOptions = {}): void {
  const numRuns = options.numRuns ?? 12;
  const dtypes = options.dtypes ?? ['float32', 'int32'];
  const floats = dtypes.filter((d) => d !== 'int32');
  const sizes = options.sizes ?? DEFAULT_SIZES;
  const skip = new Set(options.skip ?? []);
  const baseTol: Tolerance = { rtol: 1e-4, atol: 1e-5, ...options.tolerance };
  const tolOf = (key: string, dtype: DType): Tolerance =>
    dtype === 'int32'
      ? { rtol: 0, atol: 0 }
      : { ...baseTol, ...(options.tolerances?.[key.split('.')[0]!] ?? {}), ...(options.tolerances?.[key] ?? {}) };
  let backend: Backend;

  const dim = fc.constantFrom(...sizes);
  const small = fc.constantFrom(...sizes.filter((s) => s <= 5));
  /** Shapes of rank 1..3 whose element count stays modest. */
  const shapeArb = (minRank = 1, maxRank = 3): fc.Arbitrary<number[]> =>
    fc
      .integer({ min: minRank, max: maxRank })
      .chain((rank) => fc.tuple(...Array.from({ length: rank }, (_, i) => (i === rank - 1 ? dim : small))));
  const specArb = (shape: fc.Arbitrary<number[]> = shapeArb()): fc.Arbitrary<InputSpec> =>
    fc.record({ shape, layout: fc.constantFrom<Layout>('contiguous', 'transposed', 'sliced'), seed: fc.nat() });

  /** Reads `actual` (a backend tensor) and compares it with `expected` (a CPU tensor). */
  async function expectClose(key: string, actual: Tensor, expected: Tensor, context: string): Promise<void> {
    const got = await actual.read();
    if (!shapesEqual(actual.shape, expected.shape)) {
      throw new Error(`${name} ${key}: shape [${actual.shape.join(',')}] vs reference [${expected.shape.join(',')}] (${context})`);
    }
    if (actual.dtype !== expected.dtype)
      throw new Error(`${name} ${key}: dtype ${actual.dtype} vs reference ${expected.dtype} (${context})`);
    const r = allClose(
      reference(() => tensor(got, { shape: actual.shape, dtype: actual.dtype })),
      expected,
      tolOf(key, expected.dtype),
    );
    if (!r.ok) throw new Error(`${name} ${key} (${context}): ${r.message}`);
  }

  /** Wraps storage a kernel returned as a tensor on its backend. */
  const wrapOn = (b: Backend, s: Storage, shape: readonly number[], dtype: DType): Tensor => Tensor._make(b, s, shape, dtype);

  /** Runs `kernel` on both backends with inputs built from specs and compares the outputs. */
  async function compareKernel(
    key: string,
    inputs: readonly { spec: InputSpec; values: Values; dtype: DType }[],
    kernel: (b: Backend, xs: Tensor[]) => Storage,
    outShape: readonly number[],
    outDtype: DType,
    context: string,
  ): Promise<void> {
    const got = on(backend, () =>
      wrapOn(
        backend,
        kernel(
          backend,
          inputs.map((x) => build(x.spec, x.values, x.dtype)),
        ),
        outShape,
        outDtype,
      ),
    );
    const want = reference(() =>
      wrapOn(
        cpuBackend,
        kernel(
          cpuBackend,
          inputs.map((x) => build(x.spec, x.values, x.dtype)),
        ),
        outShape,
        outDtype,
      ),
    );
    await expectClose(key, got, want, context);
  }

  const check = (key: string, title: string, body: () => Promise<void>): void => {
    if (skip.has(key) || skip.has(key.split('.')[0]!)) it.skip(`${key}: ${title}`, body);
    else it(`${key}: ${title}`, body);
  };
  const property = <T>(arb: fc.Arbitrary<T>, body: (v: T) => Promise<void>): Promise<void> =>
    fc.assert(fc.asyncProperty(arb, body), { numRuns });

  describe(`backend conformance: ${name}`, () => {
    beforeAll(async () => {
      backend = await makeBackend();
    });

    for (const dtype of dtypes) {
      check(`storage.${dtype}`, `fromTypedArray/read round trip and zeros (${dtype})`, () =>
        property(fc.record({ n: dim, seed: fc.nat() }), async ({ n, seed }) => {
          const values = draw(n, seed, { min: -100, max: 100 }, dtype);
          const typed =
            dtype === 'float64' ? Float64Array.from(values) : dtype === 'float32' ? Float32Array.from(values) : Int32Array.from(values);
          const t = wrapOn(backend, backend.fromTypedArray(typed.slice()), [n], dtype);
          const r = allClose(await t.read(), typed, { rtol: 0, atol: 0 });
          if (!r.ok) throw new Error(`${name} storage: ${r.message}`);
          const z = await wrapOn(backend, backend.full(dtype, n, 0), [n], dtype).read();
          if (z.length !== n || z.some((x) => x !== 0)) throw new Error(`${name} zeros(${dtype}, ${n}) is not all zeros`);
        }),
      );
    }

    for (const from of dtypes) {
      for (const to of dtypes) {
        if (from === to) continue;
        check(`cast.${from}.${to}`, `cast ${from} -> ${to} of strided views`, () =>
          property(specArb(), async (spec) => {
            const v: Values = { min: -50, max: 50 };
            await compareKernel(
              `cast.${from}.${to}`,
              [{ spec, values: v, dtype: from }],
              (b, [x]) => b.cast(x!, to),
              spec.shape,
              to,
              JSON.stringify(spec),
            );
          }),
        );
      }
    }

    for (const dtype of dtypes) {
      check(`copyInto.${dtype}`, `copyInto a transposed window (${dtype})`, () =>
        property(fc.record({ spec: specArb(shapeArb(2, 3)) }), async ({ spec }) => {
          const run = (b: Backend): Tensor => {
            const src = build(spec, { min: -9, max: 9 }, dtype);
            const r = spec.shape.length;
            const dst = wrapOn(
              b,
              b.full(dtype, shapeSize(spec.shape), 0),
              [...spec.shape.slice(0, -2), spec.shape[r - 1]!, spec.shape[r - 2]!],
              dtype,
            );
            b.copyInto(dst.transpose(-2, -1), src);
            return dst;
          };
          await expectClose(
            `copyInto.${dtype}`,
            on(backend, () => run(backend)),
            reference(() => run(cpuBackend)),
            JSON.stringify(spec),
          );
        }),
      );
    }

    for (const dtype of dtypes) {
      check(
        `copyInto.${dtype}.window`,
        `copyInto a slice window (any dim, step 1 or 2) of contiguous storage, as concat and slice's backward do (${dtype})`,
        () =>
          property(
            fc.record({ shape: shapeArb(1, 3), dimSeed: fc.nat(), startSeed: fc.nat(), step: fc.constantFrom(1, 2), ss: fc.nat() }),
            async ({ shape, dimSeed, startSeed, step, ss }) => {
              const d = dimSeed % shape.length;
              const full = shape.map((n, i) => (i === d ? n * step + 2 : n));
              const start = startSeed % 3;
              const run = (b: Backend): Tensor => {
                const src = build({ shape, layout: 'contiguous', seed: ss }, { min: -9, max: 9 }, dtype);
                const dst = build({ shape: full, layout: 'contiguous', seed: ss + 1 }, { min: -9, max: 9 }, dtype);
                const strides = dst.strides.map((s, i) => (i === d ? s * step : s));
                b.copyInto(dst._view(shape, strides, dst.offset + start * dst.strides[d]!), src);
                return dst;
              };
              const ctx = `shape [${shape}] dim ${d} start ${start} step ${step}`;
              await expectClose(
                `copyInto.${dtype}`,
                on(backend, () => run(backend)),
                reference(() => run(cpuBackend)),
                ctx,
              );
            },
          ),
      );
    }

    for (const dtype of dtypes) {
      for (const op of dtype === 'int32' ? INT_UNARY : UNARY) {
        const key = `unary.${op}`;
        const values: Values =
          op === 'log' || op === 'sqrt'
            ? { min: 0.05, max: 4 }
            : op === 'reciprocal'
              ? { min: 0.1, max: 3 }
              : dtype === 'int32'
                ? { min: -20, max: 20 }
                : { min: -3, max: 3 };
        check(key, `${op} (${dtype}) on strided views`, () =>
          property(specArb(), async (spec) => {
            await compareKernel(key, [{ spec, values, dtype }], (b, [x]) => b.unary(op, x!), spec.shape, dtype, JSON.stringify(spec));
          }),
        );
      }
    }

    for (const dtype of dtypes) {
      for (const op of dtype === 'int32' ? INT_BINARY : BINARY) {
        const key = `binary.${op}`;
        // Integer-valued operands make comparisons and maximum/minimum hit ties.
        const va: Values =
          op === 'pow'
            ? { min: 0.1, max: 3 }
            : dtype === 'int32'
              ? { min: -5, max: 5 }
              : { min: -3, max: 3, ints: ['eq', 'ne', 'le', 'ge', 'lt', 'gt', 'maximum', 'minimum'].includes(op) };
        const vb: Values = op === 'div' ? { min: 0.25, max: 3 } : op === 'pow' ? { min: -2, max: 2 } : va;
        check(key, `${op} (${dtype}) with broadcast (stride-0) operands`, () =>
          property(
            fc.record({
              out: shapeArb(1, 3),
              ma: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
              mb: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
              sa: fc.nat(),
              sb: fc.nat(),
              la: fc.constantFrom<Layout>('contiguous', 'transposed'),
              lb: fc.constantFrom<Layout>('contiguous', 'sliced'),
            }),
            async ({ out, ma, mb, sa, sb, la, lb }) => {
              const shapeA = out.map((d, i) => (ma[i] ? 1 : d));
              const shapeB = out.map((d, i) => (mb[i] ? 1 : d)).slice(1);
              const ctx = `${JSON.stringify(shapeA)} ${op} ${JSON.stringify(shapeB)} -> ${JSON.stringify(out)}`;
              const run = (b: Backend): Tensor => {
                const a = build({ shape: shapeA, layout: la, seed: sa }, va, dtype).expand(out);
                const c = build({ shape: shapeB, layout: lb, seed: sb }, vb, dtype).expand(out);
                return wrapOn(b, b.binary(op, a, c), out, dtype);
              };
              await expectClose(
                key,
                on(backend, () => run(backend)),
                reference(() => run(cpuBackend)),
                ctx,
              );
            },
          ),
        );
      }
    }

    for (const dtype of dtypes) {
      check(`where.${dtype}`, `where with broadcast condition (${dtype})`, () =>
        property(fc.record({ a: specArb(shapeArb(2, 3)), sc: fc.nat(), sb: fc.nat() }), async ({ a, sc, sb }) => {
          const condShape = [1, ...a.shape.slice(1)];
          const run = (b: Backend): Tensor => {
            const x = build(a, { min: -5, max: 5 }, dtype);
            const y = build({ shape: a.shape, layout: 'contiguous', seed: sb }, { min: -5, max: 5 }, dtype);
            const cond = build({ shape: condShape, layout: 'contiguous', seed: sc }, { min: 0, max: 1, ints: true }, dtype).expand(a.shape);
            return wrapOn(b, b.where(cond, x, y), a.shape, dtype);
          };
          await expectClose(
            `where.${dtype}`,
            on(backend, () => run(backend)),
            reference(() => run(cpuBackend)),
            JSON.stringify(a),
          );
        }),
      );
    }

    for (const dtype of dtypes) {
      for (const op of REDUCE) {
        const key = `reduce.${op}`;
        check(key, `${op} over each axis (${dtype})`, () =>
          property(fc.record({ spec: specArb(), axisSeed: fc.nat(), ints: fc.boolean() }), async ({ spec, axisSeed, ints }) => {
            const axis = axisSeed % spec.shape.length;
            const values: Values = { min: -10, max: 10, ints };
            await compareKernel(
              key,
              [{ spec, values, dtype }],
              (b, [x]) => b.reduce(op, x!, axis),
              spec.shape.filter((_, i) => i !== axis),
              dtype,
              `${JSON.stringify(spec)} axis ${axis}`,
            );
          }),
        );
      }
      check(`argmax.${dtype}`, `argmax over each axis, first index on ties (${dtype})`, () =>
        property(fc.record({ spec: specArb(), axisSeed: fc.nat() }), async ({ spec, axisSeed }) => {
          const axis = axisSeed % spec.shape.length;
          await compareKernel(
            `argmax.${dtype}`,
            [{ spec, values: { min: -3, max: 3, ints: true }, dtype }],
            (b, [x]) => b.reduce('argmax', x!, axis),
            spec.shape.filter((_, i) => i !== axis),
            'int32',
            `${JSON.stringify(spec)} axis ${axis}`,
          );
        }),
      );
    }

    for (const dtype of floats) {
      check(`matmul.${dtype}`, `batched matmul, all transpose variants, broadcast batch (${dtype})`, () =>
        property(
          fc.record({
            m: dim,
            k: dim,
            n: dim,
            batch: fc.constantFrom<number[][]>(
              [[], []],
              [[2], [2]],
              [[3], [1]],
              [
                [1, 2],
                [3, 1],
              ],
            ),
            ta: fc.boolean(),
            tb: fc.boolean(),
            sa: fc.nat(),
            sb: fc.nat(),
          }),
          async ({ m, k, n, batch: [ba, bb], ta, tb, sa, sb }) => {
            const outBatch = ba!.length === 0 ? [] : ba!.map((d, i) => Math.max(d, bb![i]!));
            const ctx = `[${ba}|${m},${k}]${ta ? 'ᵀ' : ''} @ [${bb}|${k},${n}]${tb ? 'ᵀ' : ''}`;
            const run = (b: Backend): Tensor => {
              const a = build(
                { shape: [...ba!, m, k], layout: ta ? 'transposed' : 'contiguous', seed: sa },
                { min: -1, max: 1 },
                dtype,
              ).expand([...outBatch, m, k]);
              const c = build(
                { shape: [...bb!, k, n], layout: tb ? 'transposed' : 'contiguous', seed: sb },
                { min: -1, max: 1 },
                dtype,
              ).expand([...outBatch, k, n]);
              return wrapOn(b, b.matmul(a, c), [...outBatch, m, n], dtype);
            };
            await expectClose(
              'matmul',
              on(backend, () => run(backend)),
              reference(() => run(cpuBackend)),
              ctx,
            );
          },
        ),
      );

      for (const op of ROW) {
        const key = `rowOp.${op}`;
        check(key, `${op} along the last axis (${dtype})`, () =>
          property(fc.record({ spec: specArb(), wide: fc.boolean() }), async ({ spec, wide }) => {
            const values: Values = wide ? { min: -30, max: 30 } : { min: -2, max: 2 };
            const outShape = op === 'logsumexp' ? spec.shape.slice(0, -1) : spec.shape;
            await compareKernel(key, [{ spec, values, dtype }], (b, [x]) => b.rowOp(op, x!), outShape, dtype, JSON.stringify(spec));
          }),
        );
      }

      check(`topk.${dtype}`, `topk values and indices, descending, ties to the lower index (${dtype})`, () =>
        property(fc.record({ spec: specArb(), kSeed: fc.nat(), ints: fc.boolean() }), async ({ spec, kSeed, ints }) => {
          const n = spec.shape[spec.shape.length - 1]!;
          const k = kSeed % (n + 1);
          const values: Values = ints ? { min: -3, max: 3, ints: true } : { min: -1, max: 1 };
          const outShape = [...spec.shape.slice(0, -1), k];
          const ctx = `${JSON.stringify(spec)} k=${k}`;
          await compareKernel('topk', [{ spec, values, dtype }], (b, [x]) => b.topk(x!, k).values, outShape, dtype, ctx);
          await compareKernel('topk', [{ spec, values, dtype }], (b, [x]) => b.topk(x!, k).indices, outShape, 'int32', ctx);
        }),
      );
    }

    for (const dtype of dtypes) {
      check(`gather.${dtype}`, `gather along each dim (${dtype})`, () =>
        property(fc.record({ spec: specArb(), dimSeed: fc.nat(), m: small, si: fc.nat() }), async ({ spec, dimSeed, m, si }) => {
          const d = dimSeed % spec.shape.length;
          const idxShape = spec.shape.map((v, i) => (i === d ? m : v));
          const idx: InputSpec = { shape: idxShape, layout: 'contiguous', seed: si };
          await compareKernel(
            `gather.${dtype}`,
            [
              { spec, values: { min: -9, max: 9 }, dtype },
              { spec: idx, values: { min: 0, max: spec.shape[d]! - 1 }, dtype: 'int32' },
            ],
            (b, [x, i]) => b.gather(x!, d, i!),
            idxShape,
            dtype,
            `${JSON.stringify(spec)} dim ${d}`,
          );
        }),
      );
      check(`scatterAdd.${dtype}`, `scatterAdd with repeated indices (${dtype})`, () =>
        property(
          fc.record({ spec: specArb(), dimSeed: fc.nat(), m: small, si: fc.nat(), ss: fc.nat() }),
          async ({ spec, dimSeed, m, si, ss }) => {
            const d = dimSeed % spec.shape.length;
            const idxShape = spec.shape.map((v, i) => (i === d ? m : v));
            await compareKernel(
              `scatterAdd.${dtype}`,
              [
                { spec, values: { min: -9, max: 9 }, dtype },
                { spec: { shape: idxShape, layout: 'contiguous', seed: si }, values: { min: 0, max: spec.shape[d]! - 1 }, dtype: 'int32' },
                { spec: { shape: idxShape, layout: 'transposed', seed: ss }, values: { min: -9, max: 9 }, dtype },
              ],
              (b, [x, i, s]) => b.scatterAdd(x!, d, i!, s!),
              spec.shape,
              dtype,
              `${JSON.stringify(spec)} dim ${d}`,
            );
          },
        ),
      );
      // Backends may pick another algorithm for many entries per line or an index narrower than x.
      check(`scatterAdd.${dtype}.long`, `scatterAdd with 70 entries per line, or an index narrower than x outside dim (${dtype})`, () =>
        property(
          fc.record({ spec: specArb(shapeArb(2, 3)), dimSeed: fc.nat(), long: fc.boolean(), si: fc.nat(), ss: fc.nat() }),
          async ({ spec, dimSeed, long, si, ss }) => {
            const d = dimSeed % spec.shape.length;
            const other = d === 0 ? 1 : 0;
            const idxShape = spec.shape.map((v, i) => (i === d ? (long ? 70 : 2) : i === other && !long ? Math.max(1, v - 1) : v));
            await compareKernel(
              `scatterAdd.${dtype}`,
              [
                { spec, values: { min: -9, max: 9 }, dtype },
                { spec: { shape: idxShape, layout: 'contiguous', seed: si }, values: { min: 0, max: spec.shape[d]! - 1 }, dtype: 'int32' },
                { spec: { shape: idxShape, layout: 'contiguous', seed: ss }, values: { min: -9, max: 9 }, dtype },
              ],
              (b, [x, i, s]) => b.scatterAdd(x!, d, i!, s!),
              spec.shape,
              dtype,
              `${JSON.stringify(spec)} dim ${d} index [${idxShape}]`,
            );
          },
        ),
      );
      check(`gatherRows.${dtype}`, `gatherRows / scatterAddRows with repeated rows (${dtype})`, () =>
        property(
          fc.record({ rows: dim, width: dim, n: dim, st: fc.nat(), si: fc.nat(), ss: fc.nat() }),
          async ({ rows, width, n, st, si, ss }) => {
            const table: InputSpec = { shape: [rows, width], layout: 'sliced', seed: st };
            const idx: InputSpec = { shape: [n], layout: 'contiguous', seed: si };
            const ctx = `rows ${rows} width ${width} n ${n}`;
            await compareKernel(
              `gatherRows.${dtype}`,
              [
                { spec: table, values: { min: -9, max: 9 }, dtype },
                { spec: idx, values: { min: 0, max: rows - 1 }, dtype: 'int32' },
              ],
              (b, [t, i]) => b.gatherRows(t!, i!),
              [n, width],
              dtype,
              ctx,
            );
            await compareKernel(
              `scatterAddRows.${dtype}`,
              [
                { spec: idx, values: { min: 0, max: rows - 1 }, dtype: 'int32' },
                { spec: { shape: [n, width], layout: 'contiguous', seed: ss }, values: { min: -9, max: 9 }, dtype },
              ],
              (b, [i, s]) => b.scatterAddRows(rows, i!, s!),
              [rows, width],
              dtype,
              ctx,
            );
          },
        ),
      );
    }

    for (const dtype of floats) {
      check(`embeddingBag.${dtype}`, `embeddingBag / rowDots read repeated rows of strided tables in place (${dtype})`, () =>
        property(
          fc.record({
            rows: dim,
            width: dim,
            t: small,
            s: dim,
            layout: fc.constantFrom<Layout>('contiguous', 'transposed', 'sliced'),
            st: fc.nat(),
            si: fc.nat(),
            sw: fc.nat(),
          }),
          async ({ rows, width, t, s, layout, st, si, sw }) => {
            const table: InputSpec = { shape: [rows, width], layout, seed: st };
            const idx: InputSpec = { shape: [t, s], layout: 'contiguous', seed: si };
            const ctx = `table [${rows}, ${width}] ${layout}, indices [${t}, ${s}]`;
            const indices = { spec: idx, values: { min: 0, max: rows - 1 }, dtype: 'int32' as const };
            await compareKernel(
              `embeddingBag.${dtype}`,
              [
                { spec: table, values: { min: -2, max: 2 }, dtype },
                indices,
                { spec: { shape: [t, s], layout: 'transposed', seed: sw }, values: { min: -1, max: 1 }, dtype },
              ],
              (b, [tb, i, w]) => b.embeddingBag(tb!, i!, w!),
              [t, width],
              dtype,
              ctx,
            );
            await compareKernel(
              `rowDots.${dtype}`,
              [
                { spec: table, values: { min: -2, max: 2 }, dtype },
                indices,
                { spec: { shape: [t, width], layout: 'sliced', seed: sw }, values: { min: -1, max: 1 }, dtype },
              ],
              (b, [tb, i, x]) => b.rowDots(tb!, i!, x!),
              [t, s],
              dtype,
              ctx,
            );
          },
        ),
      );
    }

    for (const dtype of dtypes) {
      check(`full.${dtype}`, `full with zero, integer and fractional values (${dtype})`, () =>
        property(fc.record({ n: dim, value: fc.constantFrom(0, 1, -3, 0.5, 1e-3) }), async ({ n, value }) => {
          const v = dtype === 'int32' ? Math.round(value) : value;
          const want = reference(() => wrapOn(cpuBackend, cpuBackend.full(dtype, n, v), [n], dtype));
          await expectClose(
            `full.${dtype}`,
            on(backend, () => wrapOn(backend, backend.full(dtype, n, v), [n], dtype)),
            want,
            `n ${n} value ${v}`,
          );
        }),
      );
      check(`cumsum.${dtype}`, `inclusive prefix sum along the last axis of strided views (${dtype})`, () =>
        property(specArb(), async (spec) => {
          const v: Values = dtype === 'int32' ? { min: -20, max: 20 } : { min: -1, max: 1 };
          await compareKernel(
            `cumsum.${dtype}`,
            [{ spec, values: v, dtype }],
            (b, [x]) => b.cumsum(x!),
            spec.shape,
            dtype,
            `shape [${spec.shape}] ${spec.layout}`,
          );
        }),
      );
      check(`scatterAddRows.${dtype}.empty`, `scatterAddRows skips empty slots (index -1) (${dtype})`, () =>
        property(fc.record({ rows: dim, width: small, n: dim, si: fc.nat(), ss: fc.nat() }), async ({ rows, width, n, si, ss }) => {
          const idx: InputSpec = { shape: [n], layout: 'contiguous', seed: si };
          await compareKernel(
            `scatterAddRows.${dtype}`,
            [
              { spec: idx, values: { min: -1, max: rows - 1 }, dtype: 'int32' },
              { spec: { shape: [n, width], layout: 'contiguous', seed: ss }, values: { min: -9, max: 9 }, dtype },
            ],
            (b, [i, s]) => b.scatterAddRows(rows, i!, s!),
            [rows, width],
            dtype,
            `rows ${rows} width ${width} n ${n} (with -1 slots)`,
          );
        }),
      );
      check(`uniqueRows.${dtype}`, `uniqueRows: distinct rows ascending then -1, summed rows then zeros (${dtype})`, () =>
        property(fc.record({ rows: dim, width: small, n: dim, si: fc.nat(), ss: fc.nat() }), async ({ rows, width, n, si, ss }) => {
          const inputs = [
            { spec: { shape: [n], layout: 'contiguous' as Layout, seed: si }, values: { min: -1, max: rows - 1 }, dtype: 'int32' as DType },
            { spec: { shape: [n, width], layout: 'sliced' as Layout, seed: ss }, values: { min: -9, max: 9 }, dtype },
          ];
          const ctx = `rows ${rows} width ${width} n ${n}`;
          await compareKernel(`uniqueRows.${dtype}`, inputs, (b, [i, x]) => b.uniqueRows(i!, x!).indices, [n], 'int32', ctx);
          await compareKernel(`uniqueRows.${dtype}`, inputs, (b, [i, x]) => b.uniqueRows(i!, x!).values, [n, width], dtype, ctx);
        }),
      );
    }

    for (const dtype of floats) {
      check(`applyUpdate.${dtype}`, `applyUpdate of an Adam-like rule, dense and lazy rows (untouched rows bit-identical) (${dtype})`, () =>
        property(
          fc.record({ rows: dim, width: small, n: small, seeds: fc.array(fc.nat(), { minLength: 5, maxLength: 5 }), lazy: fc.boolean() }),
          async ({ rows, width, n, seeds, lazy }) => {
            const table = (seed: number, min: number): { spec: InputSpec; values: Values; dtype: DType } => ({
              spec: { shape: [rows, width], layout: 'contiguous', seed },
              values: { min, max: 1 },
              dtype,
            });
            const nRows = lazy ? Math.min(n, rows) : rows;
            // Distinct ascending rows then -1 padding, as uniqueRows makes them.
            const picked = Array.from(new Set(draw(nRows, seeds[4]!, { min: 0, max: rows - 1 }, 'int32'))).sort((a, b) => a - b);
            const rowIdx = Int32Array.from({ length: nRows }, (_, u) => (u < picked.length ? picked[u]! : -1));
            const inputs = [
              table(seeds[0]!, -1),
              table(seeds[1]!, -1),
              table(seeds[2]!, 0),
              { spec: { shape: [nRows, width], layout: 'contiguous' as Layout, seed: seeds[3]! }, values: { min: -1, max: 1 }, dtype },
            ];
            // Adam-like magnitudes (b1, b2, eps, l2, stepSize = lr/(1-b1^t), invBc = 1/sqrt(1-b2^t), keep): a tiny
            // invBc with a large stepSize would make the update a cancellation no f32 device could match.
            const scalars = [0.9, 0.99, 1e-8, 0.01, 0.001, 1.3, 0.999];
            const ctx = `rows ${rows} width ${width} ${lazy ? `lazy rows [${Array.from(rowIdx)}]` : 'dense'}`;
            for (let k = 0; k < 3; k++) {
              await compareKernel(
                `applyUpdate.${dtype}`,
                inputs,
                (b, [p, m, v, g]) => {
                  const ri = lazy ? Tensor._make(b, b.fromTypedArray(rowIdx.slice()), [nRows], 'int32') : null;
                  return b.applyUpdate(CONFORMANCE_RULE, [p!, m!, v!], g!, ri, scalars)[k]!;
                },
                [rows, width],
                dtype,
                `${ctx} state ${k}`,
              );
            }
            if (lazy) {
              // Untouched rows are copies, bit for bit.
              const p = on(backend, () => build(inputs[0]!.spec, inputs[0]!.values, dtype));
              const out = on(backend, () =>
                wrapOn(
                  backend,
                  backend.applyUpdate(
                    CONFORMANCE_RULE,
                    [p, build(inputs[1]!.spec, inputs[1]!.values, dtype), build(inputs[2]!.spec, inputs[2]!.values, dtype)],
                    build(inputs[3]!.spec, inputs[3]!.values, dtype),
                    Tensor._make(backend, backend.fromTypedArray(rowIdx.slice()), [nRows], 'int32'),
                    scalars,
                  )[0]!,
                  [rows, width],
                  dtype,
                ),
              );
              const before = await p.read();
              const after = await out.read();
              for (let r = 0; r < rows; r++) {
                if (picked.includes(r)) continue;
                for (let c = 0; c < width; c++) {
                  if (!Object.is(before[r * width + c], after[r * width + c]))
                    throw new Error(`${name} applyUpdate: untouched row ${r} changed at column ${c} (${ctx})`);
                }
              }
            }
          },
        ),
      );
    }

    for (const dtype of floats) {
      check(
        `ops.${dtype}`,
        `a small network forward and backward (matmul, layerNorm, softmax, indexSelect, crossEntropy) matches (${dtype})`,
        () =>
          property(
            fc.record({ n: small, vocab: dim, width: dim, classes: dim, seed: fc.nat() }),
            async ({ n, vocab, width, classes, seed }) => {
              const run = () => {
                const rng = new Rng(seed);
                const values = (count: number) => Array.from({ length: count }, () => rng.random() * 2 - 1);
                const table = tensor(values(vocab * width), { shape: [vocab, width], dtype, requiresGrad: true });
                const w = tensor(values(width * classes), { shape: [width, classes], dtype, requiresGrad: true });
                const gamma = tensor(values(width), { shape: [width], dtype, requiresGrad: true });
                const ids = tensor(
                  Array.from({ length: n }, () => rng.int(vocab)),
                  { shape: [n], dtype: 'int32' },
                );
                const targets = tensor(
                  Array.from({ length: n }, () => rng.int(classes)),
                  { shape: [n], dtype: 'int32' },
                );
                const h = layerNorm(indexSelect(table, 0, ids), 1, gamma);
                const logits = matmul(h, w);
                const probs = softmax(logits, 0);
                const loss = crossEntropy(logits, targets).add(logSoftmax(logits).mul(probs).sum().mul(0.1));
                loss.backward();
                const tg = table.grad instanceof SparseGrad ? table.grad.toDense() : table.grad!;
                return { loss, probs, tg, wg: w.grad as Tensor, gg: gamma.grad as Tensor };
              };
              const got = on(backend, run);
              const want = reference(run);
              const ctx = `n ${n} vocab ${vocab} width ${width} classes ${classes}`;
              await expectClose('ops.loss', got.loss, want.loss, ctx);
              await expectClose('ops.softmax', got.probs, want.probs, ctx);
              await expectClose('ops.grad', got.tg, want.tg, `${ctx} (table grad)`);
              await expectClose('ops.grad', got.wg, want.wg, `${ctx} (weight grad)`);
              await expectClose('ops.grad', got.gg, want.gg, `${ctx} (layerNorm weight grad)`);
            },
          ),
      );
    }
  });
}
