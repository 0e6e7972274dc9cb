// A 32-bit checksum over named tensors, stored in checkpoint metadata so a damaged file is refused
// even when its safetensors header still parses. FNV-1a over 32-bit words: each step is a bijection
// of the running hash, so any change to a single word always changes the result.
import type { Tensor } from '@myriad/core';

function mixString(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

/** Checksum of `tensors` (names, shapes, dtypes and element bytes), as 8 hex digits. */
export function tensorsChecksum(tensors: Record<string, Tensor>): string {
  let h = 0x811c9dc5 | 0;
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name]!;
    h = mixString(h, `${name}|${t.dtype}|${t.shape.join(',')}|`);
    const data = t.toTypedArray();
    const words = new Int32Array(data.buffer, data.byteOffset, data.byteLength >>> 2);
    for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i]!, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
