// Sliding-window (local) attention: pool.attention(q, k, v, { causal: true, window: w }) lets query i see
// keys j with i' − w < j ≤ i', i' = i + Sk − Sq. Checked on every kernel, unsplit and through split-KV:
//   * against the same call with an explicit band mask (a bool mask built here and passed through the
//     `mask` option) and against the naive float64 reference, for w ∈ {1, 7, 64, 100, Sk, > Sk},
//     with Sq < Sk, Sq = Sk and Sq > Sk;
//   * a window covering every key is plain causal attention, bit for bit (no row's first block moves);
//   * bit-for-bit identical results for 1, 2, 3, 4 and 8 threads;
//   * validation: a positive integer, and only with causal: true.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, zeros } from '../dist/src/index.js';
import { splitKvOption } from '../dist/testkit/hooks-option.js';
import { caught, expectAttentionClose, expectLseClose, expectRelativeToMax, expectSameBits, FLOAT32_RTOL, FLOAT64_RTOL } from './support/compare.js';
import { KERNELS, THREAD_COUNTS } from './support/kernels.js';
import { attentionInputs, type AttentionInputs, type AttentionSpec, type TensorLike } from './support/random.js';
import { referenceAttention } from './support/reference.js';

const TIMEOUT_MS = 120_000;

type Split = { readonly keysPerSplit: number } | 'off';

function pool(threads: number, kernel: 'js' | 'wasm', split: Split): AttentionPool {
  return new AttentionPool({ threads, kernel, ...splitKvOption(split) });
}

/** The window as an explicit [Sq, Sk] bool mask (1 = may attend): keys j with i' − w < j, i' = i + Sk − Sq.
 *  Causal masking (j ≤ i') is left to the causal option. */
function bandMask(Sq: number, Sk: number, w: number): TensorLike<Uint8Array> {
  const data = new Uint8Array(new SharedArrayBuffer(Sq * Sk));
  for (let i = 0; i < Sq; i++) for (let j = 0; j < Sk; j++) data[i * Sk + j] = j > i + Sk - Sq - w ? 1 : 0;
  return { data, shape: [Sq, Sk] };
}

interface Shape extends AttentionSpec {
  readonly label: string;
}

const shapes: readonly Shape[] = [
  { label: 'Sq300 Sk300 H2 D32', seed: 901, B: 1, H: 2, Hkv: 2, Sq: 300, Sk: 300, D: 32, Dv: 32 },
  { label: 'Sq100 Sk333 GQA H4/Hkv2 D20 Dv12', seed: 902, B: 2, H: 4, Hkv: 2, Sq: 100, Sk: 333, D: 20, Dv: 12 },
  { label: 'Sq150 Sk90 (rows before the keys see nothing) D8', seed: 903, B: 1, H: 3, Hkv: 3, Sq: 150, Sk: 90, D: 8, Dv: 8 },
  { label: 'float64 Sq130 Sk200 D16', seed: 904, B: 1, H: 2, Hkv: 1, Sq: 130, Sk: 200, D: 16, Dv: 16, dtype: 'float64' },
];

const windows = (Sk: number) => [1, 7, 64, 100, Sk, Sk + 50];

async function attend(p: AttentionPool, s: AttentionSpec, inputs: AttentionInputs, options: { window?: number; mask?: TensorLike<Uint8Array> }) {
  const lse = zeros([s.B, s.H, s.Sq], s.dtype ?? 'float32');
  const out = await p.attention(inputs.q, inputs.k, inputs.v, { causal: true, ...options, lse });
  return { out: out.data, lse: lse.data };
}

describe.each(KERNELS)('sliding window on kernel %s', (kernel) => {
  let unsplit: AttentionPool;
  let split: AttentionPool;
  beforeAll(() => {
    unsplit = pool(2, kernel, 'off');
    split = pool(2, kernel, { keysPerSplit: 64 });
  });
  afterAll(async () => {
    await unsplit?.close();
    await split?.close();
  });

  describe.each(shapes)('$label', (s) => {
    const inputs = attentionInputs(s);
    it.each(windows(s.Sk))('window %i: equals the band mask and the reference, unsplit and split', async (w) => {
      const ref = referenceAttention(inputs.q, inputs.k, inputs.v, { causal: true, window: w });
      const band = bandMask(s.Sq, s.Sk, w);
      // The band mask through the public mask option must agree with the reference's own window rule.
      expectAttentionClose(ref.out, ref.lse, referenceAttention(inputs.q, inputs.k, inputs.v, { causal: true, mask: band }), 'reference: window vs band');
      const masked = await attend(unsplit, s, inputs, { mask: band });
      const rtol = s.dtype === 'float64' ? FLOAT64_RTOL : FLOAT32_RTOL;
      for (const [label, p] of [['unsplit', unsplit], ['split', split]] as const) {
        const r = await attend(p, s, inputs, { window: w });
        expectAttentionClose(r.out, r.lse, ref, `window ${w}, ${label}`);
        expectRelativeToMax(r.out, masked.out, rtol, `window ${w}, ${label} vs band mask`);
        expectLseClose(r.lse, masked.lse, `window ${w}, ${label} vs band mask lse`);
      }
    }, TIMEOUT_MS);

    it('a window covering every key is causal attention, bit for bit', async () => {
      const plain = await attend(unsplit, s, inputs, {});
      const wide = await attend(unsplit, s, inputs, { window: s.Sk });
      expectSameBits(wide.out, plain.out, 'window Sk vs causal out');
      expectSameBits(wide.lse, plain.lse, 'window Sk vs causal lse');
    }, TIMEOUT_MS);
  });

  describe('bit-for-bit identical for every thread count', () => {
    const pools = new Map<string, AttentionPool>();
    beforeAll(() => {
      for (const threads of THREAD_COUNTS) {
        pools.set(`${threads} unsplit`, pool(threads, kernel, 'off'));
        pools.set(`${threads} split`, pool(threads, kernel, { keysPerSplit: 128 }));
      }
    });
    afterAll(async () => {
      await Promise.all([...pools.values()].map((p) => p.close()));
    });

    const cases: readonly (AttentionSpec & { label: string; window: number })[] = [
      { label: 'Sq600 Sk600 H2 D32, window 100', seed: 911, B: 1, H: 2, Hkv: 2, Sq: 600, Sk: 600, D: 32, Dv: 32, window: 100 },
      { label: 'Sq200 Sk700 GQA H4/Hkv1 D24 Dv16, window 333', seed: 912, B: 1, H: 4, Hkv: 1, Sq: 200, Sk: 700, D: 24, Dv: 16, window: 333 },
    ];

    it.each(cases)('$label', async (c) => {
      const inputs = attentionInputs(c);
      const ref = referenceAttention(inputs.q, inputs.k, inputs.v, { causal: true, window: c.window });
      for (const mode of ['unsplit', 'split']) {
        const results = [];
        for (const threads of THREAD_COUNTS) results.push(await attend(pools.get(`${threads} ${mode}`)!, c, inputs, { window: c.window }));
        results.forEach((r, n) => {
          expectSameBits(r.out, results[0].out, `${mode} out, ${THREAD_COUNTS[n]} vs ${THREAD_COUNTS[0]} threads`);
          expectSameBits(r.lse, results[0].lse, `${mode} lse, ${THREAD_COUNTS[n]} vs ${THREAD_COUNTS[0]} threads`);
        });
        expectAttentionClose(results[0].out, results[0].lse, ref, `${c.label} ${mode}`);
      }
    }, TIMEOUT_MS);
  });
});

describe('options.window validation', () => {
  let p: AttentionPool;
  beforeAll(() => {
    p = new AttentionPool({ threads: 1 });
  });
  afterAll(async () => {
    await p?.close();
  });
  const { q, k, v } = attentionInputs({ seed: 921, B: 1, H: 1, Hkv: 1, Sq: 4, Sk: 4, D: 4, Dv: 4 });

  it.each([
    { label: 'without causal', options: { window: 3 }, error: RangeError, message: /options\.window requires options\.causal: true.*got causal: false/ },
    { label: 'with causal: false', options: { window: 3, causal: false }, error: RangeError, message: /options\.window requires options\.causal/ },
    { label: 'zero', options: { window: 0, causal: true }, error: RangeError, message: /options\.window must be a positive integer, got 0/ },
    { label: 'negative', options: { window: -2, causal: true }, error: RangeError, message: /options\.window must be a positive integer, got -2/ },
    { label: 'fractional', options: { window: 1.5, causal: true }, error: RangeError, message: /options\.window must be a positive integer, got 1\.5/ },
    { label: 'NaN', options: { window: NaN, causal: true }, error: RangeError, message: /options\.window must be a positive integer, got NaN/ },
    { label: 'Infinity', options: { window: Infinity, causal: true }, error: RangeError, message: /options\.window must be a positive integer, got Infinity/ },
    { label: 'a string', options: { window: '3', causal: true }, error: TypeError, message: /options\.window must be a number, got "3"/ },
  ])('rejects a window $label', async ({ options, error, message }) => {
    const err = await caught(() => p.attention(q, k, v, options as never));
    expect(err).toBeInstanceOf(error);
    expect((err as Error).message).toMatch(/^attention: /);
    expect((err as Error).message).toMatch(message);
  });

  it('the pool keeps working after the errors', async () => {
    const out = await p.attention(q, k, v, { causal: true, window: 2 });
    expectAttentionClose(out.data, undefined, referenceAttention(q, k, v, { causal: true, window: 2 }), 'window 2');
  });
});
