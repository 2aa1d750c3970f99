// The calls the dispatch benchmark times: small enough that handing them to the workers, not the
// kernels, is what a call costs. 'self' is self-attention over S positions, 'decode' one query row per
// head over a KvCache of `kvLength` positions, as a decoding step is. Each can be made `copies` times
// over in one call (a batch of that many independent copies): what the kernel-time slope measures.

import { INLINE_MAX_FLOPS, tensor, type AttentionPool, type KvCacheDType, type Tensor } from '../../../src/index.js';
import { Random } from '../../random.js';

export type DispatchShapeKind = 'self' | 'decode';

export interface DispatchShape {
  readonly kind: DispatchShapeKind;
  readonly batch: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Query rows: S for 'self', 1 for 'decode'. */
  readonly queries: number;
  /** Keys: S for 'self', the cache's length for 'decode'. */
  readonly keys: number;
  readonly causal: boolean;
  /** 'decode' only: how its KvCache stores K and V (float32 appends either way). */
  readonly kvDtype?: DecodeKvDtype;
}

export type DecodeKvDtype = Exclude<KvCacheDType, 'float64'>;
export const DECODE_KV_DTYPES: readonly DecodeKvDtype[] = ['float32', 'float16', 'int8'];

/** One call of a shape on one pool, its inputs made once. */
export type PreparedCall = () => Promise<Tensor>;

export function selfShape(base: ShapeBase, seq: number, causal: boolean): DispatchShape {
  return { kind: 'self', ...base, queries: seq, keys: seq, causal };
}

/** A decode step: the cache holds the step's own position too, so causal sees every key. */
export function decodeShape(base: ShapeBase, kvLength: number, kvDtype: DecodeKvDtype): DispatchShape {
  return { kind: 'decode', ...base, queries: 1, keys: kvLength, causal: true, kvDtype };
}

export type ShapeBase = Pick<DispatchShape, 'batch' | 'heads' | 'kvHeads' | 'headDim'>;

export function describeDispatchShape(s: DispatchShape): string {
  const kv = s.kvHeads === s.heads ? '' : ` Hkv${s.kvHeads}`;
  const dims = `B${s.batch} H${s.heads}${kv} D${s.headDim}`;
  return s.kind === 'self'
    ? `self S=${s.queries} ${dims}${s.causal ? ' causal' : ''}`
    : `decode Sk=${s.keys} ${dims}${s.kvDtype && s.kvDtype !== 'float32' ? ` ${s.kvDtype} KV` : ''}`;
}

/** As the pool counts them for its inline threshold: 2·B·H·Sq·Sk·(D + Dv), halved when causal (decode:
 *  Sq = 1 sees every key, so nothing is halved). */
export function dispatchFlops(s: DispatchShape): number {
  const full = 2 * s.batch * s.heads * s.queries * s.keys * 2 * s.headDim;
  return s.kind === 'self' && s.causal ? full / 2 : full;
}

/** Whether the pool hands the call to its workers: over INLINE_MAX_FLOPS it does, whatever else; at or
 *  under it, a call runs on the calling thread (unless it writes a lot, which these shapes never do). */
export function runsOnWorkers(s: DispatchShape): boolean {
  return dispatchFlops(s) > INLINE_MAX_FLOPS;
}

function randomTensor(shape: readonly number[], random: Random): Tensor {
  const t = tensor(shape);
  random.fill(t.data);
  return t;
}

/** `copies` independent copies of the shape, batched into one call on `pool`. */
export function prepareCall(pool: AttentionPool, s: DispatchShape, copies: number, seed: number): PreparedCall {
  const random = new Random(seed);
  const B = s.batch * copies;
  const q = randomTensor([B, s.heads, s.queries, s.headDim], random);
  const k = randomTensor([B, s.kvHeads, s.keys, s.headDim], random);
  const v = randomTensor([B, s.kvHeads, s.keys, s.headDim], random);
  if (s.kind === 'self') return () => pool.attention(q, k, v, { causal: s.causal });
  const cache = pool.createKvCache({ batch: B, kvHeads: s.kvHeads, headDim: s.headDim, capacity: s.keys, dtype: s.kvDtype ?? 'float32' });
  cache.append(k, v);
  return () => pool.attention(q, cache, { causal: true });
}
