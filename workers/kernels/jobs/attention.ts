// The attention job: scaled dot-product attention over pre-split heads, one tile per (batch, head or
// group of heads sharing a kv head, block of query rows[, key split]).

import type { FloatArray } from '../../../src/tensor.js';
import type { PositionGap } from '../key-range.js';
import type { KvRing } from '../kv-ring.js';
import type { StoredArray, StoredDType } from '../../dtypes.js';
import { tileLayout, type RecordOf } from './tile-record.js';
import type { Broadcast4, View4 } from './views.js';

/** Split-KV (flash-decoding): the keys are cut at multiples of `keysPerSplit` (itself a multiple of the
 *  kernels' 64-key block), split s holding keys [s·keysPerSplit, (s+1)·keysPerSplit); each tile covers
 *  one split and writes the split's partial softmax state instead of the output. The split tiles of one
 *  row group — the same batch, heads and query rows — are counted down in `pending`, and the tile that
 *  finishes a group last merges its rows' partials into the output (split-merge.ts). Only splits
 *  [first, first + count) — those some row can see — are held; every array is indexed by
 *  `(s − first) · rows + row`, row = (b·H + h)·Sq + i, rows = B·H·Sq (acc: that index × Dv + column).
 *  A (split, row) pair no tile wrote keeps its initial m = −Infinity: an empty split, whose l and acc
 *  (not initialised) the merge never reads.
 *  A job whose rows see no key at all holds one empty split (count 1), which its tiles leave empty. */
export interface SplitKv {
  readonly keysPerSplit: number;
  readonly first: number;
  readonly count: number;
  /** Per row group (ATTENTION_TILE's `group`): its split tiles not yet done. */
  readonly pending: Int32Array;
  /** Running maximum m of the row's scores in the split; −Infinity where the row saw nothing. */
  readonly max: Float64Array;
  /** l = Σ exp(s − m) over the split's visible keys; 0 where the row saw nothing. */
  readonly sum: Float64Array;
  /** Σ exp(s − m)·v, not divided by l. */
  readonly acc: Float64Array;
}

/** The generation of KvCache buffers K and V are read from (src/kv-cache.ts): while id and epoch stay
 *  the same, the elements of k and v at positions below a job's Sk never change, so a kernel may keep
 *  them packed from an earlier job with the same source and read only the positions past it. */
export interface KvSource {
  readonly id: number;
  readonly epoch: number;
}

/** K and V as a KvCache stores them in reduced precision (workers/storage/): k.data and v.data hold the
 *  stored elements — binary16 bits, or int8 values — at the positions a float32 cache's would, and for
 *  int8 kScales and vScales each row's block scales ([B, Hkv, Sk, ⌈cols / 32⌉], unit column stride).
 *  The kernels decode them to the float32 values they stand for as they read them. */
export type KvStorage =
  | { readonly dtype: 'float16' }
  | { readonly dtype: 'int8'; readonly kScales: View4<Float32Array>; readonly vScales: View4<Float32Array> };

/** K/V in the pages of a paged store (src/paged/), read where they lie: key t of kv head h is row
 *  t mod pageTokens of head h's region of page pages[⌊t / pageTokens⌋], which starts at byte
 *  pagesBase + page·pageBytes + h·headRegionBytes of `memory` and is laid out as a KvPiece of
 *  pageTokens keys (workers/kernels/wasm/kv-format.ts regionParts: float32 K panels and padded V rows,
 *  or float16 / int8 rows as stored with their block scales). `flags[i·Hkv + h]`: bit b set when key
 *  block b of head h of pages[i] holds a non-finite V value, over the job's keys only. A paged job's
 *  k and v are empty: the pages stand in for them. Rows past Sk in the last page may change while the
 *  job runs (appends); no kernel may let them reach a result. */
export interface PagedKv {
  readonly memory: WebAssembly.Memory;
  readonly pages: Int32Array;
  readonly flags: Int32Array;
  readonly dtype: 'float32' | StoredDType;
  readonly pageTokens: number;
  readonly pagesBase: number;
  readonly pageBytes: number;
  readonly headRegionBytes: number;
  /** Floats between float32 V rows (paddedDv(Dv)); float16 / int8 V rows are Dv apart. */
  readonly dvPad: number;
  /** Offsets inside a head's region (KvRegionParts). */
  readonly parts: { readonly kScales: number; readonly v: number; readonly vScales: number; readonly bytes: number };
}

/** Query rows [rowStart, rowEnd) of heads [h, h + heads) of batch b — heads > 1 only for query heads
 *  sharing one kv head (grouped-query attention; the order of the tile's rows is tile-rows.ts) —, over
 *  the keys of split `split`, one of the split tiles of row group `group` (both 0 when the job has no
 *  `split`). */
export const ATTENTION_TILE = tileLayout(['b', 'h', 'heads', 'rowStart', 'rowEnd', 'split', 'group']);
export type AttentionTile = RecordOf<typeof ATTENTION_TILE>;

/** The sizes of an attention problem: batch, query heads, K/V heads (H a multiple of Hkv: grouped-query
 *  attention), query and key positions, head dims of Q/K and of V. */
export interface AttentionDims {
  readonly B: number;
  readonly H: number;
  readonly Hkv: number;
  readonly Sq: number;
  readonly Sk: number;
  readonly D: number;
  readonly Dv: number;
}

/** Scaled dot-product attention over pre-split heads. */
export interface AttentionJob extends AttentionDims {
  readonly kind: 'attention';
  readonly scale: number;
  readonly causal: boolean;
  /** Causal 'top-left': row i at position i' = i, not i + Sk − Sq (key-range.ts). Absent: false. */
  readonly topLeft?: boolean;
  /** Sliding window (with causal): row i sees keys j with i' − window < j ≤ i'. */
  readonly window?: number;
  /** Score terms, in this order (golden-variants README): s = scale·q·k, then s = softcap·tanh(s /
   *  softcap), then + bias, then + alibiSlopes[h]·(position of j − i'); then the mask. */
  readonly softcap?: number;
  /** [H] per query head. */
  readonly alibiSlopes?: Float64Array;
  /** [H] one logit per query head in each row's softmax denominator, with no value. A split job's
   *  tiles leave it out: the merge adds it, once (split-merge.ts). */
  readonly sinks?: Float64Array;
  readonly q: View4;
  /** Float (q's type) unless kvStorage says how they are stored. */
  readonly k: View4<FloatArray | StoredArray>;
  readonly v: View4<FloatArray | StoredArray>;
  readonly out: View4;
  /** [B, H, Sq] log-sum-exp per row; strideRow is the element stride between rows. */
  readonly lse?: View4;
  /** 1 = may attend. */
  readonly mask?: Broadcast4<Uint8Array>;
  readonly bias?: Broadcast4<FloatArray>;
  /** When present, the softmax probabilities are written here ([B, H, Sq, Sk], unit column stride). */
  readonly weights?: View4;
  /** When present, tiles write partial results here instead of `out`, `lse` (never with `weights`). */
  readonly split?: SplitKv;
  /** Set only when k and v are stored in reduced precision (a float16 or int8 KvCache). */
  readonly kvStorage?: KvStorage;
  /** Set only when k and v are views over a KvCache's buffers; see KvSource. */
  readonly kvSource?: KvSource;
  /** Set only when K and V are a paged store's pages (then k and v are empty); see PagedKv. */
  readonly paged?: PagedKv;
  /** A window cache that has dropped positions: where its keys sit in the sequence (key-range.ts). */
  readonly gap?: PositionGap;
  /** A window cache whose ring has wrapped: which row of k and v holds each key (kv-ring.ts). */
  readonly kvRing?: KvRing;
  /** ATTENTION_TILE records. */
  readonly tiles: Int32Array;
}
