// Split-KV (flash-decoding): the keys of a row are cut into splits computed as separate tiles, and a merge
// phase combines their (max, sum, unnormalised output) with the log-sum-exp rule in split order.
// Checked here, on every kernel:
//   * split results equal the float64 reference (and the unsplit kernel) within the float32/float64
//     tolerances of the other suites, on awkward shapes (causal, mask, bias, GQA, odd D and Dv, Sk not a
//     multiple of 64, Sq > 1, splits of 64, 128 and 192 keys);
//   * they are bit-for-bit identical for 1, 2, 3, 4 and 8 threads;
//   * the golden sdpa-decode case forced through the split path matches PyTorch;
//   * splits whose keys are all masked merge without NaN (zeros and lse −Infinity where a row sees
//     nothing), while a NaN in the inputs still reaches exactly the rows the unsplit kernel sends it to;
//   * the planner's automatic decision depends on the shape only, and pools take it when they should;
//   * the multi-head layer splits too, but never when the attention weights are asked for.
//   * the diagnostic switch ATTNPOOL_SPLIT_KV=off, read when a pool is built, turns splitting off.
// Splitting is forced with the test-only split-KV pool option (testkit/hooks-option.ts).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, zeros } from '../dist/src/index.js';
import { splitKvOption } from '../dist/testkit/hooks-option.js';
import { keysPerSplit, MIN_SPLIT_KEYS, SPLIT_TARGET_TILES } from '../dist/src/plan/split-kv-plan.js';
import { resolveSplitKvSetting, splitKeysFor, SPLIT_KV_ENV } from '../dist/src/plan/split-kv-setting.js';
import {
  expectAttentionClose, expectLseClose, expectMaxAbsDiff, expectRelativeToMax, expectSameBits, firstBitDifference, FLOAT32_RTOL, FLOAT64_RTOL,
} from './support/compare.js';
import { loadGoldenCases, type SdpaCase } from './support/golden.js';
import { KERNELS, THREAD_COUNTS } from './support/kernels.js';
import { attentionInputs, cloneTensor, mhaInputs, type AttentionInputs, type AttentionSpec, type TensorLike } from './support/random.js';
import { referenceAttention, referenceMultiHeadAttention } from './support/reference.js';

const TIMEOUT_MS = 120_000;

type SplitOption = { readonly keysPerSplit: number } | 'off';

/** `body`'s result, with ATTNPOOL_SPLIT_KV set to `value` while it runs (pools read it when built). */
function withSplitKvEnv<T>(value: string, body: () => T): T {
  const before = process.env[SPLIT_KV_ENV];
  process.env[SPLIT_KV_ENV] = value;
  try {
    return body();
  } finally {
    if (before === undefined) delete process.env[SPLIT_KV_ENV];
    else process.env[SPLIT_KV_ENV] = before;
  }
}

function splitPool(threads: number, kernel: 'js' | 'wasm', split?: SplitOption): AttentionPool {
  return new AttentionPool({ threads, kernel, ...splitKvOption(split) });
}

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

async function attend(pool: AttentionPool, c: { B: number; H: number; Sq: number; causal: boolean; dtype?: 'float32' | 'float64' }, inputs: AttentionInputs, window?: number) {
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

describe.each(KERNELS)('split-KV on kernel %s', (kernel) => {
  const pools = new Map<number, AttentionPool>();
  let unsplit: AttentionPool;
  beforeAll(() => {
    unsplit = splitPool(2, kernel, 'off');
  });
  afterAll(async () => {
    await unsplit?.close();
    await Promise.all([...pools.values()].map((p) => p.close()));
  });
  /** A 2-thread pool forcing splits of this length (one per length, reused). */
  function forced(keys: number): AttentionPool {
    let p = pools.get(keys);
    if (!p) pools.set(keys, (p = splitPool(2, kernel, { keysPerSplit: keys })));
    return p;
  }

  it.each(cases)('$label: matches the reference and the unsplit kernel', async (c) => {
    const inputs = attentionInputs(c);
    const ref = referenceAttention(inputs.q, inputs.k, inputs.v, { causal: c.causal, mask: inputs.mask, bias: inputs.bias });
    const split = await attend(forced(c.keysPerSplit), c, inputs);
    const whole = await attend(unsplit, c, inputs);
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
    const whole = await attend(unsplit, c, inputs);
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
      const u = await attend(unsplit, spec, inputs);
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
