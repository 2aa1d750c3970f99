// createRemoteEngine: the AttentionPool's surface, with the coordinator and its pool in a dedicated
// worker thread (engine-host.ts) so a server's event loop never runs coordination work. The main
// thread only reads and validates the arguments (cheap, and it keeps the pool's exact errors and
// messages), applies the memory bound, copies inputs that are not shared into shared memory, and
// posts one message per call built from what it validated — never from the caller's objects again.
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
import { resolveSplitKvSetting } from '../plan/split-kv-setting.js';
import { CallAdmission } from '../pool/call-admission.js';
import { resolvePoolOptions, type AttentionPoolOptions } from '../pool/pool-options.js';
import { forgetDropped, releaseWhenDropped } from '../pool/release-when-dropped.js';
import type { FloatArray, Tensor } from '../tensor.js';
import type { AttentionArgs, AttentionOptions } from '../validate/attention-args.js';
import { variantOptions } from '../validate/variant-args.js';
import type { KvCacheDType, KvCacheOptions } from '../validate/kv-cache-args.js';
import type { MultiHeadAttentionOptions, MultiHeadAttentionWeights } from '../validate/mha-args.js';
import { holdAll, holdCache, isHeldKvSource } from '../pool/held-kv.js';
import { readBatchRequests, type AttentionRequest, type BatchOptions, type HeldKvSource } from '../validate/batch-args.js';
import { HostLink } from './host-link.js';
import { packViews } from '../../workers/packed-views.js';
import type { Answer, EngineHostApi, EngineInfo, WireAttentionOptions, WireBatchRequest } from './wire.js';

interface InFlight {
  readonly op: string;
  readonly reject: (err: Error) => void;
}

/** Starts the host thread and its pool; resolves once the pool is ready. Options as AttentionPool's,
 *  wasmBuild included (the host thread is in this process, so it accepts the same builds). */
export async function createRemoteEngine(options?: AttentionPoolOptions): Promise<RemoteEngine> {
  const resolved = resolvePoolOptions(options); // bad options throw here, before a thread starts
  // The host's pool reads the same environment (a worker starts with a copy of it), so the bound
  // applied here counts the split-KV partial states that pool will allocate.
  const admission = new CallAdmission(resolved.maxCallBytes, resolveSplitKvSetting(undefined));
  const link = new HostLink();
  try {
    return new RemoteEngine(link, await link.request((host) => host.open(resolved)), admission);
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
  readonly #admission: CallAdmission;
  readonly #inFlight = new Set<InFlight>();
  #nextCallId = 1;
  #closing: Promise<void> | undefined;

  /** Use createRemoteEngine(). */
  constructor(link: HostLink, info: EngineInfo, admission: CallAdmission) {
    this.#link = link;
    this.#admission = admission;
    this.threads = info.threads;
    this.kernel = info.kernel;
    this.wasmVariant = info.wasmVariant;
    releaseWhenDropped(this, terminator(link));
  }

  /** As AttentionPool.attention. `out` and `lse`, when given, are written in place and `out` is returned. */
  attention<A extends FloatArray = Float32Array>(q: Tensor<A>, k: Tensor<A>, v: Tensor<A>, options?: AttentionOptions<A>): Promise<Tensor<A>>;
  /** As AttentionPool.attention over a KvCache (from createKvCache() here or on any pool): the host
   *  reads the cache's shared buffers in place, positions [0, cache.length) as of the call. */
  attention<A extends FloatArray = Float32Array>(q: Tensor<A>, cache: KvCache<A>, options?: AttentionOptions<A>): Promise<Tensor<A>>;
  async attention(q: Tensor<FloatArray>, kOrCache: Tensor<FloatArray> | KvCache<FloatArray>,
    vOrOptions?: Tensor<FloatArray> | AttentionOptions<FloatArray>, options?: AttentionOptions<FloatArray>): Promise<Tensor<FloatArray>> {
    if (kOrCache instanceof KvCache) return this.#attentionOverCache(q, kOrCache, vOrOptions, options);
    const { args } = this.#admission.attention(q, kOrCache, vOrOptions, options);
    return this.#sendAttention(args, (host, id, wireOptions) => host.attention(id, packViews([args.q, args.k, args.v, wireOptions] as const)));
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
    let args: AttentionArgs;
    try {
      ({ args } = this.#admission.cachedAttention(cache, snapshot, q, optionsIn, extra));
    } catch (err) {
      snapshot.release();
      throw err;
    }
    const contents = kvCacheContents(cache, snapshot);
    return this.#sendAttention(args, (host, id, wireOptions) => host.attentionOverCache(id, packViews([args.q, contents, wireOptions] as const)))
      .finally(snapshot.release);
  }

  /** Sends one validated attention call: its (shared) tensors cross as they are; out and lse are
   *  written where the caller gave them. */
  async #sendAttention(args: AttentionArgs,
    send: (host: Remote<EngineHostApi>, callId: number, options: WireAttentionOptions) => Answer<Tensor<FloatArray>>,
  ): Promise<Tensor<FloatArray>> {
    const call = wireCall(args);
    return call.finish(await this.#call('attention', args.signal, (host, id) => send(host, id, call.options)));
  }

  /** As AttentionPool.attentionBatch, over plain tensors and KvCaches (from createKvCache() here or on
   *  any pool): every request is read, held and checked here, as the pool does, and the batch crosses
   *  as one message; the host runs it as one pool.attentionBatch, so outs[i] has the bits of
   *  attention() for request i. A paged store's sequence belongs to the pool that made it: refused. */
  async attentionBatch<A extends FloatArray = Float32Array>(requests: readonly AttentionRequest<A>[], options?: BatchOptions): Promise<Tensor<A>[]> {
    const { requests: read, signal } = readBatchRequests(requests, options, isHeldKvSource);
    const held = holdAll(read, (request, i) => request.kv && holdCache(cacheOf(request.kv, i)));
    try {
      const { args } = this.#admission.attentionBatch(read, held);
      const calls = args.map(wireCall);
      const wire = args.map((a, i): WireBatchRequest => {
        const cache = held[i];
        const options = calls[i]!.options;
        return cache ? { q: a.q, cache: kvCacheContents(cache.cache, cache.snapshot), options } : { q: a.q, k: a.k, v: a.v, options };
      });
      const outs = await this.#call('attentionBatch', signal, (host, id) => host.attentionBatch(id, packViews(wire)));
      return outs.map((out, i) => calls[i]!.finish(out)) as Tensor<A>[];
    } finally {
      for (const h of held) h?.release();
    }
  }

  /** As AttentionPool.multiHeadAttention. */
  async multiHeadAttention<A extends FloatArray = Float32Array>(
    query: Tensor<A>, key: Tensor<A>, value: Tensor<A>, weights: MultiHeadAttentionWeights<A>, options: MultiHeadAttentionOptions,
  ): Promise<MultiHeadAttentionResult<A>> {
    const { args } = this.#admission.multiHeadAttention(query, key, value, weights, options);
    const { B, Sk, E } = args;
    const vector = (data: FloatArray | undefined) => data && { data, shape: [data.length] };
    const wireWeights = {
      inProjWeight: { data: args.inProjWeight, shape: [args.inProjWeight.length / E, E] }, inProjBias: vector(args.inProjBias),
      outProjWeight: { data: args.outProjWeight, shape: [E, E] }, outProjBias: vector(args.outProjBias),
    };
    const wireOptions = {
      numHeads: args.numHeads, numKvHeads: args.numKvHeads, ...variantOptions(args), needWeights: args.needWeights, batchFirst: args.batchFirst,
      keyPaddingMask: args.keyPaddingMask && { data: args.keyPaddingMask, shape: [B, Sk] },
    };
    const result = await this.#call('multiHeadAttention', args.signal, (host, id) =>
      host.multiHeadAttention(id, packViews([args.query, args.key, args.value, wireWeights, wireOptions] as const)));
    return result as MultiHeadAttentionResult<A>;
  }

  /** Rejects calls in flight at once, closes the hosted pool and ends the host thread; later calls
   *  reject with PoolClosedError. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      forgetDropped(this);
      for (const call of this.#inFlight) call.reject(new PoolClosedError(call.op));
      try {
        if (!this.#link.ended) await this.#link.request((host) => host.close());
      } finally {
        await this.#link.terminate(new PoolClosedError('close'));
      }
    })();
    return this.#closing;
  }

  #call<T>(op: string, signal: AbortSignal | undefined, send: (host: Remote<EngineHostApi>, callId: number) => Answer<T>): Promise<T> {
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

/** What ends a dropped engine's host thread (and with it its pool's threads); module-level so that it
 *  cannot capture the engine. */
function terminator(link: HostLink): () => void {
  return () => void link.terminate(new PoolClosedError('remote engine'));
}

/** A validated call's options as they cross, and what turns the host's answer into the caller's result:
 *  out and lse written where the caller gave them (copied back from shared staging when theirs is not
 *  shared), and the caller's own out object returned. */
function wireCall(args: AttentionArgs): { readonly options: WireAttentionOptions; finish(result: Tensor<FloatArray>): Tensor<FloatArray> } {
  const outBuffer = args.out && resultBuffer(args.out);
  const lseBuffer = args.lse && resultBuffer(args.lse);
  const options: WireAttentionOptions = {
    ...variantOptions(args), window: args.window, scale: args.scale, mask: args.mask, bias: args.bias,
    out: outBuffer && args.out && { data: outBuffer.data, shape: args.out.shape },
    lse: lseBuffer && args.lse && { data: lseBuffer.data, shape: args.lse.shape },
  };
  return {
    options,
    finish(result) {
      lseBuffer?.finish();
      outBuffer?.finish();
      return args.outGiven ?? result;
    },
  };
}

/** A batch request's kv: a KvCache crosses to the host as its shared buffers; a paged sequence cannot. */
function cacheOf(kv: HeldKvSource, index: number): KvCache<FloatArray> {
  if (kv instanceof KvCache) return kv;
  throw new TypeError(`attentionBatch: requests[${index}].kv must be a KvCache on a remote engine, got a sequence of a paged store: ` +
    'a store belongs to the pool that made it (pool.createPagedKvCache), which runs its calls');
}

/** Where the host writes a result the caller provided: the caller's own shared memory, or a shared
 *  buffer copied back into the caller's tensor once the call is done. */
function resultBuffer(given: Tensor<FloatArray>): OutputBuffer {
  return outputBuffer(given, given.data, given.shape, given.data.length);
}
