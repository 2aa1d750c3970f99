// Where a call runs: on the calling thread up to INLINE_MAX_FLOPS, else on the threads, in a phase
// shared with other small calls up to COALESCE_MAX_FLOPS. The flop count behind both is the keys each
// query row scores; under causal that is not half of Sq·Sk unless Sq = Sk (a decode step scores all).

import { describe, expect, it } from 'vitest';
import { COALESCE_MAX_FLOPS, INLINE_MAX_FLOPS, zeros } from '../dist/src/index.js';
import { scoredPairs } from '../dist/src/ops/attention-op.js';
import { hookedPool } from './support/faults.js';
import { attentionInputs } from './support/random.js';

/** The pairs a causal mask leaves, counted one by one: key j visible to row i iff j ≤ i + Sk − Sq
 *  (bottom-right) or j ≤ i (top-left). */
function countPairs(Sq: number, Sk: number, topLeft: boolean): number {
  let pairs = 0;
  for (let i = 0; i < Sq; i++) for (let j = 0; j < Sk; j++) if (j <= i + (topLeft ? 0 : Sk - Sq)) pairs++;
  return pairs;
}

describe('call placement', () => {
  it('scoredPairs is the count of visible (query, key) pairs', () => {
    for (const [Sq, Sk] of [[1, 1], [1, 1000], [5, 3], [3, 5], [64, 64], [100, 7], [7, 100], [0, 9], [9, 0]]) {
      expect(scoredPairs(Sq, Sk, true), `causal ${Sq}×${Sk}`).toBe(countPairs(Sq, Sk, false));
      expect(scoredPairs(Sq, Sk, true, true), `top-left causal ${Sq}×${Sk}`).toBe(countPairs(Sq, Sk, true));
      expect(scoredPairs(Sq, Sk, false), `${Sq}×${Sk}`).toBe(Sq * Sk);
    }
  });

  it('a causal decode step over the inline threshold runs on the threads; a causal prefill under it does not', async () => {
    const { pool, hooks } = hookedPool({ threads: 2 });
    try {
      // Sq = 1, Sk = 1100, H8, D = Dv = 64: 2·8·128·1100 = 2.25 MFLOP, all keys seen (halving would say 1.1).
      const decode = attentionInputs({ seed: 1, B: 1, H: 8, Hkv: 8, Sq: 1, Sk: 1100, D: 64, Dv: 64 });
      expect(2 * 8 * 128 * 1100).toBeGreaterThan(INLINE_MAX_FLOPS);
      await pool.attention(decode.q, decode.k, decode.v, { causal: true, lse: zeros([1, 8, 1]) });
      expect(hooks.phases, 'the decode step: one phase on the threads').toEqual([1]);
      // Sq = Sk = 64, H8, D = Dv = 24: 2·8·48 = 768 flops per pair; 4,096 pairs (3.1 MFLOP) unmasked,
      // 2,080 (1.6 MFLOP) causal: inline.
      const prefill = attentionInputs({ seed: 2, B: 1, H: 8, Hkv: 8, Sq: 64, Sk: 64, D: 24, Dv: 24 });
      hooks.phases.length = 0;
      await pool.attention(prefill.q, prefill.k, prefill.v, { causal: true });
      expect(hooks.phases, 'the causal prefill: on the calling thread').toEqual([]);
      await pool.attention(prefill.q, prefill.k, prefill.v);
      expect(hooks.phases, 'the same without causal: on the threads').toEqual([1]);
      expect(COALESCE_MAX_FLOPS).toBeGreaterThan(INLINE_MAX_FLOPS);
    } finally {
      await pool.close();
    }
  });
});
