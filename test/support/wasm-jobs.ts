// Kernel-level jobs for the wasm kernel tests: logical tensors (float32 values, kept as plain arrays
// for the reference) embedded in strided storage the way the coordinator lays them out, plus readers
// that pull the logical results back out of the strided outputs.

import {
  ATTENTION_TILE, GEMM_TILE, type AttentionDims, type AttentionJob, type AttentionTile, type Broadcast4, type GemmJob, type GemmPart, type GemmTile,
  type View4,
} from '../../dist/workers/kernels/jobs.js';
import { Rng } from './random.js';

/** Storage layouts of a [B, H, rows, cols] tensor:
 *  dense — row-major [B, H, rows, cols];
 *  heads-interleaved — a [B, rows, H·cols] projection read head by head (the multi-head layer's layout);
 *  padded — dense with 3 spare floats after every row and 5 before the first element. */
export type Layout = 'dense' | 'heads-interleaved' | 'padded';

export interface Dims4 {
  readonly B: number;
  readonly H: number;
  readonly rows: number;
  readonly cols: number;
}

/** A logical tensor: its float32 values in row-major order, for the reference. */
export interface Logical {
  readonly dims: Dims4;
  readonly values: Float64Array;
}

export function randomLogical(dims: Dims4, rng: Rng, scale = 1): Logical {
  const values = new Float64Array(dims.B * dims.H * dims.rows * dims.cols);
  for (let i = 0; i < values.length; i++) values[i] = Math.fround((rng.uniform() * 2 - 1) * scale);
  return { dims, values };
}

/** Strides (in elements) of a layout. */
function stridesOf(layout: Layout, { H, rows, cols }: Dims4): { offset: number; strideB: number; strideH: number; strideRow: number } {
  switch (layout) {
    case 'dense':
      return { offset: 0, strideB: H * rows * cols, strideH: rows * cols, strideRow: cols };
    case 'heads-interleaved':
      return { offset: 0, strideB: rows * H * cols, strideH: cols, strideRow: H * cols };
    case 'padded':
      return { offset: 5, strideB: H * rows * (cols + 3), strideH: rows * (cols + 3), strideRow: cols + 3 };
  }
}

/** Storage for a view: every element outside the view holds `fill`, so stray writes show. */
export function emptyView(dims: Dims4, layout: Layout, fill = 0): View4 {
  const s = stridesOf(layout, dims);
  const length = s.offset + dims.B * s.strideB + 8;
  return { data: new Float32Array(length).fill(fill), ...s };
}

export function viewOf(t: Logical, layout: Layout): View4 {
  const view = emptyView(t.dims, layout, NaN); // NaN gaps: a kernel reading outside the view is caught
  const { B, H, rows, cols } = t.dims;
  let i = 0;
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
    view.data[view.offset + b * view.strideB + h * view.strideH + r * view.strideRow + c] = t.values[i++];
  }
  return view;
}

/** The logical [B, H, rows, cols] contents of a view. */
export function readView(view: View4, dims: Dims4): Float64Array {
  const { B, H, rows, cols } = dims;
  const out = new Float64Array(B * H * rows * cols);
  let i = 0;
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
    out[i++] = view.data[view.offset + b * view.strideB + h * view.strideH + r * view.strideRow + c];
  }
  return out;
}

/** Elements of a view's storage outside the view that no longer hold `fill`. */
export function strayWrites(view: View4, dims: Dims4, fill: number): number {
  const inside = new Uint8Array(view.data.length);
  const { B, H, rows, cols } = dims;
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let r = 0; r < rows; r++) {
    inside.fill(1, view.offset + b * view.strideB + h * view.strideH + r * view.strideRow, view.offset + b * view.strideB + h * view.strideH + r * view.strideRow + cols);
  }
  let stray = 0;
  for (let i = 0; i < view.data.length; i++) if (!inside[i] && !Object.is(view.data[i], fill)) stray++;
  return stray;
}

/** A mask or bias of shape [mB, mH, mRows, mCols] (each either the full size or 1), stored densely
 *  and broadcast to [B, H, Sq, Sk] with zero strides. `values` is its logical content. */
export interface Broadcastable {
  readonly shape: readonly [number, number, number, number];
  readonly values: Float64Array;
}

export function broadcastOf<A extends Float32Array | Uint8Array>(t: Broadcastable, make: (n: number) => A): Broadcast4<A> {
  const [mB, mH, mRows, mCols] = t.shape;
  const offset = 3;
  const data = make(offset + t.values.length);
  data.set(t.values, offset);
  const strideCol = mCols === 1 ? 0 : 1;
  const strideRow = mRows === 1 ? 0 : mCols;
  const strideH = mH === 1 ? 0 : mRows * mCols;
  const strideB = mB === 1 ? 0 : mH * mRows * mCols;
  return { data, offset, strideB, strideH, strideRow, strideCol };
}

/** Value of a broadcastable at (b, h, i, j). */
export function broadcastAt(t: Broadcastable, b: number, h: number, i: number, j: number): number {
  const [mB, mH, mRows, mCols] = t.shape;
  return t.values[(((mB === 1 ? 0 : b) * mH + (mH === 1 ? 0 : h)) * mRows + (mRows === 1 ? 0 : i)) * mCols + (mCols === 1 ? 0 : j)];
}

export interface AttentionCase extends AttentionDims {
  readonly causal?: boolean;
  readonly scale?: number;
  readonly mask?: Broadcastable;
  readonly bias?: Broadcastable;
  readonly weights?: boolean;
  readonly layout?: Layout;
  readonly seed: number;
}

export interface AttentionInputs {
  readonly spec: AttentionCase;
  readonly scale: number;
  readonly q: Logical;
  readonly k: Logical;
  readonly v: Logical;
}

export function attentionInputs(spec: AttentionCase): AttentionInputs {
  const rng = new Rng(spec.seed);
  const { B, H, Hkv, Sq, Sk, D, Dv } = spec;
  return {
    spec,
    scale: spec.scale ?? 1 / Math.sqrt(D),
    q: randomLogical({ B, H, rows: Sq, cols: D }, rng),
    k: randomLogical({ B, H: Hkv, rows: Sk, cols: D }, rng),
    v: randomLogical({ B, H: Hkv, rows: Sk, cols: Dv }, rng),
  };
}

/** Tiles covering rows [0, Sq) of every (b, h), cut at `cuts` (sorted row indices inside (0, Sq)). */
export function attentionTiles(B: number, H: number, Sq: number, cuts: readonly number[] = []): Int32Array {
  const bounds = [0, ...cuts.filter((c) => c > 0 && c < Sq), Sq];
  const tiles: AttentionTile[] = [];
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    for (let t = 0; t + 1 < bounds.length; t++) tiles.push({ b, h, heads: 1, rowStart: bounds[t], rowEnd: bounds[t + 1], split: 0 }); // unsplit job
  }
  return ATTENTION_TILE.pack(tiles);
}

/** A job with fresh (sentinel-filled) outputs, over the given inputs. */
export function attentionJob(inputs: AttentionInputs, tiles: Int32Array, outFill = 7): AttentionJob {
  const { spec, scale, q, k, v } = inputs;
  const { B, H, Hkv, Sq, Sk, D, Dv } = spec;
  const layout = spec.layout ?? 'dense';
  return {
    kind: 'attention', B, H, Hkv, Sq, Sk, D, Dv, scale, causal: spec.causal ?? false,
    q: viewOf(q, layout), k: viewOf(k, layout), v: viewOf(v, layout),
    out: emptyView({ B, H, rows: Sq, cols: Dv }, layout, outFill),
    lse: emptyView({ B, H, rows: Sq, cols: 1 }, 'dense', outFill),
    mask: spec.mask && broadcastOf(spec.mask, (n) => new Uint8Array(n)),
    bias: spec.bias && broadcastOf(spec.bias, (n) => new Float32Array(n)),
    weights: spec.weights ? emptyView({ B, H, rows: Sq, cols: Sk }, 'dense', outFill) : undefined,
    tiles,
  };
}

export interface AttentionResult {
  readonly out: Float64Array;
  readonly lse: Float64Array;
  readonly weights?: Float64Array;
}

export function attentionResult(job: AttentionJob): AttentionResult {
  const { B, H, Sq, Sk, Dv } = job;
  return {
    out: readView(job.out, { B, H, rows: Sq, cols: Dv }),
    lse: readView(job.lse!, { B, H, rows: Sq, cols: 1 }),
    weights: job.weights && readView(job.weights, { B, H, rows: Sq, cols: Sk }),
  };
}

/** A random broadcastable: values in [-1, 1) for a bias; for a mask, 1 (attend) with probability
 *  `keep`, else 0. */
export function randomBroadcastable(shape: readonly [number, number, number, number], rng: Rng,
  kind: 'mask' | 'bias', keep = 0.7): Broadcastable {
  const values = new Float64Array(shape[0] * shape[1] * shape[2] * shape[3]);
  for (let i = 0; i < values.length; i++) {
    values[i] = kind === 'mask' ? (rng.uniform() < keep ? 1 : 0) : Math.fround(rng.uniform() * 2 - 1);
  }
  return { shape, values };
}

export interface GemmCase {
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly bias: boolean;
  readonly seed: number;
}

/** x, w and out embedded with row padding and offsets (as a column slice of a wider matrix). */
export function gemmPart(spec: GemmCase, outFill = 7): { part: GemmPart; x: Float64Array; w: Float64Array; bias?: Float64Array } {
  const rng = new Rng(spec.seed);
  const { M, N, K } = spec;
  const random = (n: number) => Float64Array.from({ length: n }, () => Math.fround(rng.uniform() * 2 - 1));
  const x = random(M * K), w = random(N * K), bias = spec.bias ? random(N) : undefined;
  const embed = (values: Float64Array, rows: number, cols: number, offset: number, stride: number) => {
    const data = new Float32Array(offset + rows * stride + 4).fill(NaN);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[offset + r * stride + c] = values[r * cols + c];
    return data;
  };
  const part: GemmPart = {
    M, N, K,
    x: embed(x, M, K, 2, K + 1), xOffset: 2, xRowStride: K + 1,
    w: embed(w, N, K, 1, K + 3), wOffset: 1, wRowStride: K + 3,
    bias: bias && embed(bias, 1, N, 4, N), biasOffset: 4,
    out: new Float32Array(3 + M * (N + 2) + 4).fill(outFill), outOffset: 3, outRowStride: N + 2,
  };
  return { part, x, w, bias };
}

/** Tiles of one part cut at row and column boundaries. */
export function gemmTiles(part: number, M: number, N: number, rowCuts: readonly number[], colCuts: readonly number[]): GemmTile[] {
  const rows = [0, ...rowCuts.filter((c) => c > 0 && c < M), M];
  const cols = [0, ...colCuts.filter((c) => c > 0 && c < N), N];
  const tiles: GemmTile[] = [];
  for (let r = 0; r + 1 < rows.length; r++) for (let c = 0; c + 1 < cols.length; c++) {
    tiles.push({ part, rowStart: rows[r], rowEnd: rows[r + 1], colStart: cols[c], colEnd: cols[c + 1] });
  }
  return tiles;
}

export function gemmJob(parts: readonly GemmPart[], tiles: readonly GemmTile[]): GemmJob {
  return { kind: 'gemm', parts, tiles: GEMM_TILE.pack(tiles) };
}

/** The logical [M, N] output of a part. */
export function readGemmOut(part: GemmPart): Float64Array {
  const out = new Float64Array(part.M * part.N);
  for (let m = 0; m < part.M; m++) for (let n = 0; n < part.N; n++) out[m * part.N + n] = part.out[part.outOffset + m * part.outRowStride + n];
  return out;
}
