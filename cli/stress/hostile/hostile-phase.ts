// Firing hostile calls at one pool and judging each: a refused call must reject with its RangeError
// at once (an oversized one without the process's RSS growing, and the pool must then serve a valid
// call); a matching call must give its honest twin's bits from the 1-thread pool, and no NaN where
// none is allowed. Anything else is a finding of the call's class.

import type { AttentionPool, TensorData } from '../../../src/index.js';
import { allBitIdentical } from '../../bitwise.js';
import { describeError } from '../../errors.js';
import { mib, ms } from '../../format.js';
import type { Random } from '../../random.js';
import type { HostileCall, HostileClass, MatchingCall, RefusedCall } from './hostile-call.js';
import type { HonestBits, HostileRun } from './hostile-run.js';
import type { HostileTally } from './tally.js';

export interface HostilePhaseContext {
  readonly pool: AttentionPool;
  readonly run: HostileRun;
  readonly bits: HonestBits;
  readonly random: Random;
  readonly deadline: number;
  readonly tally: HostileTally;
  /** Fires one valid ordinary call and checks it: undefined when it gave the right bits, else what went wrong. */
  serveValid(): Promise<string | undefined>;
}

export interface HostilePhase {
  /** One hostile call, drawn at random among those free to start (long-abort has its own lane). */
  fireOne(): Promise<void>;
  /** The long-abort probes, one after another until the deadline: a lane of its own. */
  probeLane(): Promise<void>;
}

/** A RangeError message that does not match is as wrong as another error class. */
function refusalProblem(err: unknown, call: RefusedCall): string | undefined {
  if (err instanceof RangeError && call.expected.test(err.message)) return undefined;
  return `${call.label}: expected a RangeError matching ${call.expected}, got ${describeError(err)}`;
}

async function fireRefused(call: RefusedCall, { pool, run, tally, serveValid }: HostilePhaseContext): Promise<void> {
  const c = call.hostileClass;
  const rssBefore = process.memoryUsage.rss();
  const started = performance.now();
  let failure: unknown;
  try {
    await call.run(pool);
  } catch (err) {
    failure = err;
  }
  const elapsedMs = performance.now() - started;
  const rssGrowth = process.memoryUsage.rss() - rssBefore;
  if (failure === undefined) {
    return tally.finding(c, `${call.label}: was accepted (RSS grew by ${mib(rssGrowth)} meanwhile); it must be refused`);
  }
  const problem = refusalProblem(failure, call)
    ?? (elapsedMs > run.settings.slowMs ? `${call.label}: refused after ${ms(elapsedMs)} ms (slow threshold ${run.settings.slowMs} ms)` : undefined)
    ?? (call.requestBytes !== undefined && rssGrowth > call.requestBytes / 2
      ? `${call.label}: refused, but RSS grew by ${mib(rssGrowth)} across the refusal of a ${mib(call.requestBytes)} request` : undefined);
  if (problem !== undefined) return tally.finding(c, problem);
  tally.refused(c);
  if (call.requestBytes === undefined) return;
  const served = await serveValid();
  if (served !== undefined) tally.finding(c, `after refusing ${call.label}, a valid call: ${served}`);
}

const hasNaN = (arrays: readonly TensorData[]) => arrays.some((a) => a.some(Number.isNaN));

async function fireMatching(call: MatchingCall, { pool, bits, tally }: HostilePhaseContext): Promise<void> {
  const c = call.hostileClass;
  let result: TensorData[];
  try {
    result = await call.hostile.run(pool);
  } catch (err) {
    return tally.finding(c, `${call.label}: unexpected ${describeError(err)}`);
  }
  if (call.noNaN && hasNaN(result)) return tally.finding(c, `${call.label}: NaN in the result`);
  if (!allBitIdentical(result, bits.get(call.honest)!)) return tally.finding(c, `${call.label}: other bits than the honest call on 1 thread`);
  tally.matched(c);
}

export function hostilePhase(context: HostilePhaseContext): HostilePhase {
  const { run, random, tally } = context;
  /** Classes with a one-at-a-time call in flight. */
  const busy = new Set<HostileClass>();
  return {
    async fireOne() {
      // A class first, then one of its calls: each class gets its share however many calls it has.
      const free = run.calls.filter((c) => !(c.oneAtATime && busy.has(c.hostileClass)));
      const hostileClass = random.pick([...new Set(free.map((c) => c.hostileClass))]);
      const call: HostileCall = random.pick(free.filter((c) => c.hostileClass === hostileClass));
      if (call.oneAtATime) busy.add(call.hostileClass);
      tally.fired(call.hostileClass);
      try {
        await (call.kind === 'refused' ? fireRefused(call, context) : fireMatching(call, context));
      } finally {
        if (call.oneAtATime) busy.delete(call.hostileClass);
      }
    },
    probeLane() {
      const { pool, deadline } = context;
      return run.probe.lane({ pool, random, deadline, slowMs: run.settings.slowMs, tally, smallReference: context.bits.get(run.probe.small)! });
    },
  };
}
