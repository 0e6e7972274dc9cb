// lastRouting's public face: a LazyRoutingDecision whose host copies are typed arrays, read
// synchronously where the backend can (`indices`, `scores`) and asynchronously everywhere (`read()`),
// with a clear error naming the backend where it cannot. The types are checked by compiling
// types/routing-types.ts (expectTypeOf, @ts-expect-error) with the TypeScript compiler.
import { fileURLToPath } from 'node:url';
import { randn, tensor } from '@myriad/core';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { LazyRoutingDecision, MoE, PEER, PKM } from '../src/index.js';

describe('lastRouting', () => {
  it('is a LazyRoutingDecision on every routing layer; indices, scores and read() agree', async () => {
    const x = randn([5, 8], { seed: 1 });
    const layers = [
      new MoE({ dim: 8, hidden: 4, numExperts: 4, topK: 2, seed: 1 }),
      new MoE({ dim: 8, hidden: 4, numExperts: 4, router: 'expert-choice', capacityFactor: 1, seed: 1 }),
      new PKM({ dim: 8, heads: 2, numKeys: 4, topK: 2, dimKey: 4, seed: 2 }),
      new PEER({ dim: 8, heads: 2, numExperts: 16, topK: 2, dimKey: 4, seed: 3 }),
    ];
    for (const layer of layers) {
      layer.forward(x);
      const r = layer.lastRouting!;
      expect(r).toBeInstanceOf(LazyRoutingDecision);
      expect(r.indices).toBeInstanceOf(Int32Array);
      expect(r.indices.length).toBe(r.tokens * r.heads * r.k);
      expect(r.scores.length).toBe(r.indices.length);
      const host = await r.read();
      expect(Array.from(host.indices)).toEqual(Array.from(r.indices));
      expect(Array.from(host.scores)).toEqual(Array.from(r.scores));
      expect(r.tensors.indices.dtype).toBe('int32');
      expect(r.tensors.indices.shape).toEqual([r.tokens, r.heads, r.k]);
    }
  });

  it('copies to the host once, on first access', async () => {
    const d = new LazyRoutingDecision(tensor(Int32Array.from([1, 0]), { dtype: 'int32' }), tensor([0.75, 0.25]), 1, 1, 2);
    expect(d.indices).toBe(d.indices);
    expect((await d.read()).indices).toBe(d.indices);
    expect(Array.from(d.scores)).toEqual([0.75, 0.25]);
  });

  it('names the backend and points to read() where the backend cannot read synchronously', async () => {
    const d = new LazyRoutingDecision(tensor(Int32Array.from([1, 0]), { dtype: 'int32' }), tensor([0.75, 0.25]), 1, 1, 2);
    // Stand-in for WebGPU: the tensors refuse synchronous reads as the gpu backend's async mode does.
    for (const t of [d.tensors.indices, d.tensors.scores]) {
      t.toTypedArray = () => {
        throw new Error('toTypedArray: the gpu backend (webgpu) keeps this tensor on the device and cannot answer synchronously');
      };
    }
    expect(() => d.indices).toThrow(
      /lastRouting\.indices: the cpu backend cannot read synchronously; use `const \{ indices, scores \} = await lastRouting\.read\(\)`/,
    );
    expect(() => d.scores).toThrow(/lastRouting\.scores: .*await lastRouting\.read\(\).*keeps this tensor on the device/);
    const host = await d.read();
    expect(Array.from(host.indices)).toEqual([1, 0]);
    expect(d.indices).toBe(host.indices); // read() filled the host copy
  });

  it('has types a user can use without casts (types/routing-types.ts compiles, @ts-expect-error included)', () => {
    const file = fileURLToPath(new URL('./types/routing-types.ts', import.meta.url));
    const configPath = fileURLToPath(new URL('../../../tsconfig.base.json', import.meta.url));
    const { config } = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
    const { options } = ts.parseJsonConfigFileContent(config, ts.sys, fileURLToPath(new URL('../../..', import.meta.url)));
    const program = ts.createProgram([file], {
      ...options,
      noEmit: true,
      composite: false,
      declaration: false,
      declarationMap: false,
      incremental: false,
    });
    expect(program.getSourceFile(file)).toBeDefined();
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
  }, 120_000);
});
