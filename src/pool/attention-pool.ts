// AttentionPool: the public entry point. It validates each call before any work starts, admits it
// through the CallGate, and runs its phases through the Dispatcher on a piscina pool whose workers
// share every tensor through SharedArrayBuffers.

import { Piscina } from 'piscina';
import { availableParallelism } from 'node:os';
import { setImmediate as nextMacrotask, setTimeout as nextTimerTurn } from 'node:timers/promises';
import { AbortError, PoolClosedError } from '../errors.js';
import type { KernelName } from '../../workers/kernels/jobs.js';
import { kernelsFrom } from '../../workers/kernels/select.js';
import type { WasmVariant } from '../../workers/kernels/wasm/index.js';
import type { ServeTask } from '../../workers/board/phase.js';
import type { WorkerSetup } from '../../workers/task.js';
import { DTYPES, dtypeOf } from '../../workers/dtypes.js';
import { runAttention } from '../ops/attention-op.js';
import { runMha, type MultiHeadAttentionResult } from '../ops/mha-op.js';
import { runRotary } from '../ops/rotary-op.js';
import { KvCache } from '../kv-cache.js';
import { PagedKvCache, PagedSequence, createPagedKvCache, type PagedKvCacheOptions } from '../paged/index.js';
import type { FloatArray, Tensor } from '../tensor.js';
import type { AttentionArgs, AttentionOptions } from '../validate/attention-args.js';
import type { KvCacheDType, KvCacheOptions } from '../validate/kv-cache-args.js';
import type { MultiHeadAttentionOptions, MultiHeadAttentionWeights } from '../validate/mha-args.js';
import type { RotaryOptions } from '../validate/rotary-args.js';
import { readBatchRequests, type AttentionRequest, type BatchOptions } from '../validate/batch-args.js';
import { Board } from './board.js';
import { BufferRegistry } from './buffer-registry.js';
import { CallAdmission, type Admitted, type Placement } from './call-admission.js';
import { CallContext } from './call-context.js';
import { CallGate } from './call-gate.js';
import { Dispatcher } from './dispatch.js';
import { resolvePoolOptions, type AttentionPoolOptions } from './pool-options.js';
import { poolHooksOf } from './pool-hooks.js';
import { forgetDropped, releaseWhenDropped } from './release-when-dropped.js';
import { poolWasmKernels } from './wasm-build.js';
import { holdAll, holdKv, isHeldKvSource, type HeldKv } from './held-kv.js';
import { ResultStock } from './result-stock.js';
import { CallScratch, ScratchPool } from './scratch-pool.js';
import { closeBoard, ServeTasks } from './serve-tasks.js';
import type { AttentionRun } from '../ops/attention-phases.js';
import { resolveSplitKvSetting } from '../plan/split-kv-setting.js';

/** A call's release when it holds nothing. */
const nothing = (): void => {};

/** Calls that run at once per thread; more wait in the gate's FIFO queue (see call-gate.ts). */
const RUNNING_CALLS_PER_THREAD = 2;

const WORKER_URL = new URL('../../workers/worker.js', import.meta.url).href;

/** Threads started with the pool; the rest start when a phase first has tiles for them (piscina
 *  spawns a thread for a task that finds none idle, up to `threads`) and then stay. An idle worker
 *  costs 7–16 MiB of RSS and 30–100 ms of a core to start (Node 20 and 24, 2 cores): `threads: 256`
 *  started eagerly took 32 s and 1.3 GiB before the first call. Up to the core count, threads start
 *  at once as before, so the first call of a normal pool does not wait for them. */
function eagerThreads(threads: number): number {
  return Math.min(threads, availableParallelism());
}

/** What ends a dropped pool's threads; module-level so that it cannot capture the pool. */
function destroyer(piscina: Piscina<ServeTask, void>, board: Int32Array): () => void {
  return () => {
    closeBoard(board);
    void piscina.destroy().catch(() => {});
  };
}

/** Every promise's value; once all have settled, the first failure. Not Promise.all: a batch's call
 *  must not end — and give back its scratch — while some of its requests still have tiles running. */
async function everyOne<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((result) => (result as PromiseFulfilledResult<T>).value);
}

export class AttentionPool {
  /** The resolved thread count. */
  readonly threads: number;
  /** The kernel float32 calls run on ('auto' resolved); float64 calls always use the js kernel. */
  readonly kernel: KernelName;
  /** Which build of the wasm kernel runs, in every thread of the pool ('relaxed-simd': fused
   *  multiply-add; see options.wasmBuild); null when the pool runs the js kernel. */
  readonly wasmVariant: WasmVariant | null;
  readonly #piscina: Piscina<ServeTask, void>;
  readonly #gate: CallGate;
  readonly #serveTasks: ServeTasks;
  readonly #dispatcher: Dispatcher;
  readonly #scratch = new ScratchPool();
  readonly #results = new ResultStock();
  readonly #running = new Set<CallContext>();
  readonly #admission: CallAdmission;
  /** The paged stores this pool made: calls over their sequences are the only paged calls it takes. */
  readonly #stores = new WeakSet<PagedKvCache>();
  #closing: Promise<void> | undefined;

  constructor(options?: AttentionPoolOptions) {
    const resolved = resolvePoolOptions(options);
    const { threads, maxQueue, maxCallBytes } = resolved;
    const wasmKernels = poolWasmKernels(resolved);
    const wasmModule = wasmKernels?.module ?? null;
    const sharedWasmModule = wasmKernels?.sharedModule ?? null;
    this.threads = threads;
    this.kernel = wasmKernels ? 'wasm' : 'js';
    this.wasmVariant = wasmKernels?.variant ?? null;
    const workerData: WorkerSetup = { wasmModule, sharedWasmModule };
    const hooks = poolHooksOf(options); // tests and benchmarks only (see pool-hooks.ts)
    // Before any thread starts: an unknown ATTNPOOL_SPLIT_KV throws here, like a bad option.
    this.#admission = new CallAdmission(maxCallBytes, resolveSplitKvSetting(hooks?.splitKv), this.#scratch);
    this.#piscina = new Piscina<ServeTask, void>({
      filename: WORKER_URL, minThreads: eagerThreads(threads), maxThreads: threads, idleTimeout: Infinity, workerData,
      // 'async': between tasks a worker returns to its event loop. Each thread runs one long serve task
      // (workers/board/serve.ts), which itself returns to the event loop every 50 ms so that V8 ends its
      // job and lets go of what the last phases' WeakRefs held (the wasm kernel's last job); piscina's
      // default 'sync' mode would then block the thread in Atomics.wait between serve tasks (after a
      // park or a tile that threw) without ever ending its job. No per-phase cost either way: phases
      // reach the threads through the board, not through piscina.
      atomics: 'async',
      // piscina loads the worker file with require() first and falls back to import(). On Node 20.19+
      // require() of an ES module is on by default, and under load it aborted the whole process with
      // "v8::Module::IsGraphAsync must be used on an instantiated module" (seen once in the CLI suite).
      // With require(esm) off in the workers, require() fails cleanly and piscina imports the file.
      // Not appended to process.execArgv: V8 flags in it (e.g. Node 20's --experimental-wasm-relaxed-simd)
      // are process-wide and Worker rejects them as execArgv.
      execArgv: ['--no-experimental-require-module'],
      ...hooks?.piscinaOptions?.(workerData),
    });
    hooks?.attach?.(this.#piscina);
    // A worker that dies outside a task is replaced by piscina; its error must not crash the process.
    this.#piscina.on('error', () => {});
    const running = Math.max(2, RUNNING_CALLS_PER_THREAD * threads);
    this.#gate = new CallGate(running, maxQueue);
    const registry = new BufferRegistry();
    // A call's phases run one after another, so `running` slots are open at most; as many again let
    // new phases open while threads leave the last ones.
    const board = new Board({ threads, slots: 2 * running }, registry, this.#scratch);
    hooks?.attachBoard?.(board.ints, board.shape);
    this.#serveTasks = new ServeTasks(this.#piscina, board, registry, this.#scratch, this.#results);
    this.#dispatcher = new Dispatcher(board, this.#serveTasks, kernelsFrom(wasmModule, sharedWasmModule), hooks?.onPhase?.bind(hooks));
    releaseWhenDropped(this, destroyer(this.#piscina, board.ints));
  }

  /** Scaled dot-product attention over pre-split heads: q [B, H, Sq, D], k [B, Hkv, Sk, D],
   *  v [B, Hkv, Sk, Dv] → [B, H, Sq, Dv]. Invalid input rejects before any work starts. */
  attention<A extends FloatArray = Float32Array>(q: Tensor<A>, k: Tensor<A>, v: Tensor<A>, options?: AttentionOptions<A>): Promise<Tensor<A>>;
  /** The same over a KvCache, which stands in for k and v: the call reads the cache's positions
   *  [0, cache.length) as of the call (Sk = cache.length; `causal` is aligned to its end). */
  attention<A extends FloatArray = Float32Array>(q: Tensor<A>, cache: KvCache<A>, options?: AttentionOptions<A>): Promise<Tensor<A>>;
  /** The same over a sequence of a paged store this pool made (createPagedKvCache): q [1, H, Sq, D]
   *  float32, the sequence standing in for k and v as a KvCache does — positions [0, sequence.length)
   *  as of the call, read where they lie in the store's pages. */
  attention(q: Tensor<Float32Array>, sequence: PagedSequence, options?: AttentionOptions<Float32Array>): Promise<Tensor<Float32Array>>;
  attention(q: Tensor<FloatArray>, kOrCache: Tensor<FloatArray> | KvCache<FloatArray> | PagedSequence,
    vOrOptions?: Tensor<FloatArray> | AttentionOptions<FloatArray>, options?: AttentionOptions<FloatArray>): Promise<Tensor<FloatArray>> {
    // Synchronously with the call: the arguments are read and checked, the memory bound applied, and
    // non-shared inputs copied before the promise returns. Not an async function (a promise returned
    // from one costs the caller promise hops), so what an async function would reject with is caught.
    try {
      if (isHeldKvSource(kOrCache)) return this.#attentionOverHeld(q, holdKv(kOrCache, this.#stores, 'attention'), vOrOptions, options);
      const admitted = this.#admission.attention(q, kOrCache, vOrOptions, options);
      const { args } = admitted;
      return this.#call('attention', args.signal, admitted, (ctx) => runAttention(args, this.#run(ctx, args.q.data)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Many independent attention calls as one: each request over its own q, k and v, or over a KvCache
   *  or a sequence of a paged store this pool made, with its own options (attention's, but for signal:
   *  the batch has one). Their tiles run as one phase, pulled from one counter, and outs[i] has exactly
   *  the bits of attention() for request i. Errors name the request; the batch is admitted, bounded
   *  (maxCallBytes) and aborted as one call. Caches and sequences are held (snapshots) synchronously
   *  with the call and all released when the batch settles, or at once when it is refused. */
  async attentionBatch<A extends FloatArray = Float32Array>(requests: readonly AttentionRequest<A>[], options?: BatchOptions): Promise<Tensor<A>[]> {
    const { requests: read, signal } = readBatchRequests(requests, options, isHeldKvSource);
    // As of the call, like attention(); the same sequence twice is held twice.
    const held = holdAll(read, (request, i) => request.kv && holdKv(request.kv, this.#stores, 'attentionBatch', `requests[${i}].kv`));
    const release = () => { for (const h of held) h?.release(); };
    let admitted: Admitted<readonly AttentionArgs[]>;
    try {
      admitted = this.#admission.attentionBatch(read, held);
    } catch (err) {
      release();
      throw err;
    }
    const outs = await this.#call('attentionBatch', signal, admitted, (ctx) =>
      everyOne(admitted.args.map((args, i) => runAttention(args, this.#run(ctx, args.q.data), held[i]?.job))), release);
    return outs as Tensor<A>[];
  }

  /** A KV cache for incremental decoding: keys [B, Hkv, capacity, D] and values [B, Hkv, capacity, Dv]
   *  in shared memory, for attention(q, cache, options). Options are checked as a call's are. */
  createKvCache<D extends KvCacheDType = 'float32'>(options: KvCacheOptions<D>): KvCache<D extends 'float64' ? Float64Array : Float32Array> {
    return new KvCache(options);
  }

  /** A paged K/V store for many sequences (src/paged/): pages of options.pageTokens positions in one
   *  shared memory, for attention(q, sequence, options) on this pool. Options are checked first. */
  createPagedKvCache(options: PagedKvCacheOptions): PagedKvCache {
    if (this.#closing) throw new PoolClosedError('createPagedKvCache');
    const store = createPagedKvCache(options);
    this.#stores.add(store);
    return store;
  }

  /** A call over a KvCache or a paged sequence, held (`held`) synchronously with the call: later
   *  appends are not read; released when the call settles or is refused. */
  #attentionOverHeld(q: unknown, held: HeldKv, options: unknown, extra: unknown): Promise<Tensor<FloatArray>> {
    let admitted: Admitted<AttentionArgs>;
    try {
      admitted = this.#admission.cachedAttention(held.layout, held.kv, q, options, extra, held.holder);
    } catch (err) {
      held.release();
      throw err;
    }
    const { args } = admitted;
    return this.#call('attention', args.signal, admitted, (ctx) => runAttention(args, this.#run(ctx, args.q.data), held.job), held.release);
  }

  /** The multi-head attention layer (torch.nn.MultiheadAttention, batch_first=True):
   *  query [B, Sq, E], key and value [B, Sk, E] → output [B, Sq, E]. With options.numKvHeads < numHeads
   *  it is grouped-query attention and inProjWeight is [E + 2·numKvHeads·(E / numHeads), E]. With
   *  options.batchFirst false, PyTorch's default layout: query [Sq, B, E], key and value [Sk, B, E] →
   *  output [Sq, B, E]. */
  async multiHeadAttention<A extends FloatArray = Float32Array>(
    query: Tensor<A>, key: Tensor<A>, value: Tensor<A>, weights: MultiHeadAttentionWeights<A>, options: MultiHeadAttentionOptions,
  ): Promise<MultiHeadAttentionResult<A>> {
    const admitted = this.#admission.multiHeadAttention(query, key, value, weights, options);
    const { args } = admitted;
    const result = await this.#call('multiHeadAttention', args.signal, admitted, (ctx) =>
      runMha(args, this.#run(ctx, args.query.data)));
    return result as MultiHeadAttentionResult<A>;
  }

  /** Rotary position embedding: x [B, H, S, D] → a new tensor (or options.out, which may be x itself),
   *  each pair of the first rotaryDim dimensions turned by position · base^(-2d / rotaryDim)
   *  (validate/rotary-args.ts). The same bits whatever the thread count and kernel. */
  async rotary<A extends FloatArray = Float32Array>(x: Tensor<A>, options?: RotaryOptions<A>): Promise<Tensor<A>> {
    const admitted = this.#admission.rotary(x, options);
    const { args } = admitted;
    const result = await this.#call('rotary', args.signal, admitted, (ctx) => runRotary(args, this.#run(ctx, args.x.data)));
    return result as Tensor<A>;
  }

  /** Rejects calls in flight and waiting, ends every thread; later calls reject with PoolClosedError. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      forgetDropped(this);
      this.#gate.close();
      for (const ctx of this.#running) ctx.stop(new PoolClosedError(ctx.op));
      this.#serveTasks.close();
      await this.#piscina.destroy();
      // destroy() resolves on the threads' 'exit' events, while their message ports are still being
      // closed (libuv closes handles at the end of the loop turn): a caller checking for leftover
      // handles right after close() saw them (process.getActiveResourcesInfo, once in a loaded CI
      // run). One timer turn later they are gone.
      await nextTimerTurn();
    })();
    return this.#closing;
  }

  /** The js kernel for element types the wasm kernel does not stage (workers/dtypes.ts). */
  #run(ctx: CallContext, data: FloatArray): AttentionRun {
    const kernel = DTYPES[dtypeOf(data)].wasmStaging === null ? 'js' : this.kernel;
    return { ctx, dispatcher: this.#dispatcher, threads: this.threads, kernel, splitKv: this.#admission.splitKv };
  }

  /** `release` (and the release of the call's input copies) runs once the call no longer touches its
   *  inputs: after its last task has returned (for an aborted call, after its promise has already
   *  rejected), or when it is refused before starting. Not an async function, and the gate awaited only
   *  when the call must queue: a call admitted at once starts in the caller's turn — its phase is
   *  submitted before pool.attention returns — without the promise hops of an `await` and of a promise
   *  returned from an async function. */
  #call<T>(op: string, signal: AbortSignal | undefined, admitted: Placement & Pick<Admitted<unknown>, 'copies'>,
    body: (ctx: CallContext) => Promise<T>, release: () => void = nothing): Promise<T> {
    const done = () => {
      admitted.copies?.release();
      release();
    };
    let queued: Promise<void> | undefined;
    try {
      if (this.#closing) throw new PoolClosedError(op);
      queued = this.#gate.enter(op, signal);
    } catch (err) {
      done();
      return Promise.reject(err);
    }
    if (!queued) return this.#start(op, signal, admitted, body, done);
    return queued.then(() => {
      if (this.#closing) { // closed while this call waited: its threads are gone
        this.#gate.release();
        done();
        throw new PoolClosedError(op);
      }
      return this.#start(op, signal, admitted, body, done);
    }, (err: unknown) => {
      done();
      throw err;
    });
  }

  /** Runs an admitted call; `done` once it no longer touches its inputs. */
  #start<T>(op: string, signal: AbortSignal | undefined, placement: Placement, body: (ctx: CallContext) => Promise<T>,
    done: () => void): Promise<T> {
    const ctx = new CallContext(op, placement, placement.inline ? undefined : new CallScratch(this.#scratch, this.#results));
    const onAbort = () => ctx.stop(new AbortError(op));
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#running.add(ctx);
    // The gate slot is released only once every task of the call has returned, so an aborted call
    // still counts against the bound while its last tiles drain.
    // try/finally rather than .finally(): the same order, one promise and two closures fewer per call
    // (~150 ns in a micro-benchmark).
    const work = (async () => {
      try {
        // A small call runs on this thread and chains through promises only: without one macrotask hop,
        // a caller issuing such calls in a loop never lets timers and I/O run (measured: 8 concurrent
        // loops of tiny calls held the event loop for a whole 2 s run). Once per call, not per phase.
        if (ctx.inline) await nextMacrotask();
        if (signal?.aborted) ctx.stop(new AbortError(op));
        ctx.throwIfStopped();
        return await body(ctx);
      } finally {
        signal?.removeEventListener('abort', onAbort);
        this.#running.delete(ctx);
        if (this.#running.size === 0) this.#serveTasks.idle();
        ctx.scratch?.release(); // no thread works for the call any more (board.ts)
        this.#gate.release();
        done();
      }
    })();
    return new Promise<T>((resolve, reject) => {
      ctx.onStop(reject); // abort, close or worker failure rejects at once
      work.then(resolve, reject);
    });
  }
}
