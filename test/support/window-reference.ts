// What a window cache holds and what its queries may see, written from test/golden-variants/README.md
// ("ring-cache") without attnpool's code: the tests build the held keys as a plain tensor from every
// appended row and the visibility as an explicit mask, and compare the cache's calls with attention
// over those.

import type { FloatData, Shape, TensorLike } from './random.js';

/** Positions [0, s) and the latest w, [max(s, N − w), N), in order. */
export function heldPositions(window: number, sinkTokens: number, N: number): number[] {
  const held: number[] = [];
  for (let p = 0; p < Math.min(sinkTokens, N); p++) held.push(p);
  for (let p = Math.max(sinkTokens, N - window); p < N; p++) held.push(p);
  return held;
}

/** Rows `rows` along axis 2 of a [B, H, S, C] tensor, in that order, as a new shared tensor. */
export function gatherAxis2<A extends FloatData>(t: TensorLike<A>, rows: readonly number[]): TensorLike<A> {
  const [B, H, S, C] = t.shape;
  const Ctor = t.data.constructor as new (buffer: SharedArrayBuffer) => A;
  const data = new Ctor(new SharedArrayBuffer(B * H * rows.length * C * t.data.BYTES_PER_ELEMENT));
  for (let bh = 0; bh < B * H; bh++) {
    rows.forEach((r, n) => data.set(t.data.subarray((bh * S + r) * C, (bh * S + r + 1) * C) as never, (bh * rows.length + n) * C));
  }
  return { data, shape: [B, H, rows.length, C] };
}

/** Rows [start, end) along axis 2. */
export function sliceAxis2<A extends FloatData>(t: TensorLike<A>, start: number, end: number): TensorLike<A> {
  return gatherAxis2(t, Array.from({ length: end - start }, (_, n) => start + n));
}

export interface Visibility {
  readonly B: number;
  readonly H: number;
  readonly Sq: number;
  /** Sequence position of each key (the held positions, in order). */
  readonly keyPositions: readonly number[];
  /** Positions appended: query i is at position N − Sq + i. */
  readonly N: number;
  readonly causal: boolean;
  readonly window?: number;
  /** Also applied: broadcast to [B, H, Sq, Sk] by numpy's rules. */
  readonly mask?: TensorLike<Uint8Array>;
}

/** [B, H, Sq, Sk]: 1 where query i may see key j — the key's position p has P − window < p ≤ P with causal
 *  (P = N − Sq + i), and the mask allows it. */
export function visibilityMask(v: Visibility): TensorLike<Uint8Array> {
  const Sk = v.keyPositions.length;
  const data = new Uint8Array(new SharedArrayBuffer(v.B * v.H * v.Sq * Sk));
  for (let b = 0; b < v.B; b++)
    for (let h = 0; h < v.H; h++)
      for (let i = 0; i < v.Sq; i++) {
        const P = v.N - v.Sq + i;
        for (let j = 0; j < Sk; j++) {
          const p = v.keyPositions[j];
          let seen = !v.causal || p <= P;
          if (v.window !== undefined) seen &&= p > P - v.window;
          if (v.mask) seen &&= maskAt(v.mask, [b, h, i, j]) !== 0;
          data[((b * v.H + h) * v.Sq + i) * Sk + j] = seen ? 1 : 0;
        }
      }
  return { data, shape: [v.B, v.H, v.Sq, Sk] };
}

function maskAt(t: TensorLike<Uint8Array>, index: Shape): number {
  let flat = 0;
  t.shape.forEach((size, axis) => {
    flat = flat * size + (size === 1 ? 0 : index[4 - t.shape.length + axis]);
  });
  return t.data[flat];
}
