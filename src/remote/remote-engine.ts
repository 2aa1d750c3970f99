// createRemoteEngine: the AttentionPool's surface, with the coordinator and its pool in a dedicated
// worker thread (engine-host.ts) so a server's event loop never runs coordination work. The main
// thread only validates the arguments (cheap, and it keeps the pool's exact errors and messages),
// copies inputs that are not shared into shared memory, and posts one message per call.
//
// Aborts: an AbortSignal cannot cross threads, so each call carries an id, and an abort rejects the
// caller at once and sends abort(id) to the host, which aborts that call's pool signal.

import type { Remote } from 'comlink';
import { AbortError, PoolClosedError } from '../errors.js';
import type { KernelName } from '../../workers/kernels/jobs.js';
import type { WasmVariant } from '../../workers/kernels/wasm/index.js';
import { KvCache, kvCacheContents, snapshotKvCache } from '../kv-cache.js';
import type { MultiHeadAttentionResult } from '../ops/mha-op.js';
import { outputBuffer, type OutputBuffer } from '../ops/views.js';
import { resolvePoolOptions, type AttentionPoolOptions } from '../pool/pool-options.js';
import type { FloatArray, Tensor } from '../tensor.js';
import { validateAttentionArgs, type AttentionOptions } from '../validate/attention-args.js';
import { validateCachedAttentionArgs, type KvCacheDType, type KvCacheOptions } from '../validate/kv-cache-args.js';
import { validateMhaArgs, type MultiHeadAttentionOptions, type MultiHeadAttentionWeights } from '../validate/mha-args.js';
import { HostLink } from './host-link.js';
import type { EngineHostApi, EngineInfo, Outcome, WireAttentionOptions } from './wire.js';
import { WireTensors } from './wire-args.js';

interface InFlight {
  readonly op: string;
  readonly reject: (err: Error) => void;
}

/** Starts the host thread and its pool; resolves once the pool is ready. Options as AttentionPool's,
 *  wasmBuild included (the host thread is in this process, so it accepts the same builds). */
export async function createRemoteEngine(options?: AttentionPoolOptions): Promise<RemoteEngine> {
  const resolved = resolvePoolOptions(options); // bad options throw here, before a thread starts
  const link = new HostLink();
  try {
    return new RemoteEngine(link, await link.request((host) => host.open(resolved)));
  } catch (err) {
    await link.terminate(new PoolClosedError('createRemoteEngine'));
    throw err;
  }
}

export class RemoteEngine {
  /** The resolved thread count of the hosted pool. */
  readonly threads: number;
  /** The kernel float32 calls run on. */
  readonly kernel: KernelName;
  /** The wasm build the hosted pool runs (as AttentionPool.wasmVariant). */
  readonly wasmVariant: WasmVariant | null;
  readonly #link: HostLink;
  readonly #inFlight = new Set<InFlight>();
  #nextCallId = 1;
  #closing: Promise<void> | undefined;

  /** Use createRemoteEngine(). */
  constructor(link: HostLink, info: EngineInfo) {
    this.#link = link;
    this.threads = info.threads;
    this.kernel = info.kernel;
    this.wasmVariant = info.wasmVariant;
  }

  /** As AttentionPool.attention. `out` and `lse`, when given, are written in place and `out` is returned. */
  attention<A extends FloatArray = Float32Array>(q: Tensor<A>, k: Tensor<A>, v: Tensor<A>, options?: AttentionOptions<A>): Promise<Tensor<A>>;
  /** As AttentionPool.attention over a KvCache (from createKvCache() here or on any pool): the host
   *  reads the cache's shared buffers in place, positions [0, cache.length) as of the call. */
  attention<A extends FloatArray = Float32Array>(q: Tensor<A>, cache: KvCache<A>, options?: AttentionOptions<A>): Promise<Tensor<A>>;
  async attention(q: Tensor<FloatArray>, kOrCache: Tensor<FloatArray> | KvCache<FloatArray>,
    vOrOptions?: Tensor<FloatArray> | AttentionOptions<FloatArray>, options?: AttentionOptions<FloatArray>): Promise<Tensor<FloatArray>> {
    if (kOrCache instanceof KvCache) return this.#attentionOverCache(q, kOrCache, vOrOptions, options);
    const { k, v } = validateAttentionArgs(q, kOrCache, vOrOptions, options);
    const wire = new WireTensors();
    const [wk, wv] = [wire.tensor(k), wire.tensor(v)];
    return this.#sendAttention(wire, q, options, (host, id, wq, wireOptions) => host.attention(id, wq, wk, wv, wireOptions));
  }

  /** As AttentionPool.createKvCache. */
  createKvCache<D extends KvCacheDType = 'float32'>(options: KvCacheOptions<D>): KvCache<D extends 'float64' ? Float64Array : Float32Array> {
    return new KvCache(options);
  }

  /** The snapshot is released when the host has answered. For an aborted call the host answers at
   *  once while its last tiles may still read the buffers; a reset() then may reuse them, which can
   *  only change that aborted call's (discarded) result. */
  #attentionOverCache(q: Tensor<FloatArray>, cache: KvCache<FloatArray>, optionsIn: unknown, extra: unknown): Promise<Tensor<FloatArray>> {
    const snapshot = snapshotKvCache(cache);
    try {
      validateCachedAttentionArgs(cache, snapshot.keys, snapshot.values, snapshot.length, q, optionsIn, extra);
    } catch (err) {
      snapshot.release();
      throw err;
    }
    const contents = kvCacheContents(cache, snapshot);
    return this.#sendAttention(new WireTensors(), q, optionsIn as AttentionOptions<FloatArray> | undefined,
      (host, id, wq, wireOptions) => host.attentionOverCache(id, wq, contents, wireOptions)).finally(snapshot.release);
  }

  /** Sends one validated attention call: q and the options' tensors cross shared; out and lse are
   *  written where the caller gave them. */
  async #sendAttention(wire: WireTensors, q: Tensor<FloatArray>, options: AttentionOptions<FloatArray> | undefined,
    send: (host: Remote<EngineHostApi>, callId: number, q: Tensor<FloatArray>, options: WireAttentionOptions) => Promise<Outcome<Tensor<FloatArray>>>,
  ): Promise<Tensor<FloatArray>> {
    const { signal, out, lse, mask, bias, ...plain } = options ?? {};
    const outBuffer = out && resultBuffer(out);
    const lseBuffer = lse && resultBuffer(lse);
    const wireOptions = {
      ...plain, mask: wire.tensor(mask), bias: wire.tensor(bias),
      out: outBuffer && { data: outBuffer.data, shape: [...out.shape] },
      lse: lseBuffer && { data: lseBuffer.data, shape: [...lse.shape] },
    };
    const wq = wire.tensor(q);
    const result = await this.#call('attention', signal, (host, id) => send(host, id, wq, wireOptions));
    lseBuffer?.finish();
    return outBuffer ? outBuffer.finish() : result;
  }

  /** As AttentionPool.multiHeadAttention. */
  async multiHeadAttention<A extends FloatArray = Float32Array>(
    query: Tensor<A>, key: Tensor<A>, value: Tensor<A>, weights: MultiHeadAttentionWeights<A>, options: MultiHeadAttentionOptions,
  ): Promise<MultiHeadAttentionResult<A>> {
    validateMhaArgs(query, key, value, weights, options);
    const { signal, keyPaddingMask, ...plain } = options;
    const wire = new WireTensors();
    const wireWeights = {
      inProjWeight: wire.tensor(weights.inProjWeight), inProjBias: wire.tensor(weights.inProjBias),
      outProjWeight: wire.tensor(weights.outProjWeight), outProjBias: wire.tensor(weights.outProjBias),
    };
    const wireOptions = { ...plain, keyPaddingMask: wire.tensor(keyPaddingMask) };
    const [wquery, wkey, wvalue] = [wire.tensor(query), wire.tensor(key), wire.tensor(value)];
    const result = await this.#call('multiHeadAttention', signal, (host, id) =>
      host.multiHeadAttention(id, wquery, wkey, wvalue, wireWeights, wireOptions));
    return result as MultiHeadAttentionResult<A>;
  }

  /** Rejects calls in flight at once, closes the hosted pool and ends the host thread; later calls
   *  reject with PoolClosedError. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const call of this.#inFlight) call.reject(new PoolClosedError(call.op));
      try {
        if (!this.#link.ended) await this.#link.request((host) => host.close());
      } finally {
        await this.#link.terminate(new PoolClosedError('close'));
      }
    })();
    return this.#closing;
  }

  #call<T>(op: string, signal: AbortSignal | undefined, send: (host: Remote<EngineHostApi>, callId: number) => Promise<Outcome<T>>): Promise<T> {
    if (this.#closing) return Promise.reject(new PoolClosedError(op));
    if (signal?.aborted) return Promise.reject(new AbortError(op));
    const callId = this.#nextCallId++;
    return new Promise<T>((resolve, reject) => {
      const call: InFlight = { op, reject };
      const onAbort = () => {
        reject(new AbortError(op));
        this.#link.notify((host) => host.abort(callId));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#inFlight.add(call);
      this.#link.request((host) => send(host, callId)).then(resolve, reject).finally(() => {
        signal?.removeEventListener('abort', onAbort);
        this.#inFlight.delete(call);
      });
    });
  }
}

/** Where the host writes a result the caller provided: the caller's own shared memory, or a shared
 *  buffer copied back into the caller's tensor once the call is done. */
function resultBuffer(given: Tensor<FloatArray>): OutputBuffer {
  return outputBuffer(given, given.data, given.shape, given.data.length);
}
