/** Seeded inputs, so a benchmark row or a failing test sees the same numbers on every run. */

/** mulberry32: 32-bit state, uniform in [0, 1); plenty for test and benchmark data. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` values uniform in [-bound, bound). */
export function uniformArray(length: number, next: () => number, bound = 1): Float32Array {
  const values = new Float32Array(length);
  for (let i = 0; i < length; i++) values[i] = (next() * 2 - 1) * bound;
  return values;
}
