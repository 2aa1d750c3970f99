// An independent float64 reference for what attnpool computes, written to be read, not to be fast:
// one query row at a time, straight from the definitions in test/golden/README.md and API.md.
// It shares no code with src/ or workers/; test/golden.test.ts checks it against the PyTorch vectors.
//
// Conventions it encodes (the same as attnpool's contract):
//   * q [B, H, Sq, D], k [B, Hkv, Sk, D], v [B, Hkv, Sk, Dv]; query head h reads kv head floor(h / (H / Hkv)).
//   * mask (1 = may attend) and bias broadcast to [B, H, Sq, Sk] by numpy's rules (shapes right-aligned,
//     a size-1 axis repeats).
//   * causal is bottom-right aligned: query i may see key j iff j <= i + (Sk - Sq).
//   * a sliding window w (with causal) also hides keys j <= i + (Sk - Sq) - w: each query sees at most
//     its own aligned position and the w - 1 keys before it.
//   * a row with no visible key gives zeros in out and in the weights, and -Infinity in lse.
//   * the MHA layer is torch.nn.MultiheadAttention (batch_first): y = x·Wᵀ + b with W stored [out, in];
//     with numKvHeads = Hkv < H (grouped-query) the in-projection's rows are E for Q, then Hkv·hd for K
//     and Hkv·hd for V, and K and V split into Hkv heads.

import type { FloatData, Shape, TensorLike } from './random.js';

export interface ReferenceAttentionOptions {
  readonly causal?: boolean;
  /** Sliding window (only meaningful with causal): key j is hidden when j <= i + (Sk - Sq) - window. */
  readonly window?: number;
  readonly mask?: TensorLike<Uint8Array>;
  readonly bias?: TensorLike;
  /** Default 1 / sqrt(D). */
  readonly scale?: number;
}

export interface ReferenceAttention {
  /** [B, H, Sq, Dv] */
  readonly out: Float64Array;
  /** [B, H, Sq] */
  readonly lse: Float64Array;
  /** [B, H, Sq, Sk]: the softmax probabilities. */
  readonly weights: Float64Array;
}

/** Reads element (b, h, i, j) of a tensor broadcast to [B, H, Sq, Sk]. */
function broadcastAt(t: TensorLike<FloatData | Uint8Array>, b: number, h: number, i: number, j: number): number {
  const full = [b, h, i, j];
  const rank = t.shape.length;
  let flat = 0;
  for (let axis = 0; axis < rank; axis++) {
    const size = t.shape[axis];
    const index = size === 1 ? 0 : full[4 - rank + axis];
    flat = flat * size + index;
  }
  return t.data[flat];
}

function dims4(t: TensorLike, name: string): [number, number, number, number] {
  if (t.shape.length !== 4) throw new Error(`reference: ${name} must be 4-D, got [${t.shape.join(', ')}]`);
  return [t.shape[0], t.shape[1], t.shape[2], t.shape[3]];
}

export function referenceAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: ReferenceAttentionOptions = {}): ReferenceAttention {
  const [B, H, Sq, D] = dims4(q, 'q');
  const [, Hkv, Sk] = dims4(k, 'k');
  const Dv = dims4(v, 'v')[3];
  const group = H / Hkv;
  const scale = options.scale ?? 1 / Math.sqrt(D);
  const out = new Float64Array(B * H * Sq * Dv);
  const lse = new Float64Array(B * H * Sq);
  const weights = new Float64Array(B * H * Sq * Sk);

  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvHead = Math.floor(h / group);
      for (let i = 0; i < Sq; i++) {
        // Scores of the keys this row may see.
        const visible: number[] = [];
        const scores: number[] = [];
        for (let j = 0; j < Sk; j++) {
          if (options.causal && j > i + (Sk - Sq)) continue;
          if (options.window !== undefined && j <= i + (Sk - Sq) - options.window) continue;
          if (options.mask && broadcastAt(options.mask, b, h, i, j) === 0) continue;
          let dot = 0;
          for (let d = 0; d < D; d++) {
            dot += q.data[((b * H + h) * Sq + i) * D + d] * k.data[((b * Hkv + kvHead) * Sk + j) * D + d];
          }
          let s = scale * dot;
          if (options.bias) s += broadcastAt(options.bias, b, h, i, j);
          visible.push(j);
          scores.push(s);
        }

        const row = (b * H + h) * Sq + i;
        if (visible.length === 0) {
          lse[row] = -Infinity; // out and weights stay zero
          continue;
        }
        // Softmax with the row maximum subtracted, so exp never overflows.
        const max = Math.max(...scores);
        let sum = 0;
        for (const s of scores) sum += Math.exp(s - max);
        lse[row] = max + Math.log(sum);
        visible.forEach((j, n) => {
          const p = Math.exp(scores[n] - max) / sum;
          weights[row * Sk + j] = p;
          for (let c = 0; c < Dv; c++) out[row * Dv + c] += p * v.data[((b * Hkv + kvHead) * Sk + j) * Dv + c];
        });
      }
    }
  }
  return { out, lse, weights };
}

export interface MhaWeightsLike {
  readonly inProjWeight: TensorLike;
  readonly inProjBias?: TensorLike;
  readonly outProjWeight: TensorLike;
  readonly outProjBias?: TensorLike;
}

export interface ReferenceMhaOptions {
  readonly numHeads: number;
  /** Default numHeads. */
  readonly numKvHeads?: number;
  readonly causal?: boolean;
  /** [B, Sk]; 1 = padding, ignored (torch's key_padding_mask). */
  readonly keyPaddingMask?: TensorLike<Uint8Array>;
}

export interface ReferenceMha {
  /** [B, Sq, E] */
  readonly output: Float64Array;
  /** [B, H, Sq, Sk] */
  readonly weightsPerHead: Float64Array;
  /** [B, Sq, Sk]: mean of weightsPerHead over heads. */
  readonly weightsAverage: Float64Array;
}

/** y[n, o] = Σ_i x[n, i] · W[rowOffset + o, i] + bias[rowOffset + o], for o < outFeatures (torch nn.Linear). */
export function linear(x: ArrayLike<number>, rows: number, inFeatures: number, w: TensorLike, bias: TensorLike | undefined, rowOffset: number, outFeatures: number): Float64Array {
  const y = new Float64Array(rows * outFeatures);
  for (let n = 0; n < rows; n++) {
    for (let o = 0; o < outFeatures; o++) {
      let acc = bias ? bias.data[rowOffset + o] : 0;
      for (let i = 0; i < inFeatures; i++) acc += x[n * inFeatures + i] * w.data[(rowOffset + o) * inFeatures + i];
      y[n * outFeatures + o] = acc;
    }
  }
  return y;
}

/** [B, S, H·hd] → [B, H, S, hd]: head h is columns [h·hd, (h+1)·hd). */
export function splitHeads(x: Float64Array, B: number, S: number, H: number, hd: number): TensorLike<Float64Array> {
  const heads = new Float64Array(B * H * S * hd);
  for (let b = 0; b < B; b++)
    for (let s = 0; s < S; s++)
      for (let h = 0; h < H; h++)
        for (let d = 0; d < hd; d++) heads[((b * H + h) * S + s) * hd + d] = x[(b * S + s) * H * hd + h * hd + d];
  return { data: heads, shape: [B, H, S, hd] };
}

/** [B, H, S, hd] → [B, S, H·hd]. */
export function mergeHeads(x: Float64Array, B: number, S: number, H: number, hd: number): Float64Array {
  const merged = new Float64Array(B * S * H * hd);
  for (let b = 0; b < B; b++)
    for (let s = 0; s < S; s++)
      for (let h = 0; h < H; h++)
        for (let d = 0; d < hd; d++) merged[(b * S + s) * H * hd + h * hd + d] = x[((b * H + h) * S + s) * hd + d];
  return merged;
}

/** key_padding_mask [B, Sk] (1 = ignore) as an attention mask (1 = may attend) of shape [B, 1, 1, Sk]. */
export function attendMaskFromPadding(keyPaddingMask: TensorLike<Uint8Array>): TensorLike<Uint8Array> {
  const [B, Sk] = keyPaddingMask.shape;
  const m = new Uint8Array(B * Sk);
  for (let n = 0; n < B * Sk; n++) m[n] = keyPaddingMask.data[n] ? 0 : 1;
  return { data: m, shape: [B, 1, 1, Sk] };
}

export function referenceMultiHeadAttention(query: TensorLike, key: TensorLike, value: TensorLike, weights: MhaWeightsLike, options: ReferenceMhaOptions): ReferenceMha {
  const [B, Sq, E] = query.shape;
  const Sk = key.shape[1];
  const H = options.numHeads;
  const Hkv = options.numKvHeads ?? H;
  const hd = E / H;
  const kvDim = Hkv * hd;

  const Q = linear(query.data, B * Sq, E, weights.inProjWeight, weights.inProjBias, 0, E);
  const K = linear(key.data, B * Sk, E, weights.inProjWeight, weights.inProjBias, E, kvDim);
  const V = linear(value.data, B * Sk, E, weights.inProjWeight, weights.inProjBias, E + kvDim, kvDim);

  const mask = options.keyPaddingMask && attendMaskFromPadding(options.keyPaddingMask);
  const attention = referenceAttention(splitHeads(Q, B, Sq, H, hd), splitHeads(K, B, Sk, Hkv, hd), splitHeads(V, B, Sk, Hkv, hd), {
    causal: options.causal,
    mask,
    scale: 1 / Math.sqrt(hd),
  });
  const output = linear(mergeHeads(attention.out, B, Sq, H, hd), B * Sq, E, weights.outProjWeight, weights.outProjBias, 0, E);

  const weightsAverage = new Float64Array(B * Sq * Sk);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let n = 0; n < Sq * Sk; n++) weightsAverage[b * Sq * Sk + n] += attention.weights[(b * H + h) * Sq * Sk + n] / H;
  return { output, weightsPerHead: attention.weights, weightsAverage };
}

/** The output shape of attention for these inputs: [B, H, Sq, Dv]. */
export function attentionOutShape(q: TensorLike, v: TensorLike): Shape {
  return [q.shape[0], q.shape[1], q.shape[2], v.shape[3]];
}
