// Every golden case of test/golden through the public API, for every kernel, compared with
// PyTorch's float64 results at the case's suggested tolerance (see the golden README). Rows that torch
// returns as NaN (every key masked) are checked against attnpool's documented values instead:
// sdpa → zeros and lse −Infinity; mha → the output row equals outProjBias and the weights row is zero.
// Each case also runs on a 1-thread pool, whose bits must equal the 2-thread pool's.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, zeros } from '../dist/src/index.js';
import { expectLseClose, expectMaxAbsDiff, expectRelativeToMax, expectSameBits, WEIGHTS_ATOL } from './support/compare.js';
import { loadGoldenCases, manifestEntries, type MhaCase, type SdpaCase } from './support/golden.js';
import { KERNELS, kernelOptions } from './support/kernels.js';
import { referenceAttention, referenceMultiHeadAttention } from './support/reference.js';

const cases = loadGoldenCases();
const sdpaCases = cases.filter((c): c is SdpaCase => c.kind === 'sdpa');
const mhaCases = cases.filter((c): c is MhaCase => c.kind === 'mha');
const TIMEOUT_MS = 30_000;

describe('golden vectors', () => {
  it('every case of the manifest loads, with each file matching case.json', () => {
    expect(cases.map((c) => c.name)).toEqual(manifestEntries().map((e) => e.name));
    expect(sdpaCases.length).toBeGreaterThan(0);
    expect(mhaCases.length).toBeGreaterThan(0);
    expect(sdpaCases.length + mhaCases.length).toBe(cases.length);
  });

  // The float64 reference used by the other suites must reproduce torch's float64 results to rounding,
  // which also checks this suite's reading of the cases (mask polarity, scale, layout).
  it.each(sdpaCases)('the test reference reproduces $name', (c) => {
    const ref = referenceAttention(c.q, c.k, c.v, { causal: c.causal, mask: c.mask, bias: c.bias, scale: c.scale });
    const nan = nanRowsOfSdpa(c);
    expectRelativeToMax(ref.out, c.outF64.data, 1e-12, 'reference out', (n) => !nan.has(Math.floor(n / c.v.shape[3])));
    expectLseClose(ref.lse, c.lse.data, 'reference lse');
  });

  it.each(mhaCases)('the test reference reproduces $name', (c) => {
    const ref = referenceMultiHeadAttention(c.query, c.key, c.value, c, { numHeads: c.numHeads, causal: c.causal, keyPaddingMask: c.keyPaddingMask });
    expectRelativeToMax(ref.output, c.outF64.data, 1e-12, 'reference output');
    expectMaxAbsDiff(ref.weightsPerHead, c.attnWeights.data, 1e-6, 'reference weights');
    expectMaxAbsDiff(ref.weightsAverage, c.attnWeightsAvg.data, 1e-6, 'reference average weights');
  });
});

/** Flat row indices (b·H + h)·Sq + i of the sdpa rows torch returns as NaN. */
function nanRowsOfSdpa(c: SdpaCase): Set<number> {
  const [, H, Sq] = c.q.shape;
  return new Set(c.expectNanRows.map(([b, h, i]) => (b * H + h) * Sq + i));
}

/** Flat row indices b·Sq + i of the mha rows torch returns as NaN. */
function nanRowsOfMha(c: MhaCase): Set<number> {
  const Sq = c.query.shape[1];
  return new Set(c.expectNanRows.map(([b, i]) => b * Sq + i));
}

describe.each(KERNELS)('golden cases on kernel %s', (kernel) => {
  let pool: AttentionPool;
  let singleThread: AttentionPool;
  beforeAll(() => {
    pool = new AttentionPool({ threads: 2, ...kernelOptions(kernel) });
    singleThread = new AttentionPool({ threads: 1, ...kernelOptions(kernel) });
  });
  afterAll(async () => {
    await pool?.close();
    await singleThread?.close();
  });

  async function runSdpa(p: AttentionPool, c: SdpaCase) {
    const [B, H, Sq] = c.q.shape;
    const lse = zeros([B, H, Sq]);
    const out = await p.attention(c.q, c.k, c.v, {
      causal: c.causal,
      ...(c.mask && { mask: c.mask }),
      ...(c.bias && { bias: c.bias }),
      ...(c.scale !== undefined && { scale: c.scale }),
      lse,
    });
    return { out, lse };
  }

  it.each(sdpaCases)('sdpa $name', async (c) => {
    const { out, lse } = await runSdpa(pool, c);
    const [B, H, Sq] = c.q.shape;
    const Dv = c.v.shape[3];
    expect(out.shape).toEqual([B, H, Sq, Dv]);
    expect(out.data).toBeInstanceOf(Float32Array);

    const nan = nanRowsOfSdpa(c);
    expectRelativeToMax(out.data, c.outF64.data, c.suggestedOutRtol, `${c.name} out`, (n) => !nan.has(Math.floor(n / Dv)));
    expectLseClose(lse.data, c.lse.data, `${c.name} lse`, (row) => !nan.has(row));
    for (const row of nan) {
      expect(Array.from(out.data.subarray(row * Dv, (row + 1) * Dv)).map(Math.abs), `fully masked row ${row}: zeros`).toEqual(new Array(Dv).fill(0));
      expect(lse.data[row], `fully masked row ${row}: lse`).toBe(-Infinity);
    }

    const single = await runSdpa(singleThread, c);
    expectSameBits(single.out.data, out.data, `${c.name} out, 1 vs 2 threads`);
    expectSameBits(single.lse.data, lse.data, `${c.name} lse, 1 vs 2 threads`);
  }, TIMEOUT_MS);

  async function runMha(p: AttentionPool, c: MhaCase, needWeights: 'per-head' | 'average' | false) {
    // Self-attention passes one tensor three times, as API.md describes (key.npy holds the same values).
    const key = c.selfAttention ? c.query : c.key;
    const value = c.selfAttention ? c.query : c.value;
    const weights = { inProjWeight: c.inProjWeight, inProjBias: c.inProjBias, outProjWeight: c.outProjWeight, outProjBias: c.outProjBias };
    return p.multiHeadAttention(c.query, key, value, weights, {
      numHeads: c.numHeads,
      causal: c.causal,
      ...(c.keyPaddingMask && { keyPaddingMask: c.keyPaddingMask }),
      needWeights,
    });
  }

  function expectMhaOutput(c: MhaCase, output: { data: Float32Array; shape: readonly number[] }, label: string): void {
    const [B, Sq, E] = c.query.shape;
    expect(output.shape, `${label} shape`).toEqual([B, Sq, E]);
    expect(output.data).toBeInstanceOf(Float32Array);
    const nan = nanRowsOfMha(c);
    expectRelativeToMax(output.data, c.outF64.data, c.suggestedOutRtol, label, (n) => !nan.has(Math.floor(n / E)));
    for (const row of nan) {
      expect(Array.from(output.data.subarray(row * E, (row + 1) * E)), `${label}: fully masked row ${row} = outProjBias`).toEqual(Array.from(c.outProjBias.data));
    }
  }

  it.each(mhaCases)('mha $name, per-head weights', async (c) => {
    const { output, attnWeights } = await runMha(pool, c, 'per-head');
    expectMhaOutput(c, output, `${c.name} output`);
    if (attnWeights === undefined || attnWeights === null) throw new Error('needWeights: per-head returned no weights');
    expect(attnWeights.shape).toEqual(c.attnWeights.shape);
    const [, H, Sq, Sk] = c.attnWeights.shape;
    const nan = nanRowsOfMha(c);
    // weights row (b, h, i) → mha row b·Sq + i
    const rowOf = (n: number): number => Math.floor(n / (H * Sq * Sk)) * Sq + (Math.floor(n / Sk) % Sq);
    expectMaxAbsDiff(attnWeights.data, c.attnWeights.data, WEIGHTS_ATOL, `${c.name} weights`, (n) => !nan.has(rowOf(n)));
    for (let n = 0; n < attnWeights.data.length; n++) {
      if (nan.has(rowOf(n))) expect(attnWeights.data[n], `weights [${n}] of a fully masked row`).toBe(0);
    }

    const single = await runMha(singleThread, c, 'per-head');
    expectSameBits(single.output.data, output.data, `${c.name} output, 1 vs 2 threads`);
    expectSameBits(single.attnWeights!.data, attnWeights.data, `${c.name} weights, 1 vs 2 threads`);
  }, TIMEOUT_MS);

  it.each(mhaCases)('mha $name, average weights', async (c) => {
    const { output, attnWeights } = await runMha(pool, c, 'average');
    expectMhaOutput(c, output, `${c.name} output`);
    if (attnWeights === undefined || attnWeights === null) throw new Error('needWeights: average returned no weights');
    expect(attnWeights.shape).toEqual(c.attnWeightsAvg.shape);
    const [, Sq, Sk] = c.attnWeightsAvg.shape;
    const nan = nanRowsOfMha(c);
    const rowOf = (n: number): number => Math.floor(n / Sk); // b·Sq + i
    expectMaxAbsDiff(attnWeights.data, c.attnWeightsAvg.data, WEIGHTS_ATOL, `${c.name} average weights`, (n) => !nan.has(rowOf(n)));
    for (const row of nan) expect(Array.from(attnWeights.data.subarray(row * Sk, (row + 1) * Sk)).every((w) => w === 0)).toBe(true);
    expect(Sq * Sk * c.query.shape[0]).toBe(attnWeights.data.length);

    const single = await runMha(singleThread, c, 'average');
    expectSameBits(single.attnWeights!.data, attnWeights.data, `${c.name} average weights, 1 vs 2 threads`);
  }, TIMEOUT_MS);

  it.each(mhaCases)('mha $name without weights', async (c) => {
    const { output, attnWeights } = await runMha(pool, c, false);
    expectMhaOutput(c, output, `${c.name} output`);
    expect(attnWeights ?? undefined, 'no weights unless asked').toBeUndefined();
  }, TIMEOUT_MS);
});
