// Training-step cost of the dense layers at char-LM size (B 16, T 64, dim 64, 4 heads): attention,
// FeedForward, and a whole 2-layer TransformerLM forward + backward, vocabulary 65.
import { Bench } from 'tinybench';
import { randint, randn } from '@myriad/core';
import { CausalSelfAttention, FeedForward, TransformerLM } from '@myriad/nn';

const B = 16;
const T = 64;
const dim = 64;
const x = randn([B, T, dim], { seed: 1 }).requiresGrad_();
const attn = new CausalSelfAttention({ dim, heads: 4, seed: 1 });
const ffw = new FeedForward({ dim, hidden: 4 * dim, seed: 2 });
const model = new TransformerLM({ vocabSize: 65, dim, depth: 2, heads: 4, contextLength: T, seed: 3 });
const ids = randint(0, 65, [B, T], { seed: 4 });
const targets = randint(0, 65, [B, T], { seed: 5 });

const bench = new Bench({ time: 2000, iterations: 5 });
bench
  .add(`CausalSelfAttention fwd+bwd [${B},${T},${dim}] 4 heads`, () => {
    attn.forward(x).sum().backward();
    attn.zeroGrad();
  })
  .add(`FeedForward fwd+bwd [${B},${T},${dim}] hidden ${4 * dim}`, () => {
    ffw.forward(x).sum().backward();
    ffw.zeroGrad();
  })
  .add(`TransformerLM depth 2 loss fwd+bwd (${B * T} tokens)`, () => {
    model.loss(ids, targets).backward();
    model.zeroGrad();
  })
  .add(`TransformerLM generate 32 tokens (context ${T})`, () => {
    model.generate(ids.slice(0, 0, 1).slice(1, 0, 8).contiguous(), { maxNewTokens: 32, seed: 1, topK: 10 });
  });
await bench.run();
console.table(bench.table());
