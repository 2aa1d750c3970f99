// The event loop's delay while a stress phase runs. perf_hooks.monitorEventLoopDelay records the time
// between runs of a timer it sets every `resolution` ms, so an idle loop already reads ≈ resolution
// (10.1 ms at 10 ms); the delay is what exceeds it, as @fastify/under-pressure computes it too.

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

const LOOP_DELAY_RESOLUTION_MS = 10;

export interface LoopDelayMonitor {
  /** Stops sampling; the delay's p99 in milliseconds beyond the timer's own interval. */
  stopP99Ms(): Promise<number>;
}

export function monitorLoopDelay(): LoopDelayMonitor {
  const histogram = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  histogram.enable();
  return {
    async stopP99Ms() {
      // The histogram records a delay only when its timer finally fires: let it fire once more, or a loop
      // blocked until the end of the phase (calls that resolve in microtasks never yield) would not count.
      await new Promise((resolve) => setTimeout(resolve, 2 * LOOP_DELAY_RESOLUTION_MS));
      histogram.disable();
      return delayBeyondInterval(histogram, 99);
    },
  };
}

function delayBeyondInterval(histogram: IntervalHistogram, percentile: number): number {
  return Math.max(0, histogram.percentile(percentile) / 1e6 - LOOP_DELAY_RESOLUTION_MS);
}
