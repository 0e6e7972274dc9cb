// Seeded inputs for the WebAssembly kernel tests: xorshift32, so a failing case's seed reproduces it
// exactly and no test depends on Math.random.

/** n floats uniform in [−scale, scale), from `seed`. */
export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (((s >>> 0) / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

/** n row indices in [0, rows), from `seed` (small `rows` makes repeats common). */
export function randomIndices(n: number, rows: number, seed: number): Int32Array {
  return Int32Array.from(randomArray(n, seed), (v) => Math.min(rows - 1, Math.floor(((v + 1) / 2) * rows)));
}
