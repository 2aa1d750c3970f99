// The calls stress fires: valid ones of random shape and options (each with fixed inputs, so every pool
// must return the same bits for it), and invalid ones with one deliberate defect each (which must be
// rejected with a TypeError or RangeError before any work starts).

import { zeros, type AttentionPool, type FloatArray, type NeedWeights, type Tensor, type TensorData } from '../../src/index.js';
import type { Random } from '../random.js';

export interface ValidCall {
  readonly label: string;
  /** Resolves to every array the call produces (output, plus lse or attention weights when asked for). */
  run(pool: AttentionPool, signal?: AbortSignal): Promise<TensorData[]>;
}

export interface InvalidCall {
  readonly label: string;
  run(pool: AttentionPool): Promise<unknown>;
}

type FloatDType = 'float32' | 'float64';

export function randomFloats(random: Random, shape: readonly number[], dtype: FloatDType = 'float32', amplitude = 1): Tensor<FloatArray> {
  const t = zeros(shape, dtype);
  random.fill(t.data);
  for (let i = 0; i < t.data.length; i++) t.data[i]! *= amplitude;
  return t;
}

/** 1 with probability `p`, else 0. */
export function randomBits(random: Random, shape: readonly number[], p: number): Tensor<Uint8Array> {
  const t = zeros(shape, 'uint8');
  for (let i = 0; i < t.data.length; i++) t.data[i] = random.chance(p) ? 1 : 0;
  return t;
}

/** A mask or bias shape broadcastable to [B, H, Sq, Sk]: full, broadcast over B and/or H, or of lower rank. */
function broadcastShape(random: Random, B: number, H: number, Sq: number, Sk: number): number[] {
  return random.pick([
    [B, H, Sq, Sk], [1, H, Sq, Sk], [B, 1, Sq, Sk], [1, 1, Sq, Sk], [Sq, Sk], [Sk], [H, 1, Sk],
  ]);
}

function randomAttentionCall(random: Random): ValidCall {
  const B = random.int(1, 2);
  const Hkv = random.int(1, 4);
  const H = Hkv * random.int(1, 3);
  const Sq = random.chance(0.15) ? 1 : random.int(1, 96);
  const Sk = random.chance(0.5) ? Sq : random.int(1, 128);
  const D = random.pick([1, 3, 7, 8, 16, 31, 32, 64]);
  const Dv = random.chance(0.75) ? D : random.pick([4, 12, 33]);
  const dtype: FloatDType = random.chance(0.1) ? 'float64' : 'float32';
  // Larger amplitudes give logits in the tens, where a softmax without max-subtraction breaks.
  const q = randomFloats(random, [B, H, Sq, D], dtype, random.pick([1, 4]));
  const k = randomFloats(random, [B, Hkv, Sk, D], dtype);
  const v = randomFloats(random, [B, Hkv, Sk, Dv], dtype);
  const causal = random.chance(0.4);
  const mask = random.chance(0.25) ? randomBits(random, broadcastShape(random, B, H, Sq, Sk), 0.7) : undefined;
  const bias = random.chance(0.2) ? randomFloats(random, broadcastShape(random, B, H, Sq, Sk), dtype, 2) : undefined;
  const scale = random.chance(0.2) ? 0.05 + random.next() : undefined;
  const withLse = random.chance(0.3);
  const withOut = random.chance(0.15);
  const label = `attention B=${B} H=${H} Hkv=${Hkv} Sq=${Sq} Sk=${Sk} D=${D} Dv=${Dv} ${dtype}` +
    `${causal ? ' causal' : ''}${mask ? ` mask[${mask.shape.join(',')}]` : ''}${bias ? ` bias[${bias.shape.join(',')}]` : ''}` +
    `${scale === undefined ? '' : ` scale=${scale.toFixed(3)}`}${withLse ? ' lse' : ''}${withOut ? ' out' : ''}`;
  return {
    label,
    async run(pool, signal) {
      const lse = withLse ? zeros([B, H, Sq], dtype) : undefined;
      const out = withOut ? zeros([B, H, Sq, Dv], dtype) : undefined;
      const result = await pool.attention(q, k, v, { causal, mask, bias, scale, lse, out, signal });
      return lse ? [result.data, lse.data] : [result.data];
    },
  };
}

function randomMhaCall(random: Random): ValidCall {
  const B = random.int(1, 2);
  const numHeads = random.int(1, 4);
  const E = numHeads * random.pick([1, 2, 5, 8, 16]);
  const Sq = random.int(1, 40);
  const self = random.chance(0.6);
  const Sk = self ? Sq : random.int(1, 48);
  const query = randomFloats(random, [B, Sq, E]);
  const key = self ? query : randomFloats(random, [B, Sk, E]);
  const value = self ? query : randomFloats(random, [B, Sk, E]);
  const w = 1 / Math.sqrt(E);
  const weights = {
    inProjWeight: randomFloats(random, [3 * E, E], 'float32', w),
    inProjBias: random.chance(0.8) ? randomFloats(random, [3 * E], 'float32', w) : undefined,
    outProjWeight: randomFloats(random, [E, E], 'float32', w),
    outProjBias: random.chance(0.8) ? randomFloats(random, [E], 'float32', w) : undefined,
  };
  const causal = random.chance(0.3);
  // Padding at the end of each batch row, as real padded batches have it; a length of 0 pads every key.
  let keyPaddingMask: Tensor<Uint8Array> | undefined;
  if (random.chance(0.3)) {
    keyPaddingMask = zeros([B, Sk], 'uint8');
    for (let b = 0; b < B; b++) keyPaddingMask.data.fill(1, b * Sk + random.int(0, Sk), (b + 1) * Sk);
  }
  const needWeights = random.pick<NeedWeights>([false, 'average', 'per-head']);
  const label = `multiHeadAttention B=${B} Sq=${Sq} Sk=${Sk} E=${E} heads=${numHeads} ${self ? 'self' : 'cross'}` +
    `${causal ? ' causal' : ''}${keyPaddingMask ? ' padded' : ''}${needWeights ? ` weights=${needWeights}` : ''}` +
    `${weights.inProjBias ? '' : ' no-in-bias'}${weights.outProjBias ? '' : ' no-out-bias'}`;
  return {
    label,
    async run(pool, signal) {
      const { output, attnWeights } = await pool.multiHeadAttention(query, key, value, weights, {
        numHeads, causal, keyPaddingMask, needWeights, signal,
      });
      return attnWeights ? [output.data, attnWeights.data] : [output.data];
    },
  };
}

/** `count` valid calls, about one in three a whole multi-head layer. */
export function randomValidCalls(random: Random, count: number): ValidCall[] {
  return Array.from({ length: count }, () => (random.chance(0.35) ? randomMhaCall(random) : randomAttentionCall(random)));
}

const f32 = (...shape: number[]) => zeros(shape);
const u8 = (...shape: number[]) => zeros(shape, 'uint8');
const layer = (E: number) => ({ inProjWeight: f32(3 * E, E), outProjWeight: f32(E, E) });

/** Each breaks one rule of the contract (API.md); `async` turns a synchronous throw into a rejection. */
export const INVALID_CALLS: readonly InvalidCall[] = [
  { label: 'attention: k.shape[3] differs from q.shape[3]', run: async (p) => p.attention(f32(1, 2, 4, 8), f32(1, 2, 4, 7), f32(1, 2, 4, 8)) },
  { label: 'attention: Hkv does not divide H', run: async (p) => p.attention(f32(1, 3, 4, 8), f32(1, 2, 4, 8), f32(1, 2, 4, 8)) },
  { label: 'attention: v.shape[2] differs from k.shape[2]', run: async (p) => p.attention(f32(1, 2, 4, 8), f32(1, 2, 5, 8), f32(1, 2, 4, 8)) },
  { label: 'attention: q is 3-D', run: async (p) => p.attention(f32(2, 4, 8), f32(1, 2, 4, 8), f32(1, 2, 4, 8)) },
  { label: 'attention: mask not broadcastable', run: async (p) => p.attention(f32(1, 2, 4, 8), f32(1, 2, 4, 8), f32(1, 2, 4, 8), { mask: u8(1, 1, 4, 5) }) },
  { label: 'attention: float32 mask', run: async (p) => p.attention(f32(1, 2, 4, 8), f32(1, 2, 4, 8), f32(1, 2, 4, 8), { mask: f32(4, 4) as unknown as Tensor<Uint8Array> }) },
  { label: 'attention: float64 k with float32 q', run: async (p) => p.attention(f32(1, 2, 4, 8), zeros([1, 2, 4, 8], 'float64') as unknown as Tensor, f32(1, 2, 4, 8)) },
  { label: 'multiHeadAttention: numHeads does not divide E', run: async (p) => p.multiHeadAttention(f32(1, 3, 6), f32(1, 3, 6), f32(1, 3, 6), layer(6), { numHeads: 4 }) },
  { label: 'multiHeadAttention: keyPaddingMask of the wrong length', run: async (p) => p.multiHeadAttention(f32(1, 3, 8), f32(1, 5, 8), f32(1, 5, 8), layer(8), { numHeads: 2, keyPaddingMask: u8(1, 6) }) },
  { label: 'multiHeadAttention: inProjWeight of the wrong shape', run: async (p) => p.multiHeadAttention(f32(1, 3, 8), f32(1, 3, 8), f32(1, 3, 8), { inProjWeight: f32(16, 8), outProjWeight: f32(8, 8) }, { numHeads: 2 }) },
];

/** A call with enough tiles and work to reach every thread of a pool of `threads` (far above the
 *  library's inline threshold): awaiting it means the pool's workers have started. */
export function warmUpCall(threads: number): ValidCall {
  const H = Math.max(4, threads);
  const [q, k, v] = [0, 1, 2].map(() => f32(1, H, 128, 64));
  return { label: `warm-up attention H=${H}`, run: async (pool) => [(await pool.attention(q!, k!, v!)).data] };
}
