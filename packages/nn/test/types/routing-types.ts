// Type-level checks of the routing API a user reads (compiled by routing-decision.test.ts with the
// TypeScript compiler; not a test file itself). Every line must type-check without casts.
import type { RoutingArrays, RoutingDecision, RoutingSource } from '@myriad/core';
import { expectTypeOf } from 'vitest';
import { LazyRoutingDecision, MoE, PEER, PKM, routingLayers, TransformerLM } from '../../src/index.js';

declare const moe: MoE;
declare const pkm: PKM;
declare const peer: PEER;

// Every routing layer records a LazyRoutingDecision (or null before its first forward pass).
expectTypeOf(moe.lastRouting).toEqualTypeOf<LazyRoutingDecision | null>();
expectTypeOf(pkm.lastRouting).toEqualTypeOf<LazyRoutingDecision | null>();
expectTypeOf(peer.lastRouting).toEqualTypeOf<LazyRoutingDecision | null>();

// Its host copies are typed arrays, synchronously or through read().
const r = moe.lastRouting!;
expectTypeOf(r.indices).toEqualTypeOf<Int32Array>();
expectTypeOf(r.scores).toEqualTypeOf<Float32Array | Float64Array>();
expectTypeOf(r.read()).toEqualTypeOf<Promise<RoutingArrays>>();
expectTypeOf<Awaited<ReturnType<LazyRoutingDecision['read']>>['indices']>().toEqualTypeOf<Int32Array>();
expectTypeOf(r.tensors.indices.shape).toEqualTypeOf<readonly number[]>();
const firstExpert: number = r.indices[0]!;
const gate: number = r.scores[0]!;
void firstExpert;
void gate;

// A layer found generically (routingLayers, the trainer's RoutingSource) gives the same host arrays.
declare const lm: TransformerLM;
for (const [, layer] of routingLayers(lm)) {
  expectTypeOf(layer.lastRouting).toEqualTypeOf<RoutingDecision | null>();
  expectTypeOf(layer.lastRouting!.indices).toEqualTypeOf<Int32Array>();
  expectTypeOf(layer.lastRouting!.scores).toEqualTypeOf<Float32Array | Float64Array>();
}

// A LazyRoutingDecision is a RoutingDecision, and a plain object of host arrays is one too.
expectTypeOf<LazyRoutingDecision>().toMatchTypeOf<RoutingDecision>();
const plain: RoutingDecision = { tokens: 1, heads: 1, k: 2, indices: Int32Array.from([0, 1]), scores: Float32Array.from([0.5, 0.5]) };
const source: RoutingSource = { numExperts: 2, lastRouting: plain };
void source;

// Tensors are not host arrays: a decision's indices are never a Tensor (use `tensors` for those).
// @ts-expect-error indices is an Int32Array, not a Tensor
r.indices.toTypedArray();
