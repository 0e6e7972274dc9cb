export { TextDataset, type DirectoryOptions } from './text-dataset.js';
export { defaultCorpusPath } from './default-corpus.js';
export { trainValidationSplit, type TokenSplit } from './split.js';
export { BatchLoader, type Batch, type BatchLoaderOptions, type BatchLoaderState } from './batch-loader.js';
export { DataLoader, TensorDataset, type Dataset, type DataLoaderOptions } from './data-loader.js';
