// Timing one implementation at one thread count: warm-up calls (not timed: they let workers start, the
// JIT settle and WebAssembly compile), then timed calls, one after another, with peak RSS sampled
// throughout (setup included, since a pool's threads are part of its memory cost).

import { median } from '../format.js';
import { sampleRss } from '../rss-sampler.js';

export interface Measurement {
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly peakRssBytes: number;
  /** The output of the last timed call. */
  readonly output: Float32Array;
}

export interface MeasureSettings {
  readonly warmup: number;
  readonly repeat: number;
  /** Called after every call, warm-up or timed (drives the progress bar). */
  readonly onCall: () => void;
}

/** `setup` opens the implementation (a pool, a session) and `teardown` closes it; both inside the RSS window. */
export async function measure<S>(
  setup: () => Promise<S>,
  call: (subject: S) => Promise<Float32Array>,
  teardown: (subject: S) => Promise<void>,
  { warmup, repeat, onCall }: MeasureSettings,
): Promise<Measurement> {
  const rss = sampleRss();
  let subject: S;
  try {
    subject = await setup();
  } catch (err) {
    rss.stop();
    throw err;
  }
  try {
    let output: Float32Array | undefined;
    for (let i = 0; i < warmup; i++) {
      output = await call(subject);
      rss.sample();
      onCall();
    }
    const times: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const start = performance.now();
      output = await call(subject);
      times.push(performance.now() - start);
      rss.sample();
      onCall();
    }
    return {
      medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times),
      peakRssBytes: rss.stop(), output: output!,
    };
  } finally {
    rss.stop(); // on failure; a no-op after the return above
    await teardown(subject);
  }
}
