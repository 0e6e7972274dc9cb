// Mutations of valid files (byte flips, truncations, header edits, nesting bombs, huge numbers, arrays
// and strings): every one is either refused with a SafetensorsError of bounded length, or loaded
// exactly as the independent reference reading in helpers/safetensors-reference.ts loads it.
// scripts/reliability/fuzz-safetensors.ts runs the same check over 100,000+ cases.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SafetensorsError, decodeSafetensors } from '../src/io/safetensors-format.js';
import { loadSafetensors } from '../src/index.js'; // the index registers the CPU backend
import { Prng, baseFiles, mutate, referenceDecode } from './helpers/safetensors-reference.js';

/** The longest message a refusal may carry: the 2000-character cap plus the "safetensors: " prefix and "…". */
const MAX_MESSAGE = 2020;

const bases = baseFiles();

/** Decodes `bytes` and checks the outcome against the reference; returns 'refused' or 'loaded'. */
function check(bytes: Uint8Array): 'refused' | 'loaded' {
  const ref = referenceDecode(bytes);
  let got: ReturnType<typeof decodeSafetensors>;
  try {
    got = decodeSafetensors(bytes);
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw e;
    expect(e.message.startsWith('safetensors: ')).toBe(true);
    expect(e.message.length).toBeLessThanOrEqual(MAX_MESSAGE);
    if (ref.ok) throw new Error(`decoder refused a file the reference loads: ${e.message}`);
    return 'refused';
  }
  if (!ref.ok) throw new Error(`decoder loaded a file the reference refuses (${ref.why})`);
  expect(Object.keys(got.entries).sort()).toEqual([...ref.entries.keys()].sort());
  for (const [name, r] of ref.entries) {
    const e = got.entries[name]!;
    expect([e.dtype, e.shape]).toEqual([r.dtype, r.shape]);
    expect(Buffer.from(e.bytes).equals(Buffer.from(r.bytes))).toBe(true);
  }
  expect(Object.entries(got.metadata).sort()).toEqual([...ref.metadata.entries()].sort());
  // Converting to tensors may refuse too (F8, integers beyond int32), but only with a SafetensorsError.
  try {
    loadSafetensors(bytes);
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw e;
    expect(e.message.length).toBeLessThanOrEqual(MAX_MESSAGE);
  }
  return 'loaded';
}

describe('safetensors fuzz against a strict reference reading', () => {
  it('the unmutated base files load, and equal the reference', () => {
    for (const b of bases) expect(check(b)).toBe('loaded');
  });

  it('3000 seeded mutations (1-3 each) are refused cleanly or loaded as the reference loads them', () => {
    const counts = { refused: 0, loaded: 0 };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const rng = new Prng(seed);
        let bytes = rng.pick(bases);
        const times = rng.next() < 0.6 ? 1 : 2 + rng.int(2);
        for (let i = 0; i < times; i++) bytes = mutate(rng, bytes, 0.1).bytes;
        counts[check(bytes)]++;
      }),
      { numRuns: 3000 },
    );
    // Both outcomes must occur, or the generator has stopped exercising the decoder.
    expect(counts.refused).toBeGreaterThan(300);
    expect(counts.loaded).toBeGreaterThan(60);
  });
});
