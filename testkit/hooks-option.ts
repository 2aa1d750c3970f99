// Pool options that carry hooks (src/pool/pool-hooks.ts), to spread into an AttentionPool's options:
// `new AttentionPool({ threads, ...hooksOption(hooks) })`. The hooks' Symbol key is invisible to the
// option-name check, which sees only string keys.

import { POOL_HOOKS, type PoolHooks } from '../src/pool/pool-hooks.js';
import type { SplitKvSetting } from '../src/plan/split-kv-setting.js';

export type { SplitKvSetting } from '../src/plan/split-kv-setting.js';

export interface HooksOption {
  readonly [POOL_HOOKS]: PoolHooks;
}

export function hooksOption(hooks: PoolHooks): HooksOption {
  return { [POOL_HOOKS]: hooks };
}

/** Forces split-KV at `split.keysPerSplit` keys (a multiple of 64) whatever the shape, or forbids it
 *  ('off'); undefined leaves the planner's decision ('auto', unless ATTNPOOL_SPLIT_KV says otherwise).
 *  Calls that ask for the weights never split. */
export function splitKvOption(split: SplitKvSetting | undefined): HooksOption {
  return hooksOption({ splitKv: split });
}
