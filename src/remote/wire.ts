// What crosses between the remote engine (main thread) and its host worker (engine-host.ts).
//
// Tensors cross as plain { data, shape } objects whose data is a typed array over a SharedArrayBuffer:
// structured cloning shares such memory instead of copying it, so inputs and results are zero-copy.
// Every host method resolves to an Outcome rather than throwing: comlink would turn a thrown TypeError
// into a plain Error, and the caller is promised the documented error classes (TypeError, RangeError,
// AbortError, ...), so errors travel as { name, message } and are rebuilt on the main thread.

import { AbortError, PoolClosedError, QueueFullError, WorkerFailedError } from '../errors.js';
import type { KernelName } from '../../workers/kernels/jobs.js';
import type { WasmVariant } from '../../workers/kernels/wasm/index.js';
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

/** The host worker's surface, as comlink exposes it. */
export interface EngineHostApi {
  open(options: ResolvedPoolOptions): Promise<Outcome<EngineInfo>>;
  attention(callId: number, q: Tensor<FloatArray>, k: Tensor<FloatArray>, v: Tensor<FloatArray>, options: WireAttentionOptions): Promise<Outcome<Tensor<FloatArray>>>;
  /** attention(q, cache, options): the cache's buffers cross shared, with the length of the call's snapshot. */
  attentionOverCache(callId: number, q: Tensor<FloatArray>, cache: KvCacheContents, options: WireAttentionOptions): Promise<Outcome<Tensor<FloatArray>>>;
  multiHeadAttention(
    callId: number, query: Tensor<FloatArray>, key: Tensor<FloatArray>, value: Tensor<FloatArray>,
    weights: MultiHeadAttentionWeights<FloatArray>, options: WireMhaOptions,
  ): Promise<Outcome<MultiHeadAttentionResult<FloatArray>>>;
  /** Aborts call `callId` if it is still running; a late or unknown id is ignored. */
  abort(callId: number): void;
  close(): Promise<Outcome<void>>;
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

export function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  throw fromWireError(outcome.error);
}
