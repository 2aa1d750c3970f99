// One benchmark configuration: its random inputs (made once, shared by every thread count), the call
// that is timed, and how many floating-point operations that call counts as.

import { zeros, type AttentionPool, type Tensor } from '../../src/index.js';
import { Random } from '../random.js';

export type BenchMode = 'attention' | 'mha';

export interface BenchShape {
  readonly mode: BenchMode;
  readonly batch: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly seq: number;
  readonly headDim: number;
  readonly causal: boolean;
}

export interface LayerWeightTensors {
  readonly inProjWeight: Tensor;
  readonly inProjBias: Tensor;
  readonly outProjWeight: Tensor;
  readonly outProjBias: Tensor;
}

export type Workload =
  | { readonly mode: 'attention'; readonly shape: BenchShape; readonly flops: number; readonly q: Tensor; readonly k: Tensor; readonly v: Tensor }
  | { readonly mode: 'mha'; readonly shape: BenchShape; readonly flops: number; readonly x: Tensor; readonly weights: LayerWeightTensors };

/** FLOPs as attention benchmarks usually count them: q·kᵀ and p·v are 2·Sq·Sk·D each per head, not halved for causal
 *  (so causal GFLOP/s show how much work a kernel skips); the layer adds its projections: Q and out
 *  E×E, K and V E×(Hkv·D) each (all four E×E without grouped-query heads). */
export function countFlops(s: BenchShape): number {
  const attention = 4 * s.batch * s.heads * s.seq * s.seq * s.headDim;
  const embed = s.heads * s.headDim;
  const kvDim = s.kvHeads * s.headDim;
  return s.mode === 'attention' ? attention : attention + 2 * s.batch * s.seq * embed * (2 * embed + 2 * kvDim);
}

function randomTensor(shape: readonly number[], random: Random, scale = 1): Tensor {
  const t = zeros(shape);
  random.fill(t.data);
  if (scale !== 1) for (let i = 0; i < t.data.length; i++) t.data[i]! *= scale;
  return t;
}

export function makeWorkload(shape: BenchShape, seed: number): Workload {
  const random = new Random(seed);
  const { batch: B, heads: H, kvHeads: Hkv, seq: S, headDim: D } = shape;
  const flops = countFlops(shape);
  if (shape.mode === 'attention') {
    return {
      mode: 'attention', shape, flops,
      q: randomTensor([B, H, S, D], random), k: randomTensor([B, Hkv, S, D], random), v: randomTensor([B, Hkv, S, D], random),
    };
  }
  const E = H * D;
  const inRows = E + 2 * Hkv * D; // Q rows, then K and V rows of Hkv heads each (3E without grouped-query heads)
  // Weights uniform in ±1/sqrt(E), as nn.Linear initialises them, keep the scores in a realistic range.
  const w = 1 / Math.sqrt(E);
  return {
    mode: 'mha', shape, flops,
    x: randomTensor([B, S, E], random),
    weights: {
      inProjWeight: randomTensor([inRows, E], random, w), inProjBias: randomTensor([inRows], random, w),
      outProjWeight: randomTensor([E, E], random, w), outProjBias: randomTensor([E], random, w),
    },
  };
}

/** One timed call; resolves to the output values ([B, H, S, D] or [B, S, E]). */
export async function runWorkload(pool: AttentionPool, work: Workload): Promise<Float32Array> {
  if (work.mode === 'attention') {
    return (await pool.attention(work.q, work.k, work.v, { causal: work.shape.causal })).data;
  }
  const { output } = await pool.multiHeadAttention(work.x, work.x, work.x, work.weights, {
    numHeads: work.shape.heads, numKvHeads: work.shape.kvHeads, causal: work.shape.causal,
  });
  return output.data;
}
