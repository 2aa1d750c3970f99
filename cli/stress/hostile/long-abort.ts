// Aborts of long calls: q [1, 8, 128, 64] against 2^20 keys (seconds of work per tile), aborted a
// random 1–100 ms after it starts; right after the abort a small call is issued, and the time from
// the abort to its end is what an operator waits for the threads to be free again. Kernels check
// between ~1 ms steps, so it should be tens of ms; above the slow threshold it is a finding, as is the
// long call not rejecting with an AbortError promptly.

import { zeros, type AttentionPool, type TensorData } from '../../../src/index.js';
import { allBitIdentical } from '../../bitwise.js';
import { describeError } from '../../errors.js';
import { ms } from '../../format.js';
import type { Random } from '../../random.js';
import { randomFloats, type ValidCall } from '../calls.js';
import type { HostileTally } from './tally.js';

const LONG_KEYS = 2 ** 20;
const ABORT_AFTER_MS = { min: 1, max: 100 } as const;

export interface ProbeContext {
  readonly pool: AttentionPool;
  readonly random: Random;
  readonly deadline: number;
  readonly slowMs: number;
  readonly tally: HostileTally;
  /** The small call's bits on the 1-thread pool. */
  readonly smallReference: readonly TensorData[];
}

export interface LongAbortProbe {
  /** Issued right after each abort; above the inline threshold, so it needs the workers. */
  readonly small: ValidCall;
  /** Probes one after another until the deadline. */
  lane(context: ProbeContext): Promise<void>;
}

const sleep = (delayMs: number) => new Promise((resolve) => setTimeout(resolve, delayMs));

/** Allocates the long call's k and v once for the run: 256 MiB each, left zero (the work is the same,
 *  filling them would not be free), read-only for every call. */
export function longAbortProbe(random: Random): LongAbortProbe {
  const long = { q: randomFloats(random, [1, 8, 128, 64]), k: zeros([1, 1, LONG_KEYS, 64]), v: zeros([1, 1, LONG_KEYS, 64]) };
  const [q, k, v] = [[1, 8, 64, 64], [1, 8, 256, 64], [1, 8, 256, 64]].map((shape) => randomFloats(random, shape));
  const small: ValidCall = { label: 'attention q [1, 8, 64, 64] k, v [1, 8, 256, 64]', run: async (pool) => [(await pool.attention(q!, k!, v!)).data] };

  async function probe({ pool, random: draw, slowMs, tally, smallReference }: ProbeContext): Promise<void> {
    tally.fired('long-abort');
    const controller = new AbortController();
    const settled = pool.attention(long.q, long.k, long.v, { signal: controller.signal }).then((out) => out, (err: unknown) => err);
    await sleep(draw.int(ABORT_AFTER_MS.min, ABORT_AFTER_MS.max));
    controller.abort();
    const abortedAt = performance.now();
    try {
      const result = await small.run(pool);
      const freeMs = performance.now() - abortedAt;
      tally.abortToFree(freeMs);
      if (!allBitIdentical(result, smallReference)) tally.finding('long-abort', `the small call after an abort gave other bits than on 1 thread`);
      else if (freeMs > slowMs) tally.finding('long-abort', `the small call after an abort ended ${ms(freeMs)} ms after it (slow threshold ${slowMs} ms)`);
      else tally.matched('long-abort');
    } catch (err) {
      tally.finding('long-abort', `the small call after an abort failed: ${describeError(err)}`);
    }
    const outcome = await settled;
    const settleMs = performance.now() - abortedAt;
    if (!(outcome instanceof Error)) tally.finding('long-abort', `the aborted long call resolved: it ignored its abort`);
    else if (outcome.name !== 'AbortError') tally.finding('long-abort', `the aborted long call rejected with ${describeError(outcome)}, not an AbortError`);
    else if (settleMs > slowMs) tally.finding('long-abort', `the aborted long call rejected ${ms(settleMs)} ms after its abort (slow threshold ${slowMs} ms)`);
    else tally.refused('long-abort');
  }

  return {
    small,
    async lane(context) {
      while (performance.now() < context.deadline) await probe(context);
    },
  };
}
