// Split-KV's planner and its settings: the automatic decision depends on the shape only; an override
// must be a positive multiple of 64; the diagnostic switch ATTNPOOL_SPLIT_KV=off, read when a pool is
// built, turns splitting off, and an unknown value is refused. The kernels' split results:
// split-kv.test.ts and split-kv-edges.test.ts.

import { describe, expect, it } from 'vitest';
import { AttentionPool } from '../dist/src/index.js';
import { splitKvOption } from '../dist/testkit/hooks-option.js';
import { keysPerSplit, MIN_SPLIT_KEYS, SPLIT_TARGET_TILES } from '../dist/src/plan/split-kv-plan.js';
import { resolveSplitKvSetting, splitKeysFor, SPLIT_KV_ENV } from '../dist/src/plan/split-kv-setting.js';
import { withSplitKvEnv } from './support/split-kv.js';

describe('split-KV planner: a pure function of the shape', () => {
  it('splits decode B1 H8 Sq1 Sk131072 into 8 splits of 16384 keys (64 tiles)', () => {
    expect(keysPerSplit({ B: 1, H: 8, Sq: 1, Sk: 131072, weights: false })).toBe(16384);
  });

  it('does not split when the rows alone give enough tiles, when keys are few, or when weights are asked', () => {
    expect(keysPerSplit({ B: 1, H: 8, Sq: 16 * SPLIT_TARGET_TILES / 8, Sk: 131072, weights: false })).toBe(0);
    expect(keysPerSplit({ B: 1, H: 8, Sq: 1, Sk: 2 * MIN_SPLIT_KEYS - 1, weights: false })).toBe(0);
    expect(keysPerSplit({ B: 1, H: 8, Sq: 1, Sk: 2 * MIN_SPLIT_KEYS, weights: false })).toBe(MIN_SPLIT_KEYS);
    expect(keysPerSplit({ B: 1, H: 8, Sq: 1, Sk: 131072, weights: true })).toBe(0);
    expect(splitKeysFor({ B: 1, H: 8, Sq: 1, Sk: 131072, weights: true }, { keysPerSplit: 128 })).toBe(0);
  });

  it('sizes splits by the window, not Sk, and keeps them multiples of 64', () => {
    // min(8 wanted, ⌊4000 / 1024⌋ = 3) splits of ⌈4000 / 3⌉ = 1334 keys, rounded up to 64
    expect(keysPerSplit({ B: 1, H: 8, Sq: 1, Sk: 131072, window: 4000, weights: false })).toBe(1344);
    for (const Sk of [3000, 5000, 77777, 131071]) {
      const n = keysPerSplit({ B: 1, H: 2, Sq: 1, Sk, weights: false });
      expect(n % 64, `Sk ${Sk}: ${n}`).toBe(0);
      expect(n).toBeGreaterThanOrEqual(MIN_SPLIT_KEYS);
    }
  });

  it('rejects an override that is not a positive multiple of 64', () => {
    expect(() => resolveSplitKvSetting({ keysPerSplit: 100 })).toThrow(RangeError);
    expect(() => resolveSplitKvSetting({ keysPerSplit: 0 })).toThrow(RangeError);
    expect(() => new AttentionPool({ threads: 1, kernel: 'js', ...splitKvOption({ keysPerSplit: 100 }) })).toThrow(RangeError);
  });

  it(`${SPLIT_KV_ENV}: unset, empty or 'auto' follows the planner, 'off' never splits, anything else is refused`, () => {
    const decode = { B: 1, H: 8, Sq: 1, Sk: 131072, weights: false };
    for (const value of [undefined, '', 'auto']) {
      const setting = resolveSplitKvSetting(undefined, { [SPLIT_KV_ENV]: value });
      expect(splitKeysFor(decode, setting), `${SPLIT_KV_ENV}=${String(value)}`).toBe(keysPerSplit(decode));
    }
    expect(splitKeysFor(decode, resolveSplitKvSetting(undefined, { [SPLIT_KV_ENV]: 'off' }))).toBe(0);
    for (const value of ['of', 'OFF', '0', 'false']) {
      expect(() => resolveSplitKvSetting(undefined, { [SPLIT_KV_ENV]: value }), value).toThrow(RangeError);
    }
    // A forced setting (the test hooks) wins over the environment.
    expect(splitKeysFor(decode, resolveSplitKvSetting({ keysPerSplit: 128 }, { [SPLIT_KV_ENV]: 'off' }))).toBe(128);
  });

  it(`a pool refuses an unknown ${SPLIT_KV_ENV} when it is built`, () => {
    withSplitKvEnv('disabled', () => {
      expect(() => new AttentionPool({ threads: 1, kernel: 'js' })).toThrow(/ATTNPOOL_SPLIT_KV must be 'off' or 'auto'/);
    });
  });
});
