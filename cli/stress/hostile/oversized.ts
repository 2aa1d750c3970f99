// Oversized requests: tiny inputs that ask for outputs far beyond the pool's maxCallBytes (attention
// weights of long sequences, an Sk = 0 call with a huge Dv). The pool must refuse each at once with a
// RangeError naming maxCallBytes, before allocating anything.

import { zeros, type AttentionPool, type NeedWeights } from '../../../src/index.js';
import { refused, type RefusedCall } from './hostile-call.js';

const MiB = 2 ** 20;
const FLOAT32_BYTES = 4;
/** Each request asks for this multiple of the bound: over it whatever else the call would allocate. */
const OVER_BOUND = 1.5;
/** What the requests ask of a pool without a bound (maxCallBytes Infinity), where nothing is too large:
 *  1.5 × 64 MiB, enough to tell an accepted request from noise, small enough to survive its acceptance. */
export const UNBOUNDED_REQUEST_BYTES = 96 * MiB;

/** The bytes each oversized request asks for, given the pool's bound. */
export function requestBytesFor(maxCallBytes: number): number {
  return maxCallBytes === Infinity ? UNBOUNDED_REQUEST_BYTES : Math.ceil(OVER_BOUND * maxCallBytes);
}

/** Whatever the library's wording of the total, the refusal names the bound. */
const refusal = (op: string) => new RegExp(`^${op}: .*, more than maxCallBytes = `);

/** A self-attention layer over query [1, S, heads] (head dimension 1) whose weights alone take at least
 *  `bytes`: per-head weights are [1, heads, S, S]; 'average' adds its [1, S, S] to them. */
function weightsRequest(needWeights: Exclude<NeedWeights, false>, heads: number, bytes: number): RefusedCall {
  const matrices = needWeights === 'per-head' ? heads : heads + 1;
  const S = Math.ceil(Math.sqrt(bytes / (FLOAT32_BYTES * matrices)));
  const query = zeros([1, S, heads]);
  const weights = { inProjWeight: zeros([3 * heads, heads]), outProjWeight: zeros([heads, heads]) };
  return {
    ...refused('oversized', `multiHeadAttention query [1, ${S}, ${heads}] ${heads} heads needWeights '${needWeights}'`, refusal('multiHeadAttention'),
      (pool: AttentionPool) => pool.multiHeadAttention(query, query, query, weights, { numHeads: heads, needWeights })),
    requestBytes: bytes,
    oneAtATime: true,
  };
}

/** No keys at all, and values of width Dv: the output [1, 1, 64, Dv] still has to be written. */
function emptyKeysRequest(bytes: number): RefusedCall {
  const Sq = 64;
  const Dv = Math.ceil(bytes / (FLOAT32_BYTES * Sq));
  const q = zeros([1, 1, Sq, 1]), k = zeros([1, 1, 0, 1]), v = zeros([1, 1, 0, Dv]);
  return {
    ...refused('oversized', `attention q [1, 1, ${Sq}, 1] Sk=0 Dv=${Dv}`, refusal('attention'), (pool: AttentionPool) => pool.attention(q, k, v)),
    requestBytes: bytes,
    oneAtATime: true,
  };
}

/** The requests for a pool of bound `maxCallBytes` (inputs of a few MiB at most for bounds up to TiBs). */
export function oversizedCalls(maxCallBytes: number): RefusedCall[] {
  const bytes = requestBytesFor(maxCallBytes);
  return [weightsRequest('per-head', 8, bytes), weightsRequest('average', 2, bytes), emptyKeysRequest(bytes)];
}
