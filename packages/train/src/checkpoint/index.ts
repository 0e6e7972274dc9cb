export {
  saveCheckpoint,
  readCheckpoint,
  checkpointToBytes,
  checkpointToBytesAsync,
  checkpointFromBytes,
  loadCheckpoint,
  modelTensors,
  type Checkpoint,
  type CheckpointModel,
  type LoadCheckpointTargets,
  type SaveCheckpointOptions,
} from './checkpoint.js';
export { findNonFinite, type NonFiniteTensor } from './non-finite.js';
