// Writes one safetensors file of Myriad reference cases for python/tests/test_parity.py: for every
// layer (and train-lm's TransformerLM with each middle layer), its state dict, its inputs and its
// outputs (training-mode forward, then buffers), plus a JSON description of each case in the metadata.
// Usage: node --conditions=source --import tsx python/tests/node/parity.ts OUT.safetensors
import { concat, randint, randn, writeSafetensorsFile, type Tensor } from '@myriad/core';
import { BatchLoader } from '@myriad/train';
import { BatchNorm1d, CausalSelfAttention, Embedding, FeedForward, LayerNorm, Linear, MoE, PEER, PKM, RMSNorm, type Module } from '@myriad/nn';
import { buildModel, type ModelConfig } from '../../../examples/train-lm/src/models.js';

const out = process.argv[2];
if (!out) throw new Error('usage: parity.ts OUT.safetensors');

const tensors: Record<string, Tensor> = {};
const cases: Record<string, unknown> = {};

/** Records a case: the module's state before the forward, the inputs, the outputs and the buffers after. */
function record(name: string, spec: Record<string, unknown>, m: Module, inputs: Record<string, Tensor>, run: () => Record<string, Tensor>): void {
  for (const [k, t] of Object.entries(m.stateDict())) tensors[`${name}.param.${k}`] = t.clone();
  for (const [k, t] of Object.entries(inputs)) tensors[`${name}.input.${k}`] = t;
  const outputs = run();
  for (const [k, t] of Object.entries(outputs)) tensors[`${name}.output.${k}`] = t;
  for (const [k, t] of Object.entries(m.stateDict())) tensors[`${name}.after.${k}`] = t.clone();
  cases[name] = { ...spec, order: Array.from(m.namedParameters(), ([n]) => n) };
}

const x3 = (d: number, seed: number) => randn([2, 5, d], { seed });
let seed = 10;
const simple = (name: string, kind: string, opts: Record<string, unknown>, m: Module & { forward(x: Tensor): Tensor }, x: Tensor) =>
  record(name, { kind, opts }, m, { x }, () => ({ y: m.forward(x) }));

simple('linear', 'Linear', { in: 6, out: 5 }, new Linear(6, 5, { seed: seed++ }), x3(6, seed++));
simple('linear_nobias', 'Linear', { in: 6, out: 5, bias: false }, new Linear(6, 5, { bias: false, seed: seed++ }), x3(6, seed++));
{
  const m = new Embedding(10, 4, { seed: seed++ });
  const ids = randint(0, 10, [2, 3], { seed: seed++ });
  record('embedding', { kind: 'Embedding', opts: { n: 10, dim: 4 } }, m, { ids }, () => ({ y: m.forward(ids) }));
}
const ln = new LayerNorm(8);
ln.weight.assign(randn([8], { seed: seed++ }));
ln.bias!.assign(randn([8], { seed: seed++ }));
simple('layernorm', 'LayerNorm', { dim: 8 }, ln, x3(8, seed++));
const rms = new RMSNorm(8);
rms.weight.assign(randn([8], { seed: seed++ }));
simple('rmsnorm', 'RMSNorm', { dim: 8 }, rms, x3(8, seed++));
const bn = new BatchNorm1d(8);
bn.weight!.assign(randn([8], { seed: seed++ }));
simple('batchnorm_train', 'BatchNorm1d', { dim: 8 }, bn, x3(8, seed++).mul(2).add(1));
const bnEval = new BatchNorm1d(8);
bnEval.runningMean.assign(randn([8], { seed: seed++ }));
bnEval.runningVar.assign(randn([8], { seed: seed++ }).abs().add(0.5));
bnEval.eval();
record('batchnorm_eval', { kind: 'BatchNorm1d', opts: { dim: 8 }, eval: true }, bnEval, { x: x3(8, seed) }, () => ({ y: bnEval.forward(x3(8, seed)) }));
seed++;
simple('attention', 'CausalSelfAttention', { dim: 8, heads: 2 }, new CausalSelfAttention({ dim: 8, heads: 2, seed: seed++ }), x3(8, seed++));
for (const activation of ['gelu', 'relu', 'silu', 'tanh'] as const) {
  simple(`ffw_${activation}`, 'FeedForward', { dim: 8, hidden: 16, activation }, new FeedForward({ dim: 8, hidden: 16, activation, seed: seed++ }), x3(8, seed++));
}

const moeCases: Array<[string, Record<string, unknown>]> = [
  ['moe_topk', { dim: 8, hidden: 6, numExperts: 4, topK: 2 }],
  ['moe_switch', { dim: 8, hidden: 6, numExperts: 4, topK: 1, capacityFactor: 1, normalizeTopK: false }],
  ['moe_shared_bias', { dim: 8, hidden: 6, numExperts: 4, topK: 2, numShared: 1, balance: 'bias' }],
  ['moe_expert_choice', { dim: 8, hidden: 6, numExperts: 4, router: 'expert-choice', capacityFactor: 1 }],
  ['moe_hash', { dim: 8, hidden: 6, numExperts: 4, topK: 2, router: 'hash', hashSeed: 3 }],
];
for (const [name, opts] of moeCases) {
  const m = new MoE({ ...(opts as { dim: number; hidden: number; numExperts: number }), seed: seed++ });
  const x = x3(8, seed++);
  const tokenIds = randint(0, 50, [2, 5], { seed: seed++ });
  record(name, { kind: 'MoE', opts }, m, { x, tokenIds }, () => {
    const y = m.forward(x, { tokenIds });
    const aux = m.auxLoss();
    return aux === null ? { y } : { y, aux };
  });
}
const pk: Array<[string, string, Record<string, unknown>]> = [
  ['pkm_batch', 'PKM', { dim: 8, numKeys: 6, heads: 2, topK: 3, dimKey: 4 }],
  ['pkm_layer', 'PKM', { dim: 8, dimOut: 5, numKeys: 5, heads: 3, topK: 2, dimKey: 6, queryNorm: 'layer' }],
  ['peer_softmax', 'PEER', { dim: 8, numExperts: 36, heads: 3, topK: 4, dimKey: 6 }],
  ['peer_sigmoid', 'PEER', { dim: 8, dimOut: 7, numExperts: 25, heads: 2, topK: 3, dimKey: 4, queryNorm: 'none', scoreFn: 'sigmoid', activation: 'silu' }],
];
for (const [name, kind, opts] of pk) {
  const m = kind === 'PKM' ? new PKM({ ...(opts as { dim: number; numKeys: number }), seed: seed++ }) : new PEER({ ...(opts as { dim: number; numExperts: number }), seed: seed++ });
  simple(name, kind, opts, m, x3(8, seed++));
}
// train-lm's model: default layer sizes (a config without a layer block, as older checkpoints have),
// and each layer sized from the CLI (the complete config a checkpoint records, plan included).
const lmCases: Array<[string, ModelConfig]> = [];
for (const ffw of ['dense', 'moe', 'pkm', 'peer'] as const) lmCases.push([`lm_${ffw}`, { ffw, vocabSize: 20, dim: 16, depth: 3, heads: 2, contextLength: 8, seed: 0 }]);
const sized: Pick<ModelConfig, 'moe' | 'pkm' | 'peer'> = {
  moe: { numExperts: 4, topK: 1, hidden: 12, router: 'topk', balance: 'bias', capacityFactor: 1.5, numShared: 1, dispatch: 'slots' },
  pkm: { numExperts: 16, heads: 2, topK: 3, dimKey: 6, queryNorm: 'layer' },
  peer: { numExperts: 25, heads: 3, topK: 2, dimKey: 4, queryNorm: 'none', scoreFn: 'sigmoid' },
};
for (const ffw of ['moe', 'pkm', 'peer'] as const) {
  lmCases.push([`lm_${ffw}_sized`, { ffw, vocabSize: 20, dim: 16, depth: 3, heads: 2, contextLength: 8, seed: 0, [ffw]: sized[ffw] }]);
}
lmCases.push(['lm_moe_hash', { ffw: 'moe', vocabSize: 20, dim: 16, depth: 1, heads: 2, contextLength: 8, seed: 0, moe: { router: 'hash', numExperts: 3 } }]);
for (const [name, base] of lmCases) {
  const config = { ...base, seed: seed++ };
  const { model, config: resolved } = buildModel(config);
  const ids = randint(0, 20, [2, 8], { seed: seed++ });
  const targets = randint(0, 20, [2, 8], { seed: seed++ });
  // The sized cases hand Python the config exactly as a checkpoint records it (plan included).
  const recorded = name.endsWith('_sized') ? { ...resolved, train: { steps: 10, lr: 0.003 } } : config;
  record(name, { kind: 'TransformerLM', config: recorded }, model, { ids, targets }, () => ({ logits: model.forward(ids), loss: model.loss(ids, targets) }));
}
// The shuffled loader's windows over 20 batches (crossing an epoch), for the Python port of BatchLoader.
{
  const loader = new BatchLoader(Int32Array.from({ length: 1000 }, (_, i) => i), { contextLength: 16, batchSize: 4, seed: 3 });
  tensors['loader.windows'] = concat(Array.from({ length: 20 }, () => loader.next().input), 0);
}
await writeSafetensorsFile(out, tensors, { cases: JSON.stringify(cases) });
console.log(`wrote ${Object.keys(cases).length} cases to ${out}`);
