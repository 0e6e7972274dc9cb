#!/usr/bin/env node
// `npm run lab`: build the routing lab and serve it on localhost (prints the URL).
// `npm run lab:build`: only build, to examples/routing-lab/dist/ (static files for any host).
// Options: --port N (default 5180), --no-isolation (serve without COOP/COEP, to try what works without).
import { buildLab, DIST, serveStatic } from './server.js';

const args = process.argv.slice(2);
const command = args[0] ?? 'serve';
if (command !== 'build' && command !== 'serve') {
  console.error(`routing-lab: unknown command '${command}'; use build or serve`);
  process.exit(2);
}
await buildLab();
if (command === 'build') {
  console.log(`routing lab: static files in ${DIST} (index.html at its root); see docs/lab.md for the headers`);
  process.exit(0);
}
const portArg = args.indexOf('--port');
const port = portArg >= 0 ? Number(args[portArg + 1]) : Number(process.env.PORT ?? 5180);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`routing-lab: --port must be an integer from 0 to 65535`);
  process.exit(2);
}
const isolate = !args.includes('--no-isolation');
let served;
try {
  served = await serveStatic(DIST, port, isolate);
} catch (e) {
  const code = (e as NodeJS.ErrnoException).code;
  console.error(
    `routing-lab: cannot listen on port ${port}${code === 'EADDRINUSE' ? ' (in use; try --port 0 for any free port)' : ''}: ${(e as Error).message}`,
  );
  process.exit(1);
}
console.log(
  `\n  Myriad routing lab: ${served.url}\n  (serving ${DIST}${isolate ? ' with COOP/COEP headers' : ' without isolation headers'}; Ctrl-C stops)\n`,
);
