// @myriad/train: optimizers with lazy sparse updates, schedules, tokenizers, data, checkpoints, Trainer.
export * from './tokenizers/index.js';
export * from './data/index.js';
export * from './optim/index.js';
export * from './metrics/index.js';
export * from './checkpoint/index.js';
export * from './trainer/index.js';
