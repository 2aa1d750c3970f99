// Which build of the wasm kernel a pool runs. vitest.config.ts runs the kernel suites twice: on plain
// Node 20 the relaxed-SIMD build must be refused and the plain-SIMD build used; with
// --experimental-wasm-relaxed-simd (project 'relaxed-simd', which sets ATTNPOOL_EXPECT_WASM_VARIANT)
// the fused multiply-add build must be picked — otherwise that project would silently re-test the
// plain build.

import { describe, expect, it } from 'vitest';
import { AttentionPool } from '../dist/src/index.js';

const expected = process.env.ATTNPOOL_EXPECT_WASM_VARIANT ?? 'simd';

describe('wasm kernel build', () => {
  it(`a pool on this runtime runs the '${expected}' build`, async () => {
    const pool = new AttentionPool({ threads: 1, kernel: 'wasm' });
    try {
      expect(pool.kernel).toBe('wasm');
      expect(pool.wasmVariant).toBe(expected);
    } finally {
      await pool.close();
    }
  });

  it('a js pool reports no wasm build', async () => {
    const pool = new AttentionPool({ threads: 1, kernel: 'js' });
    try {
      expect(pool.wasmVariant).toBeNull();
    } finally {
      await pool.close();
    }
  });
});
