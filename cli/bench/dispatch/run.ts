// The dispatch benchmark from settings to results: the kernel time of each shape on a 1-thread pool,
// then, at each thread count, the latency of each shape's calls one after another and the calls per
// second of many callers mixing all the shapes. Shared by `attnpool bench --mode dispatch` and
// bench/dispatch.bench.ts.

import type { AttentionPool } from '../../../src/index.js';
import { withPool, type KernelArgs } from '../../pool-options.js';
import { measureKernelTime, measureLatency, measureThroughput, type KernelTime, type LatencyResult, type ThroughputResult } from './measure.js';
import { dispatchFlops, prepareCall, runsOnWorkers, type DispatchShape } from './shapes.js';
import { THREAD_CPU_NOTE } from './thread-cpu.js';
import { measureBatching, type BatchingResult } from './batching.js';

/** The batch sizes of the kernel-time slope. One copy more, not several: for the default shapes a
 *  second copy changes neither the plan (a decode step over 4,096 keys splits them in 4 at B·H = 8 and at
 *  16; S=64 never splits) nor whether a thread keeps the cache's packed K/V between calls (64 MiB a
 *  thread: 2 × 16 MiB fit, 8 copies would not), so the difference is the same call's kernel time. */
export const KERNEL_COPIES = [1, 2] as const;

export interface DispatchSettings {
  readonly threads: readonly number[];
  readonly shapes: readonly DispatchShape[];
  readonly warmup: number;
  readonly repeat: number;
  /** Callers with a call in flight each, in the throughput run. */
  readonly callers: number;
  readonly mixDurationMs: number;
  /** Sequences stepped together in the batching run (their decode shape: the last of `shapes`). */
  readonly streams: number;
  readonly pool: KernelArgs;
  readonly seed: number;
}

export interface ShapeResult {
  readonly shape: DispatchShape;
  readonly flops: number;
  /** Over the pool's inline threshold: the call is handed to the workers. */
  readonly onWorkers: boolean;
  readonly kernelTime: KernelTime;
  /** wallOverKernel: null when the kernel time did not come out positive (see measure.ts). */
  readonly runs: (LatencyResult & { readonly threads: number; readonly wallOverKernel: number | null })[];
}

export interface DispatchResult {
  /** The kernel that ran ('auto' resolved) and its wasm build (null for js). */
  readonly kernel: string;
  readonly wasmVariant: string | null;
  /** Why main-thread CPU is missing, or null. */
  readonly threadCpuNote: string | null;
  readonly shapes: ShapeResult[];
  readonly mix: { readonly callers: number; readonly durationMs: number; readonly runs: (ThroughputResult & { readonly threads: number })[] };
  readonly batching: (BatchingResult & { readonly threads: number })[];
}

/** Rounds of the batching run: each is `streams` decode steps made each of three ways (20 at the
 *  default repeat: ~75 ms a round at 16 streams). */
export function batchingRounds(s: DispatchSettings): number {
  return Math.max(5, Math.ceil(s.repeat / 50));
}

/** How many progress ticks runDispatchBench makes with these settings. */
export function dispatchTicks(s: DispatchSettings): number {
  const perShape = s.warmup + s.repeat;
  return s.shapes.length * perShape * (1 + s.threads.length) + 2 * s.threads.length;
}

export async function runDispatchBench(s: DispatchSettings, tick: (label: string) => void): Promise<DispatchResult> {
  const kernelTimes = await withPool(1, s.pool, async (pool) => {
    const times: KernelTime[] = [];
    for (const [i, shape] of s.shapes.entries()) {
      const [small, large] = KERNEL_COPIES.map((copies) => prepareCall(pool, shape, copies, s.seed + i));
      times.push(await measureKernelTime(small!, large!, KERNEL_COPIES, { ...s, onCall: () => tick(`kernel time, shape ${i + 1}`) }));
    }
    return { times, kernel: pool.kernel, wasmVariant: pool.wasmVariant };
  });
  const shapes: ShapeResult[] = s.shapes.map((shape, i) => ({
    shape, flops: dispatchFlops(shape), onWorkers: runsOnWorkers(shape), kernelTime: kernelTimes.times[i]!, runs: [],
  }));
  const mixRuns: DispatchResult['mix']['runs'] = [];
  const batching: DispatchResult['batching'] = [];
  const decode = s.shapes[s.shapes.length - 1]!;
  for (const threads of s.threads) {
    await withPool(threads, s.pool, async (pool) => {
      const calls = s.shapes.map((shape, i) => prepareCall(pool, shape, 1, s.seed + i));
      await startEveryThread(pool, s.shapes[0]!, s.seed);
      for (const [i, call] of calls.entries()) {
        const latency = await measureLatency(call, { ...s, onCall: () => tick(`${threads} threads, shape ${i + 1}`) });
        shapes[i]!.runs.push({ threads, ...latency, wallOverKernel: ratioToKernel(latency.wallMedianUs, shapes[i]!.kernelTime) });
      }
      mixRuns.push({ threads, ...(await measureThroughput(calls, s.callers, s.mixDurationMs)) });
      tick(`${threads} threads, mix`);
      batching.push({ threads, ...(await measureBatching(pool, decode, s.streams, batchingRounds(s), s.seed)) });
      tick(`${threads} threads, batching`);
    });
  }
  return {
    kernel: kernelTimes.kernel, wasmVariant: kernelTimes.wasmVariant, threadCpuNote: THREAD_CPU_NOTE, shapes,
    mix: { callers: s.callers, durationMs: s.mixDurationMs, runs: mixRuns }, batching,
  };
}

function ratioToKernel(wallUs: number, kernel: KernelTime): number | null {
  return kernel.kernelUs > 0 ? wallUs / kernel.kernelUs : null;
}

/** One call with a tile for every thread, so that no thread's start-up lands in a timed call. */
async function startEveryThread(pool: AttentionPool, shape: DispatchShape, seed: number): Promise<void> {
  const copies = Math.ceil(pool.threads / (shape.batch * shape.heads));
  await prepareCall(pool, shape, copies, seed)();
}
