// Selection rules of the MoE routers, on plain typed arrays (selection is not differentiable; the
// gates that weight the chosen experts are gathered from the router's probabilities afterwards).

/** Capacity per expert: ⌈capacityFactor · tokens · topK / numExperts⌉ (Infinity stays Infinity). */
export function expertCapacity(capacityFactor: number, tokens: number, topK: number, numExperts: number): number {
  return capacityFactor === Infinity ? Infinity : Math.ceil((capacityFactor * tokens * topK) / numExperts);
}

/**
 * Drops assignments beyond `capacity` per expert, in place (sets them to −1) and returns how many
 * were dropped. `expert` is [tokens, k]; priority goes slot by slot (every token's first choice
 * before any second choice, as GShard), then by token order.
 */
export function applyCapacity(expert: Int32Array, tokens: number, k: number, numExperts: number, capacity: number): number {
  if (capacity === Infinity) return 0;
  const load = new Int32Array(numExperts);
  let dropped = 0;
  for (let j = 0; j < k; j++) {
    for (let t = 0; t < tokens; t++) {
      const p = t * k + j;
      const e = expert[p]!;
      if (e < 0) continue;
      if (load[e]! < capacity) load[e]++;
      else {
        expert[p] = -1;
        dropped++;
      }
    }
  }
  return dropped;
}

/** murmur3's 32-bit finaliser: a fixed, well-mixed hash of (value, seed). */
export function hash32(value: number, seed: number): number {
  let h = (value ^ Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Hash routing (Roller et al. 2021): token id → k distinct experts, [tokens, k]. Slot j hashes
 * (id, seed + j); a collision with an earlier slot probes the following experts.
 */
export function hashExperts(ids: ArrayLike<number>, numExperts: number, k: number, seed: number): Int32Array {
  const out = new Int32Array(ids.length * k);
  for (let t = 0; t < ids.length; t++) {
    const base = t * k;
    for (let j = 0; j < k; j++) {
      let e = hash32(ids[t]!, seed + j) % numExperts;
      for (;;) {
        let taken = false;
        for (let i = 0; i < j; i++) if (out[base + i] === e) taken = true;
        if (!taken) break;
        e = (e + 1) % numExperts;
      }
      out[base + j] = e;
    }
  }
  return out;
}

/**
 * DeepSeek-V3's auxiliary-loss-free update: each expert's bias moves by `rate` toward even load
 * (up when it got fewer than the mean number of assignments, down when more), in place.
 */
export function updateBalanceBias(bias: Float32Array | Float64Array, load: ArrayLike<number>, rate: number): void {
  let total = 0;
  for (let i = 0; i < load.length; i++) total += load[i]!;
  const mean = total / load.length;
  for (let i = 0; i < load.length; i++) bias[i] = bias[i]! + rate * Math.sign(mean - load[i]!);
}
