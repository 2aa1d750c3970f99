// pool.multiHeadAttention: three phases, each spread over every thread.
//   1. in-projections  Q = query·Wqᵀ + bq, K = key·Wkᵀ + bk, V = value·Wvᵀ + bv   (GEMM tiles)
//   2. attention per (batch, head, query-row block), reading head h of the projections in place
//      (head offset h·headDim within a row) and writing into the concatenated [B, Sq, E] layout
//   3. out-projection  output = concat·Woᵀ + bo   (GEMM tiles), beside the head mean of the weights
// With grouped-query attention (numKvHeads = Hkv < H) K and V have kvDim = Hkv·headDim columns, not E,
// and the attention job maps query head h to kv head floor(h / (H / Hkv)), as pool.attention does.
// Self-attention (query, key and value the same tensor) projects Q, K and V with one GEMM over the
// whole [E + 2·kvDim, E] weight; key === value projects K and V together.
// With batchFirst false ([S, B, E] tensors) nothing is transposed: a GEMM computes each row on its own,
// whatever the row order, so the projections keep the inputs' (s, b) row order, the attention views
// read and write them with the batch and row strides swapped, and the out-projection's rows come out
// [Sq, B, E]. Every element is computed exactly as for the batch-first call on transposed tensors.
// With options.rotary, a phase between 1 and 2 rotates Q and K in place through the same head views.

import type { GemmJob, GemmPart, HeadMeanJob, View4 } from '../../workers/kernels/jobs.js';
import { planGemmTiles } from '../plan/gemm-plan.js';
import { planHeadMeanTiles } from '../plan/head-mean-plan.js';
import { allocLike, type FloatArray, type Tensor } from '../tensor.js';
import { scratchArray, type ArrayType, type CallScratch } from '../pool/scratch-pool.js';
import type { MhaArgs } from '../validate/mha-args.js';
import { scoredPairs } from './attention-op.js';
import { runAttentionJob, type AttentionJobBody, type AttentionRun } from './attention-phases.js';
import { rotaryJob, rotaryPositions } from './rotary-op.js';
import { jobVariants } from './job-variants.js';
import { contiguous4, outputBuffer } from './views.js';
import { sameMemory } from '../validate/typed-array.js';

/** A [length] array of `like`'s type from the call's scratch, not cleared: its writer sets every element. */
function scratchLike(scratch: CallScratch | undefined, like: FloatArray, length: number): FloatArray {
  return scratchArray(scratch, like.constructor as ArrayType<FloatArray>, length, false);
}

export interface MultiHeadAttentionResult<A extends FloatArray = Float32Array> {
  /** [B, Sq, E], or [Sq, B, E] with batchFirst false. */
  output: Tensor<A>;
  /** [B, Sq, Sk] ('average') or [B, H, Sq, Sk] ('per-head'); null unless needWeights asked for it. */
  attnWeights: Tensor<A> | null;
}

export function mhaFlops(a: Pick<MhaArgs, 'B' | 'Sq' | 'Sk' | 'E' | 'numHeads' | 'numKvHeads' | 'causal' | 'topLeft'>): number {
  const kvDim = a.numKvHeads * (a.E / a.numHeads);
  // Q and out-projections are E×E on Sq rows; K and V are E×kvDim each on Sk rows.
  const projections = 2 * a.B * a.E * (2 * a.Sq * a.E + 2 * a.Sk * kvDim);
  return projections + 4 * a.B * a.E * scoredPairs(a.Sq, a.Sk, a.causal, a.topLeft);
}

function sameTensor(a: Tensor<FloatArray>, b: Tensor<FloatArray>): boolean {
  return sameMemory(a.data, b.data) && a.shape.every((d, i) => d === b.shape[i]);
}

/** The heads of a [B, S, rowLength] buffer ([S, B, rowLength] with batchFirst false) whose heads are
 *  consecutive chunks of `headDim` columns, from column `offset` on. */
function heads(args: MhaArgs, data: FloatArray, offset: number, S: number, rowLength: number, headDim: number): View4 {
  const [strideB, strideRow] = args.batchFirst ? [S * rowLength, rowLength] : [rowLength, args.B * rowLength];
  return { data, offset, strideB, strideH: headDim, strideRow };
}

interface Projection { part: GemmPart; view: (columnOffset: number) => View4 }

/** x [B·S, E] (in either layout's row order) · W[wRow0 : wRow0 + N]ᵀ + b[wRow0 : wRow0 + N] into a
 *  [B·S, N] scratch buffer with the same row order (every element written by the GEMM). */
function project(args: MhaArgs, x: FloatArray, S: number, wRow0: number, N: number, scratch: CallScratch | undefined): Projection {
  const { B, E, numHeads } = args;
  const rows = B * S;
  const out = scratchLike(scratch, x, rows * N);
  const part: GemmPart = {
    M: rows, N, K: E,
    x, xOffset: 0, xRowStride: E,
    w: args.inProjWeight, wOffset: wRow0 * E, wRowStride: E,
    bias: args.inProjBias, biasOffset: wRow0,
    out, outOffset: 0, outRowStride: N,
  };
  return { part, view: (columnOffset) => heads(args, out, columnOffset, S, N, E / numHeads) };
}

/** `args`' inputs are on shared memory (shared-inputs.ts). */
export async function runMha(args: MhaArgs, run: AttentionRun): Promise<MultiHeadAttentionResult<FloatArray>> {
  const { ctx, dispatcher, threads, kernel } = run;
  const { B, Sq, Sk, E, numHeads: H, numKvHeads: Hkv } = args;
  const headDim = E / H;
  const kvDim = Hkv * headDim;
  const query = args.query.data;

  // Phase 1: in-projections.
  let qView: View4, kView: View4, vView: View4;
  const parts: GemmPart[] = [];
  if (sameTensor(args.query, args.key) && sameTensor(args.key, args.value)) {
    const qkv = project(args, query, Sq, 0, E + 2 * kvDim, ctx.scratch);
    parts.push(qkv.part);
    [qView, kView, vView] = [qkv.view(0), qkv.view(E), qkv.view(E + kvDim)];
  } else {
    const q = project(args, query, Sq, 0, E, ctx.scratch);
    parts.push(q.part);
    qView = q.view(0);
    const key = args.key.data;
    if (sameTensor(args.key, args.value)) {
      const kv = project(args, key, Sk, E, 2 * kvDim, ctx.scratch);
      parts.push(kv.part);
      [kView, vView] = [kv.view(0), kv.view(kvDim)];
    } else {
      const k = project(args, key, Sk, E, kvDim, ctx.scratch);
      const v = project(args, args.value.data, Sk, E + kvDim, kvDim, ctx.scratch);
      parts.push(k.part, v.part);
      [kView, vView] = [k.view(0), v.view(0)];
    }
  }
  const projections: GemmJob = { kind: 'gemm', parts, tiles: planGemmTiles(parts, threads) };
  await dispatcher.runPhase(ctx, projections, kernel);
  if (args.rotary) {
    // Queries aligned to the end of the keys, as causal is (mha-args.ts): query i at key i + Sk − Sq.
    const rule = args.rotary;
    const q = { H, S: Sq, src: qView, dst: qView, positions: rotaryPositions(rule, Sk - Sq) };
    const k = { H: Hkv, S: Sk, src: kView, dst: kView, positions: rotaryPositions(rule, 0) };
    await dispatcher.runPhase(ctx, rotaryJob(rule, B, headDim, [q, k], threads), kernel);
  }

  // Phase 2: attention, written straight into the concatenated heads (in the query's row order).
  // Intermediates (projections, heads, weights only averaged) live in the call's scratch, registered
  // with the threads long ago; what the call returns is staged there too when small (views.ts).
  const concat = scratchLike(ctx.scratch, query, B * Sq * E);
  // Weights are zeroed first: tiles leave the key blocks causal masking skips unwritten.
  const averaged = args.needWeights === 'average';
  const weightsLength = B * H * Sq * Sk;
  const weights = !args.needWeights ? undefined
    : averaged ? scratchArray(ctx.scratch, query.constructor as ArrayType<FloatArray>, weightsLength) : allocLike(query, weightsLength);
  const attention: AttentionJobBody = {
    kind: 'attention', B, H, Hkv, Sq, Sk, D: headDim, Dv: headDim, scale: 1 / Math.sqrt(headDim), ...jobVariants(args),
    q: qView, k: kView, v: vView,
    out: heads(args, concat, 0, Sq, E, headDim),
    mask: args.keyPaddingMask && { data: attendMask(args.keyPaddingMask, ctx.scratch), offset: 0, strideB: Sk, strideH: 0, strideRow: 0, strideCol: 1 },
    weights: weights && contiguous4(weights, H, Sq, Sk),
  };
  await runAttentionJob(attention, run); // split-KV when the shape calls for it and no weights are asked

  // Phase 3: out-projection (row for row, so the output keeps the query's layout), and the mean of the
  // weights over heads when asked.
  const output = outputBuffer(undefined, query, [B * Sq * E], B * Sq * E, ctx.scratch);
  const outParts: GemmPart[] = [{
    M: B * Sq, N: E, K: E,
    x: concat, xOffset: 0, xRowStride: E,
    w: args.outProjWeight, wOffset: 0, wRowStride: E,
    bias: args.outProjBias, biasOffset: 0,
    out: output.data, outOffset: 0, outRowStride: E,
  }];
  const outProjection: GemmJob = { kind: 'gemm', parts: outParts, tiles: planGemmTiles(outParts, threads) };
  let attnWeights: Tensor<FloatArray> | null = null;
  if (weights && averaged) {
    const mean = outputBuffer(undefined, query, [B, Sq, Sk], B * Sq * Sk, ctx.scratch);
    const headMean: HeadMeanJob = { kind: 'head-mean', B, H, Sq, Sk, src: weights, dst: mean.data, tiles: planHeadMeanTiles(B, Sq, threads) };
    await Promise.all([dispatcher.runPhase(ctx, outProjection, kernel), dispatcher.runPhase(ctx, headMean, kernel)]);
    attnWeights = mean.finish();
  } else {
    await dispatcher.runPhase(ctx, outProjection, kernel);
    if (weights) attnWeights = { data: weights, shape: [B, H, Sq, Sk] };
  }
  return { output: { data: output.finish().data, shape: args.batchFirst ? [B, Sq, E] : [Sq, B, E] }, attnWeights };
}

/** PyTorch's key_padding_mask (1 = padding, ignore) as the kernels' mask convention (1 = may attend). */
function attendMask(keyPaddingMask: Uint8Array, scratch: CallScratch | undefined): Uint8Array {
  const attend = scratchArray(scratch, Uint8Array, keyPaddingMask.length, false); // every element set below
  for (let j = 0; j < keyPaddingMask.length; j++) attend[j] = keyPaddingMask[j] ? 0 : 1;
  return attend;
}
