// The rotary job (rotary position embedding, RoPE): pool.rotary over one tensor, or the multi-head
// layer's Q and K projections in one phase. One tile per (part, batch, block of positions), covering
// every head of those positions, so each position's cos/sin table is computed once per tile.

import type { View4 } from './views.js';
import { tileLayout, type RecordOf } from './tile-record.js';

/** Positions [rowStart, rowEnd) of batch b of parts[part], all heads. */
export const ROTARY_TILE = tileLayout(['part', 'b', 'rowStart', 'rowEnd']);
export type RotaryTile = RecordOf<typeof ROTARY_TILE>;

/** Where the position of row s of batch b comes from: `data[offset + b*strideB + s]` (an int32
 *  positions tensor, possibly a window of one), or, without data, `first + s`. */
export interface RotaryPositions {
  readonly data?: Int32Array;
  readonly offset: number;
  readonly strideB: number;
  readonly first: number;
}

/** One [B, H, S, D] tensor rotated from `src` into `dst` (the same view when in place). */
export interface RotaryPart {
  readonly H: number;
  readonly S: number;
  readonly src: View4;
  readonly dst: View4;
  readonly positions: RotaryPositions;
}

export interface RotaryJob {
  readonly kind: 'rotary';
  readonly B: number;
  /** Head dimension of every part. */
  readonly D: number;
  /** Leading dimensions rotated (even, ≤ D); the rest pass through. */
  readonly rotaryDim: number;
  /** Pairs (2d, 2d + 1) (GPT-J) instead of (d, d + rotaryDim/2) (rotate_half, GPT-NeoX). */
  readonly interleaved: boolean;
  /** theta_d = base^(-2d/rotaryDim) for d < rotaryDim/2, float64, computed once on the calling
   *  thread (src/ops/rotary-op.ts) so every tile multiplies by the very same values. */
  readonly inverseFrequencies: Float64Array;
  readonly parts: readonly RotaryPart[];
  /** ROTARY_TILE records. */
  readonly tiles: Int32Array;
}
