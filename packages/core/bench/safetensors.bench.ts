// safetensors throughput: a 16 MiB float32 state dict (64 tensors of 256x256) through the container
// layer and the tensor layer, and float16/bfloat16 widening of 4 Mi elements.
import { Bench } from 'tinybench';
import { tensor, type Tensor } from '@myriad/core';
import { loadSafetensors, saveSafetensors } from '../src/io/safetensors.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsEntryInput } from '../src/io/safetensors-format.js';
import { bfloat16ToFloat32, float16ToFloat32, float32ToFloat16 } from '../src/io/half.js';

const raw: Record<string, SafetensorsEntryInput> = {};
const tensors: Record<string, Tensor> = {};
for (let i = 0; i < 64; i++) {
  const data = Float32Array.from({ length: 256 * 256 }, (_, j) => Math.sin(i + j));
  raw[`layers.${i}.weight`] = { dtype: 'F32', shape: [256, 256], data };
  tensors[`layers.${i}.weight`] = tensor(data, { shape: [256, 256] });
}
const file = encodeSafetensors(raw);
const halves = float32ToFloat16(Float32Array.from({ length: 1 << 22 }, (_, j) => Math.sin(j) * 100));
const mib = file.length / 2 ** 20;

const bench = new Bench({ time: 1000 });
bench
  .add(`encodeSafetensors ${mib.toFixed(0)} MiB`, () => void encodeSafetensors(raw))
  .add(`decodeSafetensors ${mib.toFixed(0)} MiB (views, no copy)`, () => void decodeSafetensors(file))
  .add(`saveSafetensors ${mib.toFixed(0)} MiB`, () => void saveSafetensors(tensors))
  .add(`loadSafetensors ${mib.toFixed(0)} MiB`, () => void loadSafetensors(file))
  .add('float16ToFloat32 4 Mi', () => void float16ToFloat32(halves))
  .add('bfloat16ToFloat32 4 Mi', () => void bfloat16ToFloat32(halves));
await bench.run();
console.table(bench.table());
