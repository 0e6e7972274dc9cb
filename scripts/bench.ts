// Runs every tinybench suite (packages/*/bench/*.bench.ts, examples/*/bench/*.bench.ts), one process
// each so suites do not disturb each other's JIT state. `npm run bench -- matmul` runs the suites whose
// path contains "matmul".
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const filters = process.argv.slice(2);
const roots = ['packages', 'examples'];
const suites: string[] = [];
for (const root of roots) {
  if (!existsSync(root)) continue;
  for (const pkg of readdirSync(root).sort()) {
    const dir = join(root, pkg, 'bench');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith('.bench.ts')) suites.push(join(dir, f));
    }
  }
}
const chosen = suites.filter((s) => filters.length === 0 || filters.some((f) => s.includes(f)));
if (chosen.length === 0) {
  console.error(`bench: no suite matches ${JSON.stringify(filters)}; suites are:\n  ${suites.join('\n  ')}`);
  process.exit(1);
}
let failed = 0;
for (const suite of chosen) {
  console.log(`\n=== ${suite} ===`);
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', suite], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
