// Set-up shared by the split-KV suites (split-kv*.test.ts): pools forcing or refusing splits through the
// test-only pool option (testkit/hooks-option.ts), the ATTNPOOL_SPLIT_KV variable set for a while, and
// one attention call returning out and lse.

import { afterAll, beforeAll } from 'vitest';
import { AttentionPool, zeros, type KernelName } from '../../dist/src/index.js';
import { splitKvOption } from '../../dist/testkit/hooks-option.js';
import { SPLIT_KV_ENV } from '../../dist/src/plan/split-kv-setting.js';
import type { AttentionInputs } from './random.js';

export const TIMEOUT_MS = 120_000;

type SplitOption = { readonly keysPerSplit: number } | 'off';

/** `body`'s result, with ATTNPOOL_SPLIT_KV set to `value` while it runs (pools read it when built). */
export function withSplitKvEnv<T>(value: string, body: () => T): T {
  const before = process.env[SPLIT_KV_ENV];
  process.env[SPLIT_KV_ENV] = value;
  try {
    return body();
  } finally {
    if (before === undefined) delete process.env[SPLIT_KV_ENV];
    else process.env[SPLIT_KV_ENV] = before;
  }
}

export function splitPool(threads: number, kernel: KernelName, split?: SplitOption): AttentionPool {
  return new AttentionPool({ threads, kernel, ...splitKvOption(split) });
}

export interface SplitSuitePools {
  /** A 2-thread pool that never splits (built before the suite's tests). */
  unsplit(): AttentionPool;
  /** A 2-thread pool forcing splits of this length (one per length, reused). */
  forced(keys: number): AttentionPool;
}

/** The pools a kernel's split-KV suite shares, closed after its tests. */
export function splitSuitePools(kernel: KernelName): SplitSuitePools {
  const pools = new Map<number, AttentionPool>();
  let unsplit: AttentionPool | undefined;
  beforeAll(() => {
    unsplit = splitPool(2, kernel, 'off');
  });
  afterAll(async () => {
    await unsplit?.close();
    await Promise.all([...pools.values()].map((p) => p.close()));
  });
  return {
    unsplit: () => {
      if (!unsplit) throw new Error('the unsplit pool is used before the suite built it');
      return unsplit;
    },
    forced: (keys) => {
      let p = pools.get(keys);
      if (!p) pools.set(keys, (p = splitPool(2, kernel, { keysPerSplit: keys })));
      return p;
    },
  };
}

/** pool.attention over `inputs` (with their mask and bias, and `window` if given), with lse. */
export async function attend(pool: AttentionPool, c: { B: number; H: number; Sq: number; causal: boolean; dtype?: 'float32' | 'float64' }, inputs: AttentionInputs, window?: number) {
  const lse = zeros([c.B, c.H, c.Sq], c.dtype ?? 'float32');
  const out = await pool.attention(inputs.q, inputs.k, inputs.v, {
    causal: c.causal,
    ...(window !== undefined && { window }),
    ...(inputs.mask && { mask: inputs.mask }),
    ...(inputs.bias && { bias: inputs.bias }),
    lse,
  });
  return { out: out.data, lse: lse.data };
}
