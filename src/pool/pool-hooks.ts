// The pool's one private seam: hooks that tests and benchmarks pass to the constructor to inject
// faults into workers, watch its threads, or force a split-KV setting (src/plan/split-kv-setting.ts). Their implementations live
// in testkit/, which is compiled but not shipped; production holds only this interface and its key.
//
// Nothing public leads here: src/index.ts does not re-export this module, package.json's `exports`
// exposes only the entry point (a deep import is refused), and the option is keyed by a Symbol of
// this module, not a registered one (Symbol.for), so no options object can switch it on by accident.

import type { ResourceLimits } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import type { BoardShape } from '../../workers/board/layout.js';
import type { WorkerSetup } from '../../workers/task.js';
import type { SplitKvSetting } from '../plan/split-kv-setting.js';
import type { AttentionPoolOptions } from './pool-options.js';

/** The key of the pool option that takes PoolHooks: `new AttentionPool({ threads, [POOL_HOOKS]: hooks })`. */
export const POOL_HOOKS = Symbol('attnpool.poolHooks');

/** What hooks may change in the pool's piscina options: another worker file, given other start-up data. */
export interface PiscinaOverride {
  readonly filename: string;
  readonly workerData: WorkerSetup;
  readonly resourceLimits?: ResourceLimits;
}

/** Read once, when the pool is constructed. */
export interface PoolHooks {
  /** Replaces the production worker; `setup` is what the production worker would have received. */
  piscinaOptions?(setup: WorkerSetup): PiscinaOverride;
  /** Called once the pool's piscina exists, before any call runs. */
  attach?(piscina: Piscina<unknown, unknown>): void;
  /** Called each time a phase opens on the threads, with the number of calls' jobs it holds (more
   *  than one when calls were coalesced: src/pool/dispatch.ts). */
  onPhase?(parts: number): void;
  /** Called once with the board the threads read (workers/board/layout.ts), for tests that must wait
   *  for a state of it — every thread inside a phase — rather than guess how long that takes. */
  attachBoard?(ints: Int32Array, shape: BoardShape): void;
  /** The pool's split-KV setting, in place of the environment's: a forced length or 'off' (calls that
   *  ask for the weights never split). */
  readonly splitKv?: SplitKvSetting;
}

/** The hooks an options object carries under POOL_HOOKS, if any. */
export function poolHooksOf(options: AttentionPoolOptions | undefined): PoolHooks | undefined {
  const hooks: unknown = (options as { [POOL_HOOKS]?: unknown } | undefined)?.[POOL_HOOKS];
  return typeof hooks === 'object' && hooks !== null ? (hooks as PoolHooks) : undefined;
}
