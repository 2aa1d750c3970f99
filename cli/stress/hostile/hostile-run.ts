// The hostile calls of one run, built once from the seed (after the ordinary calls, which a --hostile
// run therefore shares with a plain run of the same seed), and their honest bits on the 1-thread pool.

import type { AttentionPool, TensorData } from '../../../src/index.js';
import type { Random } from '../../random.js';
import type { ValidCall } from '../calls.js';
import { referenceBits } from '../reference.js';
import { aliasingCalls } from './aliasing.js';
import type { HostileCall } from './hostile-call.js';
import { largeScaleCalls } from './large-scale.js';
import { longAbortProbe, type LongAbortProbe } from './long-abort.js';
import { oversizedCalls, requestBytesFor } from './oversized.js';
import { past4GiBCalls } from './past-4gib.js';
import { readOnceCalls } from './read-once.js';

export interface HostileSettings {
  /** The bound the pools are opened with (the library's default when not set). */
  readonly maxCallBytes: number;
  /** Whether to fire the past-4gib class (a lazily mapped buffer of 4 GiB). */
  readonly past4GiB: boolean;
  /** A refusal, or a small call after an abort, slower than this is a finding. */
  readonly slowMs: number;
}

export interface HostileRun {
  readonly settings: HostileSettings;
  /** Bytes each oversized request asks for. */
  readonly requestBytes: number;
  readonly calls: readonly HostileCall[];
  readonly probe: LongAbortProbe;
  /** Why a class is not fired, when one is not. */
  readonly skipped: readonly string[];
}

export function buildHostileRun(random: Random, settings: HostileSettings): HostileRun {
  const past4GiB = settings.past4GiB ? past4GiBCalls(random) : { skipped: 'past-4gib: off (--no-past-4gib)' };
  const calls = [...oversizedCalls(settings.maxCallBytes), ...aliasingCalls(random), ...readOnceCalls(random), ...largeScaleCalls(random),
    ...('calls' in past4GiB ? past4GiB.calls : [])];
  return {
    settings, requestBytes: requestBytesFor(settings.maxCallBytes), calls, probe: longAbortProbe(random),
    skipped: 'skipped' in past4GiB ? [past4GiB.skipped] : [],
  };
}

/** Bits of each honest call (and of the probe's small call), keyed by the call. */
export type HonestBits = ReadonlyMap<ValidCall, readonly TensorData[]>;

export async function honestBits(run: HostileRun, referencePool: AttentionPool): Promise<HonestBits> {
  const honest = [...run.calls.flatMap((c) => (c.kind === 'matching' ? [c.honest] : [])), run.probe.small];
  const bits = new Map<ValidCall, TensorData[]>();
  for (const call of honest) bits.set(call, await referenceBits(call, referencePool));
  return bits;
}
