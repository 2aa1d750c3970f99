// Split-KV (flash-decoding): the keys of a row are cut into splits computed as separate tiles, and a merge
// phase combines their (max, sum, unnormalised output) with the log-sum-exp rule in split order.
// Checked here, on every kernel:
//   * split results equal the float64 reference (and the unsplit kernel) within the float32/float64
//     tolerances of the other suites, on awkward shapes (causal, mask, bias, GQA, odd D and Dv, Sk not a
//     multiple of 64, Sq > 1, splits of 64, 128 and 192 keys);
//   * they are bit-for-bit identical for 1, 2, 3, 4 and 8 threads;
//   * the golden sdpa-decode case forced through the split path matches PyTorch;
//   * pools take the planner's automatic decision when they should, and a pool built under
//     ATTNPOOL_SPLIT_KV=off does not split.
// The planner and the settings alone: split-kv-planner.test.ts; masked splits, NaN and the multi-head
// layer: split-kv-edges.test.ts. Splitting is forced with the test-only split-KV pool option
// (testkit/hooks-option.ts).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AttentionPool, zeros } from '../dist/src/index.js';
import { keysPerSplit, MIN_SPLIT_KEYS } from '../dist/src/plan/split-kv-plan.js';
import { SPLIT_KV_ENV } from '../dist/src/plan/split-kv-setting.js';
import { expectAttentionClose, expectLseClose, expectRelativeToMax, expectSameBits, firstBitDifference, FLOAT32_RTOL, FLOAT64_RTOL } from './support/compare.js';
import { loadGoldenCases, type SdpaCase } from './support/golden.js';
import { KERNELS, THREAD_COUNTS } from './support/kernels.js';
import { attentionInputs, type AttentionSpec } from './support/random.js';
import { referenceAttention } from './support/reference.js';
import { attend, splitPool, splitSuitePools, TIMEOUT_MS, withSplitKvEnv } from './support/split-kv.js';

interface Case extends AttentionSpec {
  readonly label: string;
  readonly causal: boolean;
  readonly keysPerSplit: number;
}

// Sizes above the 2 MFLOP inline threshold run on the workers; the small ones on the calling thread.
const cases: readonly Case[] = [
  { label: 'decode B2 H4 Sq1 Sk1000 D64, 128-key splits', seed: 801, B: 2, H: 4, Hkv: 4, Sq: 1, Sk: 1000, D: 64, Dv: 64, causal: true, keysPerSplit: 128 },
  { label: 'Sq5 Sk777 causal, GQA H6/Hkv2, odd D 37 Dv 19, 64-key splits', seed: 802, B: 1, H: 6, Hkv: 2, Sq: 5, Sk: 777, D: 37, Dv: 19, causal: true, keysPerSplit: 64 },
  { label: 'Sq40 Sk1500, MQA H3/Hkv1, mask [B,1,Sq,Sk], 192-key splits', seed: 803, B: 2, H: 3, Hkv: 1, Sq: 40, Sk: 1500, D: 24, Dv: 40, causal: false, keysPerSplit: 192, maskShape: [2, 1, 40, 1500] },
  { label: 'Sq17 Sk900 causal, bias [1,H,Sq,Sk], D 8 Dv 5, 128-key splits', seed: 804, B: 1, H: 2, Hkv: 2, Sq: 17, Sk: 900, D: 8, Dv: 5, causal: true, keysPerSplit: 128, biasShape: [1, 2, 17, 900] },
  { label: 'small on the calling thread: Sq3 Sk130 D4 Dv3, 64-key splits', seed: 805, B: 1, H: 1, Hkv: 1, Sq: 3, Sk: 130, D: 4, Dv: 3, causal: false, keysPerSplit: 64 },
  { label: 'float64 Sq2 Sk1100 causal GQA H4/Hkv2, 128-key splits', seed: 806, B: 2, H: 4, Hkv: 2, Sq: 2, Sk: 1100, D: 32, Dv: 24, causal: true, keysPerSplit: 128, dtype: 'float64' },
];

describe.each(KERNELS)('split-KV on kernel %s', (kernel) => {
  const { unsplit, forced } = splitSuitePools(kernel);

  it.each(cases)('$label: matches the reference and the unsplit kernel', async (c) => {
    const inputs = attentionInputs(c);
    const ref = referenceAttention(inputs.q, inputs.k, inputs.v, { causal: c.causal, mask: inputs.mask, bias: inputs.bias });
    const split = await attend(forced(c.keysPerSplit), c, inputs);
    const whole = await attend(unsplit(), c, inputs);
    expectAttentionClose(split.out, split.lse, ref, `${c.label} split`);
    expectAttentionClose(whole.out, whole.lse, ref, `${c.label} unsplit`);
    const rtol = c.dtype === 'float64' ? FLOAT64_RTOL : FLOAT32_RTOL;
    expectRelativeToMax(split.out, whole.out, rtol, `${c.label} split vs unsplit`);
    expectLseClose(split.lse, whole.lse, `${c.label} split vs unsplit lse`);
  }, TIMEOUT_MS);

  it('the split path is really taken: split and unsplit float32 results differ in some bits', async () => {
    // The merge divides in float64 and rescales per split, the unsplit wasm kernel divides in float32
    // and rescales per block: over 64k outputs some last bits must differ. (js computes both in float64
    // and may round them to the same float32, so only wasm is asserted.)
    if (kernel !== 'wasm') return;
    const c = cases[0];
    const inputs = attentionInputs(c);
    const split = await attend(forced(c.keysPerSplit), c, inputs);
    const whole = await attend(unsplit(), c, inputs);
    expect(firstBitDifference(split.out, whole.out)).toBeGreaterThanOrEqual(0);
  }, TIMEOUT_MS);

  it('the golden sdpa-decode case, forced through 64-key splits, matches PyTorch', async () => {
    const c = loadGoldenCases().find((g): g is SdpaCase => g.name === 'sdpa-decode');
    if (!c) throw new Error('golden case sdpa-decode is missing');
    const [B, H, Sq] = c.q.shape;
    const lse = zeros([B, H, Sq]);
    const out = await forced(64).attention(c.q, c.k, c.v, { causal: c.causal, lse });
    expectRelativeToMax(out.data, c.outF64.data, c.suggestedOutRtol, 'sdpa-decode out');
    expectLseClose(lse.data, c.lse.data, 'sdpa-decode lse');
    const single = splitPool(1, kernel, { keysPerSplit: 64 });
    try {
      const lse1 = zeros([B, H, Sq]);
      const out1 = await single.attention(c.q, c.k, c.v, { causal: c.causal, lse: lse1 });
      expectSameBits(out1.data, out.data, 'sdpa-decode split out, 1 vs 2 threads');
      expectSameBits(lse1.data, lse.data, 'sdpa-decode split lse, 1 vs 2 threads');
    } finally {
      await single.close();
    }
  }, TIMEOUT_MS);

  it('an automatically split call equals the call forced to the planner\'s split length', async () => {
    const spec = { seed: 807, B: 1, H: 2, Hkv: 1, Sq: 1, Sk: 4 * MIN_SPLIT_KEYS + 100, D: 32, Dv: 32, causal: true };
    const keys = keysPerSplit({ ...spec, weights: false });
    expect(keys, 'this shape splits automatically').toBeGreaterThan(0);
    const auto = splitPool(2, kernel);
    try {
      const inputs = attentionInputs(spec);
      const a = await attend(auto, spec, inputs);
      const f = await attend(forced(keys), spec, inputs);
      expectSameBits(a.out, f.out, 'auto vs forced out');
      expectSameBits(a.lse, f.lse, 'auto vs forced lse');
      expectAttentionClose(a.out, a.lse, referenceAttention(inputs.q, inputs.k, inputs.v, { causal: true }), 'auto split');
    } finally {
      await auto.close();
    }
  }, TIMEOUT_MS);

  it(`a pool built under ${SPLIT_KV_ENV}=off gives the unsplit bits, even once the variable is gone`, async () => {
    const spec = { seed: 808, B: 1, H: 2, Hkv: 1, Sq: 1, Sk: 4 * MIN_SPLIT_KEYS + 100, D: 32, Dv: 32, causal: true };
    expect(keysPerSplit({ ...spec, weights: false }), 'this shape splits automatically').toBeGreaterThan(0);
    const off = withSplitKvEnv('off', () => splitPool(2, kernel));
    try {
      const inputs = attentionInputs(spec);
      const a = await attend(off, spec, inputs);
      const u = await attend(unsplit(), spec, inputs);
      expectSameBits(a.out, u.out, `${SPLIT_KV_ENV}=off vs unsplit out`);
      expectSameBits(a.lse, u.lse, `${SPLIT_KV_ENV}=off vs unsplit lse`);
    } finally {
      await off.close();
    }
  }, TIMEOUT_MS);

  describe('bit-for-bit identical for every thread count', () => {
    const byThreads = new Map<number, AttentionPool>();
    beforeAll(() => {
      for (const threads of THREAD_COUNTS) byThreads.set(threads, splitPool(threads, kernel, { keysPerSplit: 128 }));
    });
    afterAll(async () => {
      await Promise.all([...byThreads.values()].map((p) => p.close()));
    });

    const determinismCases: readonly (AttentionSpec & { label: string; causal: boolean; window?: number })[] = [
      { label: 'decode B1 H3 Sq1 Sk3000 D64 causal', seed: 811, B: 1, H: 3, Hkv: 3, Sq: 1, Sk: 3000, D: 64, Dv: 64, causal: true },
      { label: 'Sq24 Sk1333 GQA H4/Hkv2, mask and bias, D 20 Dv 36', seed: 812, B: 1, H: 4, Hkv: 2, Sq: 24, Sk: 1333, D: 20, Dv: 36, causal: false, maskShape: [1, 1, 24, 1333], biasShape: [4, 24, 1333] },
      { label: 'Sq7 Sk2000 causal, window 700', seed: 813, B: 2, H: 2, Hkv: 2, Sq: 7, Sk: 2000, D: 32, Dv: 32, causal: true, window: 700 },
      { label: 'float64 Sq3 Sk1200 causal', seed: 814, B: 1, H: 2, Hkv: 2, Sq: 3, Sk: 1200, D: 16, Dv: 16, causal: true, dtype: 'float64' },
    ];

    it.each(determinismCases)('$label', async (c) => {
      const inputs = attentionInputs(c);
      const results = [];
      for (const threads of THREAD_COUNTS) results.push(await attend(byThreads.get(threads)!, c, inputs, c.window));
      results.forEach((r, n) => {
        expectSameBits(r.out, results[0].out, `out, ${THREAD_COUNTS[n]} vs ${THREAD_COUNTS[0]} threads`);
        expectSameBits(r.lse, results[0].lse, `lse, ${THREAD_COUNTS[n]} vs ${THREAD_COUNTS[0]} threads`);
      });
      const ref = referenceAttention(inputs.q, inputs.k, inputs.v, { causal: c.causal, window: c.window, mask: inputs.mask, bias: inputs.bias });
      expectAttentionClose(results[0].out, results[0].lse, ref, c.label);
    }, TIMEOUT_MS);
  });
});
