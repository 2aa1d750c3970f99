// What crosses between the remote engine (main thread) and its host worker (engine-host.ts).
//
// Tensors cross as plain { data, shape } objects whose data is a typed array over a SharedArrayBuffer:
// structured cloning shares such memory instead of copying it, so inputs and results are zero-copy.
// Every call's arguments and every answer cross packed (workers/packed-views.ts), because structured
// cloning alone keeps a view's offset and length only modulo 4 GiB.
// Every host method resolves to an Outcome rather than throwing: comlink would turn a thrown TypeError
// into a plain Error, and the caller is promised the documented error classes (TypeError, RangeError,
// AbortError, ...), so errors travel as { name, message } and are rebuilt on the main thread.

import { AbortError, PoolClosedError, QueueFullError, WorkerFailedError } from '../errors.js';
import type { KernelName } from '../../workers/kernels/jobs.js';
import type { WasmVariant } from '../../workers/kernels/wasm/index.js';
import { unpackViews, type Packed } from '../../workers/packed-views.js';
import type { KvCacheContents } from '../kv-cache.js';
import type { MultiHeadAttentionResult } from '../ops/mha-op.js';
import type { ResolvedPoolOptions } from '../pool/pool-options.js';
import type { FloatArray, Tensor } from '../tensor.js';
import type { AttentionOptions } from '../validate/attention-args.js';
import type { MultiHeadAttentionOptions, MultiHeadAttentionWeights } from '../validate/mha-args.js';

export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly cause?: string;
}

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: WireError };

export interface EngineInfo {
  readonly threads: number;
  readonly kernel: KernelName;
  readonly wasmVariant: WasmVariant | null;
}

/** The call options that cross: everything but the signal, which stays on the main thread (an
 *  AbortSignal cannot be cloned); the host gets `abort(callId)` instead. */
export type WireAttentionOptions = Omit<AttentionOptions<FloatArray>, 'signal'>;
export type WireMhaOptions = Omit<MultiHeadAttentionOptions, 'signal'>;

export type WireAttentionArgs = readonly [q: Tensor<FloatArray>, k: Tensor<FloatArray>, v: Tensor<FloatArray>, options: WireAttentionOptions];
/** attention(q, cache, options): the cache's buffers cross shared, with the length of the call's snapshot. */
export type WireCachedAttentionArgs = readonly [q: Tensor<FloatArray>, cache: KvCacheContents, options: WireAttentionOptions];
/** One request of attentionBatch: q with its own k and v, or with a KvCache's contents (as attentionOverCache). */
export type WireBatchRequest =
  | { readonly q: Tensor<FloatArray>; readonly k: Tensor<FloatArray>; readonly v: Tensor<FloatArray>; readonly cache?: undefined; readonly options: WireAttentionOptions }
  | { readonly q: Tensor<FloatArray>; readonly cache: KvCacheContents; readonly k?: undefined; readonly v?: undefined; readonly options: WireAttentionOptions };
export type WireMhaArgs = readonly [
  query: Tensor<FloatArray>, key: Tensor<FloatArray>, value: Tensor<FloatArray>,
  weights: MultiHeadAttentionWeights<FloatArray>, options: WireMhaOptions,
];

/** What every host method answers with: its outcome, packed. */
export type Answer<T> = Promise<Packed<Outcome<T>>>;

/** The host worker's surface, as comlink exposes it. */
export interface EngineHostApi {
  open(options: ResolvedPoolOptions): Answer<EngineInfo>;
  attention(callId: number, args: Packed<WireAttentionArgs>): Answer<Tensor<FloatArray>>;
  attentionOverCache(callId: number, args: Packed<WireCachedAttentionArgs>): Answer<Tensor<FloatArray>>;
  attentionBatch(callId: number, requests: Packed<readonly WireBatchRequest[]>): Answer<Tensor<FloatArray>[]>;
  multiHeadAttention(callId: number, args: Packed<WireMhaArgs>): Answer<MultiHeadAttentionResult<FloatArray>>;
  /** Aborts call `callId` if it is still running; a late or unknown id is ignored. */
  abort(callId: number): void;
  close(): Answer<void>;
}

export function toWireError(err: unknown): WireError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const cause = err.cause instanceof Error ? err.cause.message : err.cause === undefined ? undefined : String(err.cause);
  return { name: err.name, message: err.message, ...(cause !== undefined && { cause }) };
}

/** The classes an attnpool call can reject with, by name. */
const ERROR_CLASSES: Record<string, new (...args: never[]) => Error> = {
  TypeError, RangeError, AbortError, PoolClosedError, QueueFullError, WorkerFailedError,
};

/** Rebuilds an error on this thread: same class, name and message (the stack is this thread's). */
export function fromWireError(wire: WireError): Error {
  const Class = ERROR_CLASSES[wire.name] ?? Error;
  // Error's own constructor with the subclass as new.target: the right prototype and message
  // without re-running the subclass constructor, which would compose a new message.
  const err: Error = Reflect.construct(Error, wire.cause === undefined ? [wire.message] : [wire.message, { cause: new Error(wire.cause) }], Class);
  // attnpool's classes declare `name` as an own field, which Reflect.construct does not initialise.
  if (err.name !== wire.name) Object.defineProperty(err, 'name', { value: wire.name, writable: true, enumerable: true, configurable: true });
  return err;
}

export function unwrap<T>(answer: Packed<Outcome<T>>): T {
  const outcome = unpackViews(answer);
  if (outcome.ok) return outcome.value;
  throw fromWireError(outcome.error);
}
