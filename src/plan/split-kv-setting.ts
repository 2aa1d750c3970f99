// How a pool decides split-KV, fixed when the pool is built and applied in one place (splitKeysFor):
//   'auto'            the planner's choice, a pure function of the shape (split-kv-plan.ts);
//   'off'             never split: the diagnostic switch ATTNPOOL_SPLIT_KV=off, like onnxruntime's
//                     ORT_DISABLE_FLASH_ATTENTION, for telling whether a result or a timing comes from
//                     split-KV (results stay within the kernels' tolerance either way, and bit-for-bit
//                     the same for every thread count);
//   { keysPerSplit }  every call split at this length: tests and benchmarks only, through the pool's
//                     private hooks (src/pool/pool-hooks.ts).
// Calls that ask for the attention weights never split, whatever the setting (see keysPerSplit).

import { keysPerSplit, SPLIT_ALIGN, type SplitShape } from './split-kv-plan.js';

export type SplitKvSetting = 'auto' | 'off' | { readonly keysPerSplit: number };

/** The environment variable of the diagnostic switch; read once, when a pool is constructed. */
export const SPLIT_KV_ENV = 'ATTNPOOL_SPLIT_KV';

/** The setting of a pool being built: the hooks' forced one when given, else the environment's. An
 *  unknown value of the variable is a RangeError rather than ignored: a mistyped switch would
 *  otherwise leave a diagnosis running the very path it meant to rule out. */
export function resolveSplitKvSetting(forced: SplitKvSetting | undefined, env: NodeJS.ProcessEnv = process.env): SplitKvSetting {
  if (forced !== undefined) return checkForced(forced);
  const value = env[SPLIT_KV_ENV];
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'off') return 'off';
  throw new RangeError(`AttentionPool: the environment variable ${SPLIT_KV_ENV} must be 'off' or 'auto' (or unset), got ${JSON.stringify(value)}`);
}

/** Hooks come from test code in plain JavaScript too: a setting of another shape is refused here
 *  rather than read as a split length later. */
function checkForced(forced: SplitKvSetting): SplitKvSetting {
  if (forced === 'auto' || forced === 'off') return forced;
  const n: unknown = typeof forced === 'object' && forced !== null ? forced.keysPerSplit : forced;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < SPLIT_ALIGN || n % SPLIT_ALIGN !== 0) {
    throw new RangeError(`split-KV: a forced setting must be 'auto', 'off' or { keysPerSplit } with a positive multiple of ${SPLIT_ALIGN}, got ${String(n)}`);
  }
  return forced;
}

/** Keys per split for a call of this shape under `setting`, 0 for no split. */
export function splitKeysFor(shape: SplitShape, setting: SplitKvSetting): number {
  if (setting === 'off') return 0;
  if (setting === 'auto') return keysPerSplit(shape);
  return shape.weights ? 0 : setting.keysPerSplit;
}
