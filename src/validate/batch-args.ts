// Validation of pool.attentionBatch(requests, options): the list and each request's form. Each
// request's tensors and options are then checked as pool.attention's are (call-admission.ts), with
// errors renamed to the request they came from.

import { rangeError, typeError } from '../errors.js';
import type { KvCache } from '../kv-cache.js';
import type { PagedSequence } from '../paged/paged-sequence.js';
import type { FloatArray, Tensor } from '../tensor.js';
import type { AttentionOptions } from './attention-args.js';
import { checkSignal, readOptions } from './tensor-arg.js';

const OP = 'attentionBatch';

/** More requests than this in one batch are refused: each is a part of one phase's descriptor. */
export const MAX_BATCH_REQUESTS = 1 << 16;

/** A request's options: pool.attention's, but for `signal` (the batch has one, for all of them). */
export type BatchRequestOptions<A extends FloatArray = Float32Array> = Omit<AttentionOptions<A>, 'signal'>;

/** One independent attention call of a batch: over its own q, k and v, or over a KvCache or a sequence
 *  of a paged store (pool.createPagedKvCache; q float32, as pool.attention over it). */
export type AttentionRequest<A extends FloatArray = Float32Array> =
  | { readonly q: Tensor<A>; readonly k: Tensor<A>; readonly v: Tensor<A>; readonly kv?: undefined; readonly options?: BatchRequestOptions<A> }
  | { readonly q: Tensor<A>; readonly kv: KvCache<A> | PagedSequence; readonly k?: undefined; readonly v?: undefined; readonly options?: BatchRequestOptions<A> };

export interface BatchOptions {
  readonly signal?: AbortSignal;
}

/** A request as read, once: later changes to the caller's objects are not seen. */
export interface ReadRequest {
  readonly q: unknown;
  readonly k?: unknown;
  readonly v?: unknown;
  /** A KvCache or a paged sequence (checked here). */
  readonly kv?: HeldKvSource;
  readonly options: unknown;
}

/** What a request's kv may be. */
export type HeldKvSource = KvCache<FloatArray> | PagedSequence;

/** `isKv`: whether a value is a KvCache or a paged sequence (the pool's check, kept out of this module's imports). */
export function readBatchRequests(requestsIn: unknown, optionsIn: unknown, isKv: (value: unknown) => value is HeldKvSource):
  { readonly requests: readonly ReadRequest[]; readonly signal: AbortSignal | undefined } {
  const options = readOptions(OP, optionsIn, ['signal']);
  const signal = checkSignal(OP, options.signal);
  if (!Array.isArray(requestsIn)) throw typeError(OP, 'requests', 'an array of requests ({ q, k, v, options? } or { q, kv, options? })', requestsIn);
  if (requestsIn.length > MAX_BATCH_REQUESTS) throw rangeError(OP, 'requests.length', `at most ${MAX_BATCH_REQUESTS}`, requestsIn.length);
  const requests = Array.from(requestsIn as unknown[], (request, i) => readRequest(request, `requests[${i}]`, isKv));
  return { requests, signal };
}

function readRequest(request: unknown, name: string, isKv: (value: unknown) => value is HeldKvSource): ReadRequest {
  if (request === null || typeof request !== 'object') throw typeError(OP, name, 'a request object ({ q, k, v, options? } or { q, kv, options? })', request);
  const { q, k, v, kv, options } = request as Record<string, unknown>;
  for (const key of Object.keys(request)) {
    if (!['q', 'k', 'v', 'kv', 'options'].includes(key)) throw new RangeError(`${OP}: ${name}.${key} is not a request field (known: q, k, v, kv, options)`);
  }
  if (options !== null && typeof options === 'object' && (options as Record<string, unknown>).signal !== undefined) {
    throw new RangeError(`${OP}: ${name}.options.signal is not taken: a batch has one signal, for all of its requests (attentionBatch(requests, { signal }))`);
  }
  if (kv === undefined) return { q, k, v, options };
  if (k !== undefined || v !== undefined) throw new RangeError(`${OP}: ${name} has both kv and k/v: give one or the other`);
  if (!isKv(kv)) throw typeError(OP, `${name}.kv`, 'a KvCache (pool.createKvCache) or a sequence of a paged store (store.sequence())', kv);
  return { q, kv, options };
}

/** A TypeError or RangeError of pool.attention's validation, renamed to the request it came from. */
export function inRequest(err: unknown, index: number): unknown {
  const rename = (message: string) => `${OP}: requests[${index}]: ${message.replace(/^attention: /, '')}`;
  if (err instanceof RangeError) return new RangeError(rename(err.message));
  if (err instanceof TypeError) return new TypeError(rename(err.message));
  return err;
}
