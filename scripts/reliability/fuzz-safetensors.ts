// Fuzzes the safetensors reader: seeded mutations of valid files (byte flips, truncations, header
// edits, nesting bombs up to 20,000 levels, arrays of 10^5 numbers, 10^5-character strings), each
// decoded and loaded and compared with the independent reference reading of
// packages/core/test/helpers/safetensors-reference.ts.
//
//   node --conditions=source --import tsx scripts/reliability/fuzz-safetensors.ts [cases=100000] [seed=1]
//
// Prints counts: refusals (SafetensorsError), loads (equal to the reference), crashes (any other
// exception), mismatches (refused what the reference loads, or the reverse, or loaded different
// content), the longest refusal message and the peak resident memory. Exits 1 on any crash or mismatch.
import { SafetensorsError, loadSafetensors } from '@myriad/core';
import { decodeSafetensors } from '../../packages/core/src/io/safetensors-format.js';
import { Prng, baseFiles, mutate, referenceDecode, type MutationKind } from '../../packages/core/test/helpers/safetensors-reference.js';

const cases = Number(process.argv[2] ?? 100_000);
const seed = Number(process.argv[3] ?? 1);
if (!Number.isInteger(cases) || cases < 1 || !Number.isInteger(seed)) {
  console.error(`fuzz-safetensors: usage: fuzz-safetensors.ts [cases >= 1] [integer seed], got ${process.argv.slice(2).join(' ')}`);
  process.exit(2);
}

const bases = baseFiles();
const counts = { refusals: 0, loads: 0, loadRefusals: 0, crashes: 0, mismatches: 0 };
const byKind = new Map<MutationKind, number>();
let longestMessage = 0;
let peakRss = process.memoryUsage().rss;
const examples: string[] = [];

function sameContent(got: ReturnType<typeof decodeSafetensors>, ref: Extract<ReturnType<typeof referenceDecode>, { ok: true }>): boolean {
  const names = Object.keys(got.entries);
  if (names.length !== ref.entries.size) return false;
  for (const [name, r] of ref.entries) {
    const e = got.entries[name];
    if (!e || e.dtype !== r.dtype || e.shape.join() !== r.shape.join() || !Buffer.from(e.bytes).equals(Buffer.from(r.bytes))) return false;
  }
  const meta = Object.entries(got.metadata);
  return meta.length === ref.metadata.size && meta.every(([k, v]) => ref.metadata.get(k) === v);
}

const t0 = performance.now();
for (let i = 0; i < cases; i++) {
  const rng = new Prng(seed * 1_000_003 + i);
  let bytes = rng.pick(bases);
  const times = rng.next() < 0.6 ? 1 : 2 + rng.int(2);
  for (let m = 0; m < times; m++) {
    const r = mutate(rng, bytes);
    bytes = r.bytes;
    byKind.set(r.kind, (byKind.get(r.kind) ?? 0) + 1);
  }
  const ref = referenceDecode(bytes);
  try {
    const got = decodeSafetensors(bytes);
    if (!ref.ok || !sameContent(got, ref)) {
      counts.mismatches++;
      if (examples.length < 5) examples.push(`case ${i}: loaded, reference ${ref.ok ? 'loads other content' : `refuses (${ref.why})`}`);
      continue;
    }
    counts.loads++;
    try {
      loadSafetensors(bytes);
    } catch (e) {
      if (!(e instanceof SafetensorsError)) throw e;
      counts.loadRefusals++; // F8 or integers beyond int32: refused when converting to tensors
      longestMessage = Math.max(longestMessage, e.message.length);
    }
  } catch (e) {
    if (e instanceof SafetensorsError) {
      longestMessage = Math.max(longestMessage, e.message.length);
      if (ref.ok) {
        counts.mismatches++;
        if (examples.length < 5) examples.push(`case ${i}: refused (${e.message.slice(0, 120)}) but the reference loads it`);
      } else counts.refusals++;
    } else {
      counts.crashes++;
      if (examples.length < 5) examples.push(`case ${i}: crash: ${String(e).slice(0, 200)}`);
    }
  }
  if (i % 500 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
}
peakRss = Math.max(peakRss, process.memoryUsage().rss);

const seconds = (performance.now() - t0) / 1000;
console.log(`fuzz-safetensors: ${cases} cases (seed ${seed}) in ${seconds.toFixed(1)} s`);
console.log(`  refusals (SafetensorsError): ${counts.refusals}`);
console.log(`  loads equal to the reference: ${counts.loads} (of which refused when converting to tensors: ${counts.loadRefusals})`);
console.log(`  crashes (other exceptions): ${counts.crashes}`);
console.log(`  mismatches with the reference: ${counts.mismatches}`);
console.log(`  longest refusal message: ${longestMessage} characters`);
console.log(`  peak resident memory: ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
console.log(
  `  mutations applied: ${[...byKind]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')}`,
);
for (const e of examples) console.log(`  ${e}`);
process.exit(counts.crashes + counts.mismatches > 0 ? 1 : 0);
