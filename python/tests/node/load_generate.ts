// Loads a Myriad checkpoint written by myriad_torch (train-lm config) with @myriad/train's
// loadCheckpoint, prints the eval-mode logits of a prompt's last position and a generated sample as JSON.
// Usage: node --conditions=source --import tsx python/tests/node/load_generate.ts CHECKPOINT PROMPT
import { tensor } from '@myriad/core';
import { loadCheckpoint, readCheckpoint, tokenizerFromJSON } from '@myriad/train';
import { buildModel, type ModelConfig } from '../../../examples/train-lm/src/models.js';

const [path, prompt] = process.argv.slice(2);
if (!path || prompt === undefined) throw new Error('usage: load_generate.ts CHECKPOINT PROMPT');
const ckpt = await readCheckpoint(path);
const { model } = buildModel(ckpt.config as ModelConfig);
await loadCheckpoint(ckpt, { model });
const tok = tokenizerFromJSON(ckpt.tokenizer!);
const ids = tok.encode(prompt);
model.eval();
const logits = model.forward(tensor(ids, { shape: [1, ids.length] })).toTypedArray();
const V = model.vocabSize;
const last = Array.from(logits.subarray(logits.length - V));
const out = model.generate(tensor(ids, { shape: [ids.length] }), { maxNewTokens: 40, temperature: 0.8, topK: 10, seed: 1 });
console.log(JSON.stringify({ step: ckpt.step, last, sample: tok.decode(out.toTypedArray() as Int32Array) }));
