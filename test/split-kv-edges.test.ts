// Split-KV on every kernel, where splits meet what is unusual in the inputs: splits whose keys are all
// masked merge without NaN (zeros and lse −Infinity where a row sees nothing), while a NaN in the
// inputs still reaches exactly the rows the unsplit kernel sends it to; the multi-head layer splits
// too, but never when the attention weights are asked for. Splitting is forced with the test-only
// split-KV pool option (testkit/hooks-option.ts).

import { describe, expect, it } from 'vitest';
import { expectAttentionClose, expectMaxAbsDiff, expectRelativeToMax, FLOAT32_RTOL } from './support/compare.js';
import { KERNELS } from './support/kernels.js';
import { attentionInputs, cloneTensor, mhaInputs, type TensorLike } from './support/random.js';
import { referenceAttention, referenceMultiHeadAttention } from './support/reference.js';
import { attend, splitSuitePools, TIMEOUT_MS } from './support/split-kv.js';

describe.each(KERNELS)('split-KV on kernel %s: masked splits, NaN, the multi-head layer', (kernel) => {
  const { forced } = splitSuitePools(kernel);

  describe('fully masked splits merge without NaN', () => {
    it('a mask hiding whole splits, and rows that see nothing at all', async () => {
      const spec = { seed: 821, B: 1, H: 2, Hkv: 2, Sq: 6, Sk: 1000, D: 16, Dv: 16, causal: false };
      const inputs = attentionInputs(spec);
      // Keys [128, 640) are hidden from every row: splits 1–4 of 128 keys are empty for all rows.
      // Rows 2 and 5 see nothing at all; row 3 sees only key 999 (in the last split).
      const mask = new Uint8Array(new SharedArrayBuffer(spec.Sq * spec.Sk)).fill(1);
      for (let i = 0; i < spec.Sq; i++) mask.fill(0, i * spec.Sk + 128, i * spec.Sk + 640);
      mask.fill(0, 2 * spec.Sk, 3 * spec.Sk);
      mask.fill(0, 5 * spec.Sk, 6 * spec.Sk);
      mask.fill(0, 3 * spec.Sk, 4 * spec.Sk - 1);
      const masked = { ...inputs, mask: { data: mask, shape: [spec.Sq, spec.Sk] } };
      const r = await attend(forced(128), spec, masked);
      expect(Array.from(r.out).some(Number.isNaN), 'no NaN anywhere').toBe(false);
      for (const h of [0, 1]) for (const i of [2, 5]) {
        const row = h * spec.Sq + i;
        expect(Array.from(r.out.subarray(row * spec.Dv, (row + 1) * spec.Dv)).every((x) => x === 0), `row ${h},${i} is zeros`).toBe(true);
        expect(r.lse[row], `row ${h},${i} lse`).toBe(-Infinity);
      }
      expectAttentionClose(r.out, r.lse, referenceAttention(masked.q, masked.k, masked.v, { mask: masked.mask }), 'masked splits');
    }, TIMEOUT_MS);

    it('causal with Sq > Sk: the first rows see no key, later rows see only early splits', async () => {
      const spec = { seed: 822, B: 1, H: 2, Hkv: 1, Sq: 400, Sk: 300, D: 16, Dv: 12, causal: true };
      const inputs = attentionInputs(spec);
      const r = await attend(forced(64), spec, inputs);
      expect(Array.from(r.out).some(Number.isNaN), 'no NaN anywhere').toBe(false);
      for (let h = 0; h < 2; h++) for (let i = 0; i < spec.Sq - spec.Sk; i++) expect(r.lse[h * spec.Sq + i]).toBe(-Infinity);
      expectAttentionClose(r.out, r.lse, referenceAttention(inputs.q, inputs.k, inputs.v, { causal: true }), 'causal Sq > Sk');
    }, TIMEOUT_MS);

    it('no key at all (Sk = 0), after a call that left values in the pool\'s scratch: zeros and lse −Infinity', async () => {
      const pool = forced(64);
      const before = { seed: 823, B: 1, H: 2, Hkv: 2, Sq: 3, Sk: 500, D: 16, Dv: 16, causal: false };
      await attend(pool, before, attentionInputs(before));
      const spec = { ...before, seed: 824, Sk: 0 };
      const r = await attend(pool, spec, attentionInputs(spec));
      expect(Array.from(r.out).every((x) => x === 0), 'out is zeros').toBe(true);
      expect(Array.from(r.lse).every((x) => x === -Infinity), 'lse is −Infinity').toBe(true);
    }, TIMEOUT_MS);
    it('splits no tile covers, after a call that left NaN in the pool\'s partial states: what the reference gives, bit-identical to before', async () => {
      // Causal with Sq > Sk and 64-key splits: the first row blocks see no split beyond their causal
      // end, so no tile writes those (split, row) pairs; only their m is set, to −Infinity, and their l
      // and acc are left as the scratch held them (src/ops/attention-phases.ts allocSplitKv).
      const pool = forced(64);
      const spec = { seed: 826, B: 1, H: 2, Hkv: 1, Sq: 400, Sk: 300, D: 16, Dv: 12, causal: true };
      const inputs = attentionInputs(spec);
      const first = await attend(pool, spec, inputs);
      // The same shape, so the same scratch buffers next: every value NaN, so every acc and l the
      // tiles write is NaN.
      const dirty = attentionInputs({ ...spec, seed: 827 });
      dirty.v.data.fill(NaN);
      const spoiled = await attend(pool, { ...spec, causal: false }, dirty);
      expect(Array.from(spoiled.out).every(Number.isNaN), 'the dirtying call: NaN everywhere').toBe(true);
      const again = await attend(pool, spec, inputs);
      expect(Array.from(again.out).some(Number.isNaN), 'no NaN anywhere').toBe(false);
      expect(Buffer.from(again.out.buffer, again.out.byteOffset, again.out.byteLength)
        .equals(Buffer.from(first.out.buffer, first.out.byteOffset, first.out.byteLength)), 'out: the same bits as before').toBe(true);
      expect(Array.from(again.lse)).toEqual(Array.from(first.lse));
      expectAttentionClose(again.out, again.lse, referenceAttention(inputs.q, inputs.k, inputs.v, { causal: true }), 'after NaN partials');
    }, TIMEOUT_MS);
  });

  describe('NaN in the inputs reaches the same rows as without splitting', () => {
    const spec = { seed: 831, B: 1, H: 4, Hkv: 2, Sq: 3, Sk: 700, D: 16, Dv: 16, causal: true };
    const inputs = attentionInputs(spec);
    const rowOf = (h: number, i: number) => h * spec.Sq + i;

    function poisoned(t: TensorLike, index: number): TensorLike {
      const copy = cloneTensor(t);
      copy.data[index] = NaN;
      return copy;
    }

    it('NaN in one query row: that row and its lse are NaN, the others match the reference', async () => {
      const q = poisoned(inputs.q, rowOf(1, 2) * spec.D + 3);
      const r = await attend(forced(128), spec, { ...inputs, q });
      expect(Array.from(r.out.subarray(rowOf(1, 2) * spec.Dv, rowOf(1, 3) * spec.Dv)).every(Number.isNaN)).toBe(true);
      expect(r.lse[rowOf(1, 2)]).toBeNaN();
      const ref = referenceAttention(q, inputs.k, inputs.v, { causal: true });
      expectMaxAbsDiff(r.out, ref.out, 1e-5, 'other rows', (n) => Math.floor(n / spec.Dv) !== rowOf(1, 2));
    }, TIMEOUT_MS);

    it('NaN in a key of one split: every row of that kv group is NaN (out and lse); the other group is not', async () => {
      const j = 400; // in split 3 of 128 keys, visible to every row
      const k = poisoned(inputs.k, (0 * spec.Sk + j) * spec.D);
      const r = await attend(forced(128), spec, { ...inputs, k });
      for (const h of [0, 1]) for (let i = 0; i < spec.Sq; i++) {
        expect(Array.from(r.out.subarray(rowOf(h, i) * spec.Dv, rowOf(h, i + 1) * spec.Dv)).every(Number.isNaN), `row ${h},${i}`).toBe(true);
        expect(r.lse[rowOf(h, i)]).toBeNaN();
      }
      const ref = referenceAttention(inputs.q, k, inputs.v, { causal: true });
      expectMaxAbsDiff(r.out, ref.out, 1e-5, 'kv group 1', (n) => Math.floor(n / spec.Dv) >= rowOf(2, 0));
    }, TIMEOUT_MS);

    it('NaN in a key and value that the mask hides (a whole masked split): no row is affected', async () => {
      const mask = new Uint8Array(new SharedArrayBuffer(spec.Sk)).fill(1).fill(0, 256, 384);
      const k = poisoned(inputs.k, (0 * spec.Sk + 300) * spec.D);
      const v = poisoned(inputs.v, (0 * spec.Sk + 300) * spec.Dv + 1);
      const masked = { q: inputs.q, k, v, mask: { data: mask, shape: [spec.Sk] } };
      const r = await attend(forced(128), spec, masked);
      expectAttentionClose(r.out, r.lse, referenceAttention(masked.q, k, v, { causal: true, mask: masked.mask }), 'masked NaN');
    }, TIMEOUT_MS);
  });

  describe('multiHeadAttention', () => {
    const spec = { seed: 841, B: 2, Sq: 3, Sk: 600, E: 32, selfAttention: false };
    const inputs = mhaInputs(spec);
    const ref = referenceMultiHeadAttention(inputs.query, inputs.key, inputs.value, inputs.weights, { numHeads: 4 });

    it('splits the attention phase and matches the reference', async () => {
      const { output } = await forced(128).multiHeadAttention(inputs.query, inputs.key, inputs.value, inputs.weights, { numHeads: 4 });
      expectRelativeToMax(output.data, ref.output, FLOAT32_RTOL, 'mha output');
    }, TIMEOUT_MS);

    it('does not split when weights are asked (they need the final max and sum): weights are right', async () => {
      const { output, attnWeights } = await forced(128).multiHeadAttention(inputs.query, inputs.key, inputs.value, inputs.weights, { numHeads: 4, needWeights: 'per-head' });
      expectRelativeToMax(output.data, ref.output, FLOAT32_RTOL, 'mha output');
      expectMaxAbsDiff(attnWeights!.data, ref.weightsPerHead, 1e-5, 'per-head weights');
    }, TIMEOUT_MS);
  });
});
