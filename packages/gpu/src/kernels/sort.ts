/**
 * Bitonic sort of positions, in kernels. Each row of n keys is padded to a power of two P and sorted
 * as a permutation of positions, comparing (key, position) so ties keep their original order and
 * every value stays an exact f32 integer below 2^24. log2(P)·(log2(P)+1)/2 launches, each one
 * compare-exchange per element; pads (positions >= n) sort after every real element.
 */
import { contiguousStrides } from '@myriad/core';
import { f, offsetExpr, planSpace, type Space } from '../indexing.js';
import { pow2, type DeviceArray, type Launch, type ProgramContext } from './program.js';
import { sig, type KernelSource, type Operand } from './source.js';

/** A key that sorts after every row index (indices are below 2^24); −1 (an empty slot) maps to it. */
export const EMPTY_KEY = 33554432;

/** What to sort: rows of n keys, element p of a row at `key` (strides over rowShape) + p·step. */
export interface SortSpec {
  readonly rowShape: readonly number[];
  readonly n: number;
  readonly key: Operand;
  readonly step: number;
  /** 'indices': ascending, −1 last (scatter); 'values': descending, ties to the lower position (top-k). */
  readonly order: 'indices' | 'values';
}

/** Padded row length of a sort (at least 2, so every sort has a pass). */
export function sortedLength(n: number): number {
  return Math.max(2, pow2(n));
}

/** Inline key expression for position expression `p` (clamped into the row: pads read a real element). */
function keyExpr(spec: SortSpec, base: string, p: string, n = f(spec.n)): string {
  const raw = `ky[${base} + Math.min(${p}, ${n} - 1.0) * ${spec.step}]`;
  return spec.order === 'values' ? `-${raw}` : raw;
}

/** Space [...rows, L] over permutation rows of length `L`: operand 0 is the key row base, 1 the permutation row base. */
function rowsSpace(spec: SortSpec, L: number, permRowLength: number): { space: Space; kb: string; pb: string } {
  const rowStrides = contiguousStrides(spec.rowShape).map((x) => x * permRowLength);
  const space = planSpace(
    [...spec.rowShape, L],
    [
      [...spec.key.strides, 0],
      [...rowStrides, 0],
    ],
  );
  return { space, kb: offsetExpr(space, 0, spec.key.offset), pb: offsetExpr(space, 1, 0) };
}

/** Statements comparing positions pa and pb: `aLess` when pa goes first (pads, positions >= nv, go last). */
function compare(spec: SortSpec, kb: string): string {
  // n is a kernel number argument (nv), so rows of any length padding to P share the passes' shaders.
  const key = (name: string, p: string): string =>
    spec.order === 'indices'
      ? `const ${name}r = ${keyExpr(spec, kb, p, 'nv')}; const ${name} = ${name}r < 0.0 ? ${f(EMPTY_KEY)} : ${name}r;`
      : `const ${name} = ${keyExpr(spec, kb, p, 'nv')};`;
  return `${key('ka', 'pa')} ${key('kb', 'pb')} const aLess = pa < nv && (pb >= nv || ka < kb || (ka === kb && pa < pb));`;
}

/**
 * One compare-exchange pass of the bitonic network over rows of length L: blocks of kk alternate
 * ascending/descending, pairs are s apart. The first pass sorts the identity permutation.
 */
function sortPass(spec: SortSpec, L: number, kk: number, s: number, first: boolean): KernelSource {
  const { space, kb, pb } = rowsSpace(spec, L, L);
  const load = (name: string, pos: string): string => (first ? `const ${name} = ${pos};` : `const ${name} = pm[${pb} + ${pos}];`);
  const body = [
    'const i = this.thread.x * 1.0;',
    // hi: i is the upper element of its pair (bit s of i); desc: its block of kk sorts descending.
    `const hi = Math.floor(i * ${f(1 / s)}) - 2.0 * Math.floor(i * ${f(1 / (2 * s))});`,
    `const desc = Math.floor(i * ${f(1 / kk)}) - 2.0 * Math.floor(i * ${f(1 / (2 * kk))});`,
    `const j = hi > 0.5 ? i - ${f(s)} : i + ${f(s)};`,
    load('pa', 'i'),
    load('pb', 'j'),
    compare(spec, kb),
    // The lower element of an ascending pair keeps the smaller one.
    'if (hi + desc < 0.5 || hi + desc > 1.5) { return aLess ? pa : pb; }',
    'return aLess ? pb : pa;',
  ].join(' ');
  const args = first ? 'ky, nv' : 'pm, ky, nv';
  const key0 = `sort:${spec.order}:${L}:${spec.step}:${kk}:${s}:${first ? 1 : 0}:${sig(space, [spec.key.offset])}`;
  return { key: key0, source: `function(${args}) { ${body} }`, output: space.output };
}

/**
 * Halves rows of length L made of sorted chunks of K (ascending, descending, ascending, …): output
 * chunk c is the elementwise better of input chunks 2c and 2c+1, a bitonic sequence holding their best K.
 */
function halvePass(spec: SortSpec, L: number, K: number): KernelSource {
  const { space, kb, pb } = rowsSpace(spec, L / 2, L);
  const body = [
    'const j = this.thread.x * 1.0;',
    `const c = Math.floor(j * ${f(1 / K)});`,
    `const ia = j + c * ${f(K)};`,
    `const pa = pm[${pb} + ia]; const pb = pm[${pb} + ia + ${f(K)}];`,
    compare(spec, kb),
    'return aLess ? pa : pb;',
  ].join(' ');
  const key = `halve:${spec.order}:${L}:${K}:${spec.step}:${sig(space, [spec.key.offset])}`;
  return { key, source: `function(pm, ky, nv) { ${body} }`, output: space.output };
}

/**
 * Sorts each row's positions by key: yields the launches and returns the permutation ([rows, P],
 * positions as f32, pads last). `keys` is the device array the spec's key operand reads.
 */
export function* sortPositions(spec: SortSpec, keys: DeviceArray, ctx: ProgramContext): Generator<Launch, DeviceArray, DeviceArray> {
  const P = sortedLength(spec.n);
  let perm: DeviceArray | null = null;
  for (let kk = 2; kk <= P; kk *= 2) {
    for (let s = kk / 2; s >= 1; s /= 2) {
      const args = perm === null ? [keys, spec.n] : [perm, keys, spec.n];
      const next: DeviceArray = yield { src: sortPass(spec, P, kk, s, perm === null), args };
      if (perm !== null) ctx.free(perm);
      perm = next;
    }
  }
  return perm!;
}

/**
 * The best `k` positions of each row, sorted (bitonic top-k): sort chunks of K = pow2(k) with the
 * bitonic network, then repeatedly halve the rows (each pair of chunks keeps its best K) and re-merge
 * each chunk (log2 K passes), until one chunk per row is left. Returns [rows, K] positions; about
 * (log² K / 2 + 2 log K) · P compare-exchanges per row instead of a full sort's log² P / 2 · P.
 */
export function* topPositions(
  spec: SortSpec,
  k: number,
  keys: DeviceArray,
  ctx: ProgramContext,
): Generator<Launch, DeviceArray, DeviceArray> {
  const P = sortedLength(spec.n);
  const K = Math.min(P, Math.max(2, pow2(k)));
  let perm: DeviceArray | null = null;
  const pass = function* (src: KernelSource): Generator<Launch, void, DeviceArray> {
    const next: DeviceArray = yield { src, args: perm === null ? [keys, spec.n] : [perm, keys, spec.n] };
    if (perm !== null) ctx.free(perm);
    perm = next;
  };
  for (let kk = 2; kk <= K; kk *= 2) for (let s = kk / 2; s >= 1; s /= 2) yield* pass(sortPass(spec, P, kk, s, perm === null));
  for (let L = P; L > K; L /= 2) {
    yield* pass(halvePass(spec, L, K));
    for (let s = K / 2; s >= 1; s /= 2) yield* pass(sortPass(spec, L / 2, K, s, false));
  }
  return perm!;
}

/** The keys in sorted order (1-D sorts): sk[u] = key(perm[u]), −1 as EMPTY_KEY; output [n]. */
export function sortedKeysSource(spec: SortSpec): KernelSource {
  const r = keyExpr(spec, String(spec.key.offset), 'p');
  const body = `const p = pm[this.thread.x]; const r = ${r}; return r < 0.0 ? ${f(EMPTY_KEY)} : r;`;
  return { key: `sortedKeys:${spec.n}:${spec.step}:${spec.key.offset}`, source: `function(pm, ky) { ${body} }`, output: [spec.n, 1, 1] };
}

/**
 * Inline binary search: sets `mrdLo` to the first u in [0, n) with key(arr[u]) >= target (n if none).
 * `key` maps an element expression to its sort key (e.g. −1 to EMPTY_KEY). Names start with `mrd`,
 * which update rules may not use.
 */
export function lowerBound(arr: string, n: number, target: string, key: (e: string) => string = (e) => e): string {
  const steps = Math.ceil(Math.log2(n + 1)) + 1;
  return (
    `let mrdLo = 0.0; let mrdHi = ${f(n)};` +
    ` for (let mrdIt = 0; mrdIt < ${steps}; mrdIt++) { if (mrdLo < mrdHi) { const mrdMid = Math.floor((mrdLo + mrdHi) * 0.5);` +
    ` const mrdKey = ${key(`${arr}[mrdMid]`)}; if (mrdKey < ${target}) { mrdLo = mrdMid + 1.0; } else { mrdHi = mrdMid; } } }`
  );
}
