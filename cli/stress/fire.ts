// One stress phase: `concurrency` lanes fire calls at one pool until the deadline. Each call is valid
// (its result must match the 1-thread reference bit for bit), valid but aborted (it must reject with an
// AbortError, or finish with the right bits when the abort came too late), or invalid (it must reject
// with a TypeError or RangeError). Anything else is a finding. With --hostile, lanes also fire hostile
// calls (./hostile/), and one more lane probes aborts of long calls.

import type { AttentionPool, TensorData } from '../../src/index.js';
import { allBitIdentical } from '../bitwise.js';
import { describeError } from '../errors.js';
import { quantile } from '../format.js';
import type { Random } from '../random.js';
import { sampleRss } from '../rss-sampler.js';
import { INVALID_CALLS, type ValidCall } from './calls.js';
import { hostilePhase } from './hostile/hostile-phase.js';
import type { HonestBits, HostileRun } from './hostile/hostile-run.js';
import { HostileTally, type HostilePhaseResult } from './hostile/tally.js';
import { monitorLoopDelay } from './loop-delay.js';

// Of the calls fired, about this share is invalid, and this share of the valid ones is aborted.
const INVALID_SHARE = 0.08;
const ABORT_SHARE = 0.12;
/** With --hostile, this share of the calls a lane fires is hostile. */
const HOSTILE_SHARE = 0.25;
/** An abort lands at a random point within this many milliseconds after the call starts. */
const MAX_ABORT_DELAY_MS = 3;
/** Findings kept per phase for the report (the counts are always complete). */
const MAX_FINDINGS = 10;

export interface PhaseResult {
  readonly threads: number;
  readonly calls: number;
  readonly seconds: number;
  readonly callsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly aborted: number;
  readonly invalidRejected: number;
  readonly wrongResults: number;
  readonly unexpectedErrors: number;
  readonly peakRssBytes: number;
  /** p99 of the event loop's delay (ms) beyond the sampling timer's own interval (./loop-delay.ts). */
  readonly eventLoopDelayP99Ms: number;
  readonly findings: string[];
  /** With --hostile only. */
  readonly hostile?: HostilePhaseResult;
}

export interface PhaseSettings {
  readonly calls: readonly ValidCall[];
  readonly references: readonly TensorData[][];
  readonly durationMs: number;
  readonly concurrency: number;
  readonly random: Random;
  readonly hostile?: { readonly run: HostileRun; readonly bits: HonestBits };
}

type Outcome = 'ok' | 'aborted' | 'rejected' | 'wrong' | 'unexpected';

export async function firePhase(pool: AttentionPool, settings: PhaseSettings): Promise<PhaseResult> {
  const { calls, references, durationMs, concurrency, random, hostile } = settings;
  const latencies: number[] = [];
  const counts: Record<Outcome, number> = { ok: 0, aborted: 0, rejected: 0, wrong: 0, unexpected: 0 };
  const findings: string[] = [];
  const note = (detail: string) => {
    if (findings.length < MAX_FINDINGS) findings.push(`threads=${pool.threads} ${detail}`);
  };
  const report = (outcome: Outcome, detail?: string) => {
    counts[outcome]++;
    if (detail !== undefined) note(detail);
  };

  const loopDelay = monitorLoopDelay();
  const rss = sampleRss();
  const started = performance.now();
  const deadline = started + durationMs;

  async function fireValid(index: number, abortMode: AbortMode | null): Promise<void> {
    const call = calls[index]!;
    const controller = abortMode === null ? undefined : new AbortController();
    if (abortMode === 'before') controller!.abort();
    if (abortMode === 'during') setTimeout(() => controller!.abort(), random.next() * MAX_ABORT_DELAY_MS);
    const start = performance.now();
    let result: TensorData[];
    try {
      result = await call.run(pool, controller?.signal);
    } catch (err) {
      const isAbort = (err as Error | undefined)?.name === 'AbortError';
      if (isAbort && abortMode !== null) return report('aborted');
      return report('unexpected', `unexpected ${describeError(err)} from ${call.label}`);
    }
    if (abortMode === null) latencies.push(performance.now() - start);
    if (abortMode === 'before') return report('unexpected', `an already-aborted call resolved: ${call.label}`);
    const reference = references[index]!;
    const same = allBitIdentical(result, reference);
    report(same ? 'ok' : 'wrong', same ? undefined : `wrong result (differs from 1 thread): ${call.label}`);
  }

  async function fireInvalid(): Promise<void> {
    const call = random.pick(INVALID_CALLS);
    try {
      await call.run(pool);
    } catch (err) {
      if (err instanceof TypeError || err instanceof RangeError) return report('rejected');
      return report('unexpected', `${call.label}: expected a TypeError or RangeError, got ${describeError(err)}`);
    }
    report('wrong', `${call.label}: was accepted`);
  }

  /** A valid call for after a hostile one: undefined when it gave the reference's bits. */
  async function serveValid(): Promise<string | undefined> {
    const index = random.int(0, calls.length - 1);
    try {
      return allBitIdentical(await calls[index]!.run(pool), references[index]!) ? undefined : `${calls[index]!.label}: wrong result`;
    } catch (err) {
      return `${calls[index]!.label}: ${describeError(err)}`;
    }
  }

  const tally = hostile ? new HostileTally(note) : undefined;
  const hostileCalls = hostile && tally ? hostilePhase({ pool, ...hostile, random, deadline, tally, serveValid }) : undefined;

  async function lane(): Promise<void> {
    while (performance.now() < deadline) {
      if (hostileCalls && random.chance(HOSTILE_SHARE)) await hostileCalls.fireOne();
      else if (random.chance(INVALID_SHARE)) await fireInvalid();
      else await fireValid(random.int(0, calls.length - 1), random.chance(ABORT_SHARE) ? random.pick(ABORT_MODES) : null);
      rss.sample();
    }
  }

  await Promise.all([...Array.from({ length: concurrency }, lane), ...(hostileCalls ? [hostileCalls.probeLane()] : [])]);
  const seconds = (performance.now() - started) / 1000;
  const eventLoopDelayP99Ms = await loopDelay.stopP99Ms();
  const total = counts.ok + counts.aborted + counts.rejected + counts.wrong + counts.unexpected;
  return {
    threads: pool.threads, calls: total, seconds, callsPerSecond: total / seconds,
    p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99),
    aborted: counts.aborted, invalidRejected: counts.rejected, wrongResults: counts.wrong, unexpectedErrors: counts.unexpected,
    peakRssBytes: rss.stop(), eventLoopDelayP99Ms, findings,
    ...(tally ? { hostile: tally.result() } : {}),
  };
}

/** 'before': the signal is aborted before the call; 'during': at a random moment soon after it starts. */
type AbortMode = 'before' | 'during';
const ABORT_MODES: readonly AbortMode[] = ['before', 'during'];
