export { Trainer, type TrainerHooks, type TrainerModel, type TrainerOptions, type TrainResult } from './trainer.js';
export type { EvalRecord, LogRecord, StepRecord } from './records.js';
export { ProgressReporter, formatEval, type ProgressMode, type ProgressStream } from './progress.js';
export { JsonlLog } from './jsonl-log.js';
export { formatCount, formatDuration } from './format.js';
