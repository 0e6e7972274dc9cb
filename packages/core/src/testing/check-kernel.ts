// checkKernel: pins a hand-written kernel to a reference op with fast-check. Random shapes, dtypes
// and values go to both; a mismatch is shrunk to the smallest failing case, which is reported with
// its inputs and the worst element.
import fc from 'fast-check';
import { tensor, type DType, type Tensor, type TypedArray } from '../index.js';
import { allClose, type AllCloseReport, type Tolerance } from './all-close.js';
import { arbShape, arbValues, type ShapeOptions, type ValueOptions } from './arbitraries.js';
import { shapeSize } from '../shape.js';

/** What a kernel may return: a tensor, or its elements row-major (typed array or numbers), possibly as a promise. */
export type KernelOutput = Tensor | TypedArray | readonly number[];

/** Options of `checkKernel`. */
export interface CheckKernelOptions {
  /**
   * Input shapes: fixed (one shape per input), an arbitrary of shape lists, or shape options for one
   * random shape shared by every input (default: rank 0–3, dims 1–8).
   */
  shapes?: readonly (readonly number[])[] | fc.Arbitrary<number[][]> | ShapeOptions;
  /** Number of inputs when `shapes` does not say (default: the reference's parameter count). */
  arity?: number;
  /** dtypes to try; each run picks one for every input (default ['float32']). */
  dtypes?: readonly DType[];
  /** Input values (default [-1, 1] for floats, [-10, 10] for int32). */
  values?: ValueOptions;
  /** Tolerance per dtype, or one for all (default float32 atol 1e-5 rtol 1e-5, float64 1e-12, int32 exact). */
  tolerances?: Tolerance | Partial<Record<DType, Tolerance>>;
  /** Number of random cases (default 100). */
  numRuns?: number;
  /** fast-check seed, to replay a failure. */
  seed?: number;
}

/** The outcome: ok, the number of cases run, and for a failure the shrunk case. */
export interface CheckKernelResult {
  ok: boolean;
  numRuns: number;
  /** The smallest failing case: input shapes, dtype, input values, and the comparison report (worst element). */
  counterexample: { shapes: number[][]; dtype: DType; inputs: number[][]; report: AllCloseReport | null; error: string | null } | null;
  message: string;
}

const DEFAULT_TOLERANCE: Record<DType, Tolerance> = {
  float32: { atol: 1e-5, rtol: 1e-5 },
  float64: { atol: 1e-12, rtol: 1e-12 },
  int32: { atol: 0, rtol: 0 },
};

interface Case {
  shapes: number[][];
  dtype: DType;
  values: number[][];
}

function toleranceFor(dtype: DType, t: CheckKernelOptions['tolerances']): Tolerance {
  if (t === undefined) return DEFAULT_TOLERANCE[dtype];
  if ('atol' in t || 'rtol' in t || 'equalNan' in t) return t as Tolerance;
  return (t as Partial<Record<DType, Tolerance>>)[dtype] ?? DEFAULT_TOLERANCE[dtype];
}

function shapesArb(options: CheckKernelOptions, arity: number): fc.Arbitrary<number[][]> {
  const s = options.shapes;
  if (s instanceof fc.Arbitrary) return s as fc.Arbitrary<number[][]>;
  if (Array.isArray(s)) return fc.constant(s.map((x) => [...(x as readonly number[])]));
  const opts = { maxRank: 3, maxDim: 8, ...(s as ShapeOptions | undefined) };
  return arbShape(opts).map((shape) => Array.from({ length: arity }, () => [...shape]));
}

/** Compares one case; returns null when close, else the report or the error the kernel threw. */
async function compare(
  kernel: (...inputs: Tensor[]) => KernelOutput | Promise<KernelOutput>,
  reference: (...inputs: Tensor[]) => Tensor,
  c: Case,
  tol: Tolerance,
): Promise<{ report: AllCloseReport | null; error: string | null } | null> {
  const inputs = () => c.values.map((v, i) => tensor(v, { shape: c.shapes[i]!, dtype: c.dtype }));
  const expected = reference(...inputs());
  let out: KernelOutput;
  try {
    out = await kernel(...inputs());
  } catch (e) {
    return { report: null, error: `kernel threw: ${(e as Error).message}` };
  }
  const actual =
    out instanceof Object && 'shape' in out && 'toTypedArray' in out
      ? out
      : tensor(Array.from(out as ArrayLike<number>), {
          shape: out.length === expected.size ? expected.shape : [out.length],
          dtype: 'float64',
        });
  const report = allClose(actual, expected, tol);
  return report.ok ? null : { report, error: null };
}

/** The case with index i of dim d removed from every input (inputs of one shared shape). */
function withoutSlice(c: Case, d: number, i: number): Case {
  const shape = c.shapes[0]!;
  const inner = shapeSize(shape.slice(d + 1));
  const n = shape[d]!;
  const keep = (_: number, k: number) => Math.floor(k / inner) % n !== i;
  const next = shape.map((v, j) => (j === d ? v - 1 : v));
  return { dtype: c.dtype, shapes: c.shapes.map(() => [...next]), values: c.values.map((v) => v.filter(keep)) };
}

/**
 * Shrinks further than fast-check's shrinker can through a dependent arbitrary: while inputs share
 * one shape, removes single slices (along any dim, from every input) as long as the case still fails,
 * so an elementwise bug ends as the one failing element.
 */
async function dropSlices(c: Case, fails: (c: Case) => Promise<boolean>): Promise<Case> {
  const same = c.shapes.every((s) => s.length === c.shapes[0]!.length && s.every((v, j) => v === c.shapes[0]![j]));
  if (!same) return c;
  let current = c;
  for (let progress = true; progress;) {
    progress = false;
    const shape = current.shapes[0]!;
    for (let d = 0; d < shape.length && !progress; d++) {
      for (let i = 0; i < shape[d]! && shape[d]! > 1 && !progress; i++) {
        const next = withoutSlice(current, d, i);
        if (await fails(next)) {
          current = next;
          progress = true;
        }
      }
    }
  }
  return current;
}

const show = (values: readonly number[]): string =>
  values.length <= 16 ? `[${values.join(', ')}]` : `[${values.slice(0, 16).join(', ')}, … (${values.length} values)]`;

/**
 * Checks `kernel` against `reference` on random inputs with fast-check: shapes from `shapes`, one
 * dtype per case from `dtypes`, values from `values`, compared with `tolerances`. A failure is shrunk
 * to the smallest failing shapes and values; the returned promise rejects with a message naming them
 * and the worst element (kernel value, reference value, difference). The kernel may be async (device
 * kernels) and may return a Tensor or its elements as a flat array.
 */
export async function checkKernel(
  kernel: (...inputs: Tensor[]) => KernelOutput | Promise<KernelOutput>,
  reference: (...inputs: Tensor[]) => Tensor,
  options: CheckKernelOptions = {},
): Promise<CheckKernelResult> {
  const arity = options.arity ?? (Array.isArray(options.shapes) ? options.shapes.length : reference.length);
  if (!Number.isInteger(arity) || arity < 1)
    throw new RangeError(`checkKernel: cannot tell the number of inputs (got ${arity}); pass shapes or arity`);
  const dtypes = options.dtypes ?? ['float32'];
  if (dtypes.length === 0) throw new RangeError('checkKernel: dtypes is empty');
  const numRuns = options.numRuns ?? 100;
  const caseArb: fc.Arbitrary<Case> = fc
    .tuple(shapesArb(options, arity), fc.constantFrom(...dtypes))
    .chain(([shapes, dtype]) =>
      fc
        .tuple(...shapes.map((shape) => arbValues(shapeSize(shape), { ...options.values, dtype })))
        .map((values) => ({ shapes, dtype, values })),
    );
  const details = await fc.check(
    fc.asyncProperty(caseArb, async (c) => (await compare(kernel, reference, c, toleranceFor(c.dtype, options.tolerances))) === null),
    { numRuns, seed: options.seed },
  );
  if (!details.failed)
    return { ok: true, numRuns: details.numRuns, counterexample: null, message: `checkKernel: ${details.numRuns} cases agree` };
  const shrunk = details.counterexample?.[0];
  if (shrunk === undefined) throw new Error(`checkKernel: fast-check failed without a counterexample: ${String(details.errorInstance)}`);
  const c = await dropSlices(
    shrunk,
    async (k) => (await compare(kernel, reference, k, toleranceFor(k.dtype, options.tolerances))) !== null,
  );
  const outcome = (await compare(kernel, reference, c, toleranceFor(c.dtype, options.tolerances))) ?? {
    report: null,
    error: 'passes when re-run (is the kernel non-deterministic?)',
  };
  const w = outcome.report?.worst;
  const lines = [
    `checkKernel: kernel differs from reference (shrunk to the smallest failing case after ${details.numRuns} runs, ${details.numShrinks} shrinks; seed ${details.seed})`,
    `  dtype ${c.dtype}, input shapes ${c.shapes.map((s) => `[${s.join(',')}]`).join(', ')}`,
    ...c.values.map((v, i) => `  input ${i}: ${show(v)}`),
    outcome.error !== null
      ? `  ${outcome.error}`
      : w
        ? `  worst element [${w.index.join(',')}]: kernel ${w.actual}, reference ${w.expected}, |diff| ${w.absDiff.toExponential(3)} (${outcome.report!.mismatches} element(s) outside atol ${toleranceFor(c.dtype, options.tolerances).atol ?? 1e-6}, rtol ${toleranceFor(c.dtype, options.tolerances).rtol ?? 1e-5})`
        : `  ${outcome.report?.message ?? ''}`,
  ];
  const message = lines.join('\n');
  const err = new Error(message);
  Object.assign(err, {
    result: {
      ok: false,
      numRuns: details.numRuns,
      counterexample: { shapes: c.shapes, dtype: c.dtype, inputs: c.values, ...outcome },
      message,
    },
  });
  throw err;
}
