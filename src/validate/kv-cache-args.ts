// Validation for the KV cache: pool.createKvCache(options), cache.append(k, v), cache.reserve(n), and
// pool.attention(q, cache, options). Everything is checked before anything is allocated or written.

import { alternatives, describe, rangeError, typeError } from '../errors.js';
import type { FloatArray, Tensor } from '../tensor.js';
import { DTYPES, FLOAT_DTYPES, STORED_DTYPES, type FloatDType, type StoredDType } from '../../workers/dtypes.js';
import { firstUnstorable, type KvSide } from '../kv-storage.js';
import { optionInputsOf, outputsOf, validateAttentionWithKv, type AttentionArgs } from './attention-args.js';
import { checkIndexLimit, checkKeyCount } from './index-limits.js';
import { checkOutputsApart, type NamedData } from './overlap.js';
import { checkDim, checkFloatTensor, checkOptionNames, checkOptionsObject } from './tensor-arg.js';
import type { WindowShape } from '../kv-window.js';
import type { PositionGap } from '../../workers/kernels/key-range.js';

/** The element types a cache stores: the float rows of workers/dtypes.ts, and the stored ones (float16,
 *  int8), whose caches take and give float32. */
export type KvCacheDType = FloatDType | StoredDType;

/** The element type of the tensors a cache of `dtype` takes (appends, q) and calls over it return. */
export function tensorDtypeOf(dtype: KvCacheDType): FloatDType {
  return DTYPES[dtype].holds === 'stored' ? 'float32' : dtype as FloatDType;
}

export interface KvCacheOptions<D extends KvCacheDType = KvCacheDType> {
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Default headDim. */
  readonly valueDim?: number;
  /** Positions the cache holds; grow it explicitly with cache.reserve(). Not with `window`. */
  readonly capacity?: number;
  /** A window cache (StreamingLLM): keeps the first `sinkTokens` positions and the latest `window`, in
   *  place of `capacity`; appending never runs out of room. */
  readonly window?: number;
  /** With `window`: positions kept from the start of the sequence (attention sinks). Default 0. */
  readonly sinkTokens?: number;
  /** Element type of the cached keys and values, and of the q a call passes with it, default 'float32';
   *  'float16' or 'int8' store K/V in reduced precision (test/golden-variants/README.md's storage rules)
   *  while appends take float32 and calls take a float32 q and return float32. */
  readonly dtype?: D;
}

export interface KvCacheLayout {
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly dtype: KvCacheDType;
}

const CREATE = 'createKvCache';
const OPTION_NAMES = ['batch', 'kvHeads', 'headDim', 'valueDim', 'capacity', 'window', 'sinkTokens', 'dtype'] as const;
const KV_DTYPES: readonly KvCacheDType[] = [...FLOAT_DTYPES, ...STORED_DTYPES];
const DTYPE_CHOICES = alternatives(KV_DTYPES.map((d) => `'${d}'`));

/** A cache's rows per (batch, kv head): `capacity`, or sinkTokens + window for a window cache. */
export interface KvCacheRows {
  readonly capacity: number;
  readonly window?: WindowShape;
}

export function resolveKvCacheOptions(optionsIn: unknown): KvCacheLayout & KvCacheRows {
  if (optionsIn === undefined) throw typeError(CREATE, 'options', 'an object { batch, kvHeads, headDim, capacity }', optionsIn);
  const options = checkOptionsObject(CREATE, optionsIn);
  checkOptionNames(CREATE, options, OPTION_NAMES);
  const headDim = checkDimension(CREATE, 'options.headDim', options.headDim);
  const dtype = options.dtype === undefined ? 'float32' : options.dtype;
  if (typeof dtype !== 'string') throw typeError(CREATE, 'options.dtype', DTYPE_CHOICES, dtype);
  if (!KV_DTYPES.includes(dtype as KvCacheDType)) throw rangeError(CREATE, 'options.dtype', DTYPE_CHOICES, dtype);
  return {
    batch: checkDimension(CREATE, 'options.batch', options.batch),
    kvHeads: checkDimension(CREATE, 'options.kvHeads', options.kvHeads),
    headDim,
    valueDim: options.valueDim === undefined ? headDim : checkDimension(CREATE, 'options.valueDim', options.valueDim),
    ...resolveRows(options),
    dtype: dtype as KvCacheDType,
  };
}

/** `capacity`, or `window` and `sinkTokens`: one or the other, never both. */
function resolveRows(options: Record<string, unknown>): KvCacheRows {
  if (options.window === undefined) {
    if (options.sinkTokens !== undefined) {
      throw new RangeError(`${CREATE}: options.sinkTokens requires options.window (sink tokens are kept by a window cache), got sinkTokens ${describe(options.sinkTokens)} without a window`);
    }
    if (options.capacity === undefined) throw typeError(CREATE, 'options.capacity', 'a positive integer (or options.window for a window cache)', undefined);
    return { capacity: checkCapacity(CREATE, 'options.capacity', options.capacity) };
  }
  if (options.capacity !== undefined) {
    throw new RangeError(`${CREATE}: options.capacity and options.window exclude each other (a window cache holds sinkTokens + window ` +
      `positions and never runs out of room), got capacity ${describe(options.capacity)} and window ${describe(options.window)}`);
  }
  const window = checkPositiveInteger(CREATE, 'options.window', options.window);
  const sinkTokens = options.sinkTokens === undefined ? 0 : checkCount(CREATE, 'options.sinkTokens', options.sinkTokens);
  // Every call over the cache may read all its rows as its Sk.
  const capacity = checkCapacity(CREATE, 'options.sinkTokens + options.window', sinkTokens + window);
  return { capacity, window: { window, sinkTokens } };
}

function checkCount(op: string, name: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(op, name, 'a non-negative integer', value);
  if (!Number.isSafeInteger(value) || value < 0) throw rangeError(op, name, 'a non-negative integer', value);
  return value;
}

export function checkPositiveInteger(op: string, name: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(op, name, 'a positive integer', value);
  if (!Number.isSafeInteger(value) || value < 1) throw rangeError(op, name, 'a positive integer', value);
  return value;
}

/** batch, kvHeads, headDim, valueDim: dimensions of the cache's tensors, below 2^31 like any other. */
export function checkDimension(op: string, name: string, value: unknown): number {
  const n = checkPositiveInteger(op, name, value);
  checkIndexLimit(op, name, n);
  return n;
}

/** A capacity any attention call over the full cache can take as its Sk. */
export function checkCapacity(op: string, name: string, value: unknown): number {
  const n = checkPositiveInteger(op, name, value);
  checkKeyCount(op, name, n);
  return n;
}

/** k [B, Hkv, n, D] and v [B, Hkv, n, Dv] of the cache's dtype, n ≥ 1 and within the free capacity. */
export function checkAppendArgs(layout: KvCacheLayout, length: number, capacity: number, kIn: unknown, vIn: unknown):
  { k: Tensor<FloatArray>; v: Tensor<FloatArray>; n: number } {
  const op = 'KvCache.append';
  const { k, v, n } = checkAppendTensors(op, 'cache', layout, kIn, vIn);
  if (n > capacity - length) {
    throw new RangeError(`${op}: k.shape[2] (n) must be at most cache.capacity − cache.length = ${capacity} − ${length} = ${capacity - length}, ` +
      `got ${n} (create a larger cache, or grow this one first with cache.reserve(${length + n}))`);
  }
  return { k, v, n };
}

/** k [B, Hkv, n, D] and v [B, Hkv, n, Dv] of the dtype of `owner` (named so in messages), n ≥ 1. */
export function checkAppendTensors(op: string, owner: string, layout: KvCacheLayout, kIn: unknown, vIn: unknown):
  { k: Tensor<FloatArray>; v: Tensor<FloatArray>; n: number } {
  const k = checkFloatTensor(op, 'k', kIn, ['B', 'Hkv', 'n', 'D']);
  const v = checkFloatTensor(op, 'v', vIn, ['B', 'Hkv', 'n', 'Dv']);
  checkCacheDtype(op, 'k', k.data, layout.dtype, owner);
  checkCacheDtype(op, 'v', v.data, layout.dtype, owner);
  const [B, Hkv, n, D] = k.shape;
  checkDim(op, 'k.shape[0] (B)', B, layout.batch, `${owner}.batch`);
  checkDim(op, 'k.shape[1] (Hkv)', Hkv, layout.kvHeads, `${owner}.kvHeads`);
  checkDim(op, 'k.shape[3] (D)', D, layout.headDim, `${owner}.headDim`);
  if (n < 1) throw rangeError(op, 'k.shape[2] (n)', 'at least 1 (positions to append)', n);
  checkDim(op, 'v.shape[0] (B)', v.shape[0], layout.batch, `${owner}.batch`);
  checkDim(op, 'v.shape[1] (Hkv)', v.shape[1], layout.kvHeads, `${owner}.kvHeads`);
  checkDim(op, 'v.shape[2] (n)', v.shape[2], n, 'k.shape[2] (n)');
  checkDim(op, 'v.shape[3] (Dv)', v.shape[3], layout.valueDim, `${owner}.valueDim`);
  return { k, v, n };
}

/** k and v hold only values a store of `dtype` can keep (kv-storage.ts firstUnstorable). */
export function checkStorable(op: string, owner: string, dtype: KvCacheDType, k: Tensor<FloatArray>, v: Tensor<FloatArray>): void {
  for (const [name, t] of [['k', k], ['v', v]] as const) {
    const at = firstUnstorable(dtype, t.data);
    if (at >= 0) {
      throw new RangeError(`${op}: ${name}.data must hold finite values for an '${dtype}' ${owner} ` +
        `(its blocks have no Infinity or NaN), got ${t.data[at]} at index ${at}`);
    }
  }
}

function checkCacheDtype(op: string, name: string, data: FloatArray, dtype: KvCacheDType, holder = 'cache'): void {
  const expected = DTYPES[tensorDtypeOf(dtype)].array;
  if (data instanceof expected) return;
  const stored = DTYPES[dtype].holds === 'stored' ? `, which takes and gives ${expected.name}s` : '';
  throw typeError(op, `${name}.data`, `a ${expected.name} (the ${holder}'s dtype is '${dtype}'${stored})`, data);
}

/** The data of the k and v a cache call hands the tensor validator, which reads only their shapes:
 *  an empty float32 view on shared memory, whatever the cache's dtype (nothing reads it, and a view of
 *  the cache's own elements would cost two typed arrays per call; the kernels get the cache's views). */
const EMPTY_SHARED_F32 = new Float32Array(new SharedArrayBuffer(0));

/**
 * pool.attention(q, cache, options) over the cache's `length` held positions (their keys in position
 * order; a window cache's dropped positions are `gap`). q is checked against the
 * cache here, with messages that name the cache; the options (mask and bias against [B, H, Sq, length],
 * out, lse, …) by the tensor form's own validator, handed k and v stand-ins of the snapshot's shape:
 * it reads only their shapes, and the kernels get the cache's strided views instead (kv-cache.ts).
 * `out` and `lse` must stay clear of the cache's whole buffers: calls read them in place, and later
 * appends write them.
 */
export function validateCachedAttentionArgs(layout: KvCacheLayout, keys: KvSide, values: KvSide, length: number,
  gap: PositionGap | undefined, qIn: unknown, optionsIn: unknown, extra: unknown, holder: KvHolder = CACHE_HOLDER): AttentionArgs {
  const op = 'attention';
  if (extra !== undefined || isTensorLike(optionsIn)) {
    throw typeError(op, 'the third argument', `the options object (${holder.form})`, extra !== undefined ? extra : optionsIn);
  }
  const q = checkFloatTensor(op, 'q', qIn, ['B', 'H', 'Sq', 'D']);
  checkCacheDtype(op, 'q', q.data, layout.dtype, holder.name);
  const [B, H, , D] = q.shape;
  checkDim(op, 'q.shape[0] (B)', B, layout.batch, holder.batch);
  if (H < 1 || H % layout.kvHeads !== 0) throw rangeError(op, 'q.shape[1] (H)', `a positive multiple of ${holder.name}.kvHeads = ${layout.kvHeads}`, H);
  if (D !== layout.headDim) checkDim(op, 'q.shape[3] (D)', D, layout.headDim, `${holder.name}.headDim`); // named only when it fails
  const k = { data: EMPTY_SHARED_F32, shape: [B, layout.kvHeads, length, layout.headDim] };
  const v = { data: EMPTY_SHARED_F32, shape: [B, layout.kvHeads, length, layout.valueDim] };
  const args = validateAttentionWithKv(q, k, v, optionsIn);
  const outputs = outputsOf(args);
  // Most calls write no buffer of the caller's: nothing to check, and no list of buffers to build.
  if (outputs.length > 0) checkOutputsApart(op, outputs, [...(holder.buffers ?? cacheBuffersOf(keys, values, "the cache's")), ...optionInputsOf(args)]);
  return gap ? { ...args, gap } : args;
}

/** What holds the K/V of a call over held keys, as its messages name it: a KvCache (the default), or a
 *  paged store's sequence (src/ops/paged-call.ts). */
export interface KvHolder {
  /** Its name in messages: `${name}.kvHeads`. */
  readonly name: string;
  /** How the call's form reads, for a misplaced third argument. */
  readonly form: string;
  /** What q.shape[0] must equal, as named in messages. */
  readonly batch: string;
  /** The buffers calls read in place, which out and lse must stay clear of (default: keys and values). */
  readonly buffers?: readonly NamedData[];
}

const CACHE_HOLDER: KvHolder = {
  name: 'cache', form: 'with a KvCache, the cache stands in for both k and v: attention(q, cache, options)', batch: 'cache.batch',
};

/** The buffers a cache call reads, named as `owner` + what each holds. */
export function cacheBuffersOf(keys: KvSide, values: KvSide, owner: string): NamedData[] {
  const buffers: NamedData[] = [{ name: `${owner} keys`, data: keys.data }, { name: `${owner} values`, data: values.data }];
  if (keys.scales) buffers.push({ name: `${owner} key scales`, data: keys.scales });
  if (values.scales) buffers.push({ name: `${owner} value scales`, data: values.scales });
  return buffers;
}

function isTensorLike(value: unknown): boolean {
  return value !== null && typeof value === 'object' && 'data' in value && 'shape' in value;
}
