// The three measurements of the dispatch benchmark. Latency: calls one after another (each awaited),
// main-thread CPU and wall time around each. Kernel time: the slope of a 1-thread call's wall time
// over the number of independent copies it carries, which leaves out what a call costs once whatever
// its size (hand-off, planning, result). Throughput: many callers with calls in flight at once.

import { median, quantile } from '../../format.js';
import type { PreparedCall } from './shapes.js';
import { threadCpuMicros } from './thread-cpu.js';

export interface LatencyResult {
  /** Main-thread CPU over the timed calls / their number (µs); null where process.threadCpuUsage is
   *  missing. One difference over the whole run, not a median of per-call differences: Linux brings a
   *  running thread's CPU time up to date only at a scheduler tick or when the thread sleeps, so a
   *  single call that never sleeps reads 0 or a whole tick, while a sum over many calls is exact to a tick. */
  readonly cpuPerCallUs: number | null;
  readonly wallMedianUs: number;
  readonly wallP90Us: number;
}

export interface CallCounts {
  readonly warmup: number;
  readonly repeat: number;
  /** Called after every call, warm-up or timed (drives the progress bar). */
  readonly onCall: () => void;
}

export async function measureLatency(call: PreparedCall, { warmup, repeat, onCall }: CallCounts): Promise<LatencyResult> {
  for (let i = 0; i < warmup; i++) {
    await call();
    onCall();
  }
  const walls: number[] = [];
  const cpu0 = threadCpuMicros();
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    await call();
    walls.push((performance.now() - t0) * 1000);
    onCall();
  }
  const cpu1 = threadCpuMicros();
  return {
    cpuPerCallUs: cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0) / repeat : null,
    wallMedianUs: median(walls),
    wallP90Us: quantile(walls, 0.9),
  };
}

export interface KernelTime {
  /** Wall time one more copy adds to a 1-thread call: the kernels' time for one copy (µs). A
   *  difference of medians: on a busy machine it can come out at or below 0, which the report flags. */
  readonly kernelUs: number;
  /** The rest of a 1-thread call of one copy: what a call costs whatever its size (µs). */
  readonly fixedUs: number;
  /** The two batch sizes of the slope, and their median wall times (µs). */
  readonly copies: readonly [number, number];
  readonly wallMedianUs: readonly [number, number];
}

/** `small` and `large` carry `copies[0]` and `copies[1]` copies of one call, on a 1-thread pool. They
 *  alternate call by call, so a slow spell of the (shared) machine lands on both alike. */
export async function measureKernelTime(small: PreparedCall, large: PreparedCall, copies: readonly [number, number],
  { warmup, repeat, onCall }: CallCounts): Promise<KernelTime> {
  const walls: [number[], number[]] = [[], []];
  for (let i = 0; i < warmup + repeat; i++) {
    for (const [side, call] of [small, large].entries()) {
      const t0 = performance.now();
      await call();
      if (i >= warmup) walls[side]!.push((performance.now() - t0) * 1000);
    }
    onCall();
  }
  const wallMedianUs = [median(walls[0]), median(walls[1])] as const;
  const kernelUs = (wallMedianUs[1] - wallMedianUs[0]) / (copies[1] - copies[0]);
  return { kernelUs, fixedUs: wallMedianUs[0] - copies[0] * kernelUs, copies, wallMedianUs };
}

export interface ThroughputResult {
  readonly calls: number;
  readonly seconds: number;
  readonly callsPerSecond: number;
  /** Main-thread CPU over the run / calls (µs); null where process.threadCpuUsage is missing. */
  readonly cpuPerCallUs: number | null;
  /** Main-thread CPU over the run / its wall time: near 1, the calling thread is what limits. */
  readonly mainThreadBusy: number | null;
}

/** `callers` loops, each issuing the `mix` in turn (caller i starts at mix[i % mix.length]), one call
 *  in flight per caller, until `durationMs` has passed. */
export async function measureThroughput(mix: readonly PreparedCall[], callers: number, durationMs: number): Promise<ThroughputResult> {
  let calls = 0;
  const cpu0 = threadCpuMicros();
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  const caller = async (index: number) => {
    for (let next = index; performance.now() < deadline; next++) {
      await mix[next % mix.length]!();
      calls++;
    }
  };
  await Promise.all(Array.from({ length: callers }, (_, i) => caller(i)));
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = threadCpuMicros();
  const cpuUs = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
  return {
    calls, seconds, callsPerSecond: calls / seconds,
    cpuPerCallUs: cpuUs === null ? null : cpuUs / calls,
    mainThreadBusy: cpuUs === null ? null : cpuUs / (seconds * 1e6),
  };
}
