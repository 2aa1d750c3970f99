/**
 * The onnxruntime peer computes what attnpool computes, before anyone times it: its models are
 * compared with a plain float64 reference written here (attention core with and without the causal
 * mask, and the full nn.MultiheadAttention layer), and the layout converters with the index formula.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadOrtPeer, type OrtPeer, type OrtPeerConfig } from '../dist/cli/ort/ort-peer.js';
import { headsToTokens, tokensToHeads } from '../dist/cli/ort/layout.js';
import type { LayerWeights } from '../dist/cli/ort/onnx-models.js';
import { seededRandom, uniformArray } from '../dist/bench/peer/random.js';

// float32 inputs, float32 arithmetic in ORT: sums over ≤ 512 terms of O(1) values round to ~1e-7
// each (measured ≤ 5e-7 here); 1e-6 leaves room for that, and a wrong mask, scale or layout gives errors ≥ 1e-2.
const CORE_TOLERANCE = 1e-6;
// The layer adds three rounded projections before and one after attention (E-term dot products).
const LAYER_TOLERANCE = 2e-6;

/** Attention core on [B, S, E] interleaved tokens, in float64; causal means key j <= query i. */
function referenceAttention(
  q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>,
  batch: number, querySeq: number, keySeq: number, heads: number, headDim: number, causal: boolean,
): Float64Array {
  const embed = heads * headDim;
  const out = new Float64Array(batch * querySeq * embed);
  const scores = new Float64Array(keySeq);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < querySeq; i++) {
        const qRow = (b * querySeq + i) * embed + h * headDim;
        const visible = causal ? i + 1 : keySeq;
        let max = -Infinity;
        for (let j = 0; j < visible; j++) {
          const kRow = (b * keySeq + j) * embed + h * headDim;
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += q[qRow + d] * k[kRow + d];
          scores[j] = dot / Math.sqrt(headDim);
          max = Math.max(max, scores[j]);
        }
        let sum = 0;
        for (let j = 0; j < visible; j++) sum += (scores[j] = Math.exp(scores[j] - max));
        for (let j = 0; j < visible; j++) {
          const vRow = (b * keySeq + j) * embed + h * headDim;
          for (let d = 0; d < headDim; d++) out[qRow + d] += (scores[j] / sum) * v[vRow + d];
        }
      }
    }
  }
  return out;
}

/** y = x·Wᵀ + b over rows of x, with W [out, in] starting at row `firstRow` of `weight`. */
function referenceLinear(
  x: ArrayLike<number>, rows: number, embed: number,
  weight: Float32Array, firstRow: number, bias: Float32Array | undefined,
): Float64Array {
  const y = new Float64Array(rows * embed);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < embed; o++) {
      let acc = bias ? bias[firstRow + o] : 0;
      for (let i = 0; i < embed; i++) acc += x[r * embed + i] * weight[(firstRow + o) * embed + i];
      y[r * embed + o] = acc;
    }
  }
  return y;
}

function referenceLayer(
  query: Float32Array, key: Float32Array, value: Float32Array, w: LayerWeights,
  batch: number, querySeq: number, keySeq: number, heads: number, headDim: number, causal: boolean,
): Float64Array {
  const e = heads * headDim;
  const q = referenceLinear(query, batch * querySeq, e, w.inProjWeight, 0, w.inProjBias);
  const k = referenceLinear(key, batch * keySeq, e, w.inProjWeight, e, w.inProjBias);
  const v = referenceLinear(value, batch * keySeq, e, w.inProjWeight, 2 * e, w.inProjBias);
  const attention = referenceAttention(q, k, v, batch, querySeq, keySeq, heads, headDim, causal);
  return referenceLinear(attention, batch * querySeq, e, w.outProjWeight, 0, w.outProjBias);
}

function maxAbsError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  return worst;
}

const peers: OrtPeer[] = [];
async function peer(config: OrtPeerConfig): Promise<OrtPeer> {
  const loaded = await loadOrtPeer(config);
  if (!loaded) throw new Error('onnxruntime-node is a devDependency and must be installed for this test');
  peers.push(loaded);
  return loaded;
}
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.release()));
});

describe('ORT MultiHeadAttention model (attention core)', () => {
  const cases = [
    { batch: 1, seq: 37, heads: 8, headDim: 64, causal: false },
    { batch: 1, seq: 37, heads: 8, headDim: 64, causal: true },
    { batch: 2, seq: 19, heads: 3, headDim: 5, causal: false },
    { batch: 2, seq: 19, heads: 3, headDim: 5, causal: true },
  ];
  for (const { batch, seq, heads, headDim, causal } of cases) {
    it(`B${batch} S${seq} H${heads} D${headDim} causal=${causal} matches the float64 reference`, async () => {
      const next = seededRandom(seq * 1000 + heads * 10 + Number(causal));
      const n = batch * seq * heads * headDim;
      // Scores of O(±3) make softmax far from uniform, so a wrong scale or mask shows.
      const [q, k, v] = [uniformArray(n, next, 2), uniformArray(n, next, 2), uniformArray(n, next)];
      const ort = await peer({ model: 'attention', numHeads: heads, embedDim: heads * headDim, causal, threads: 1 });
      const out = await ort.run({ query: q, key: k, value: v, batch, querySeq: seq });
      const expected = referenceAttention(q, k, v, batch, seq, seq, heads, headDim, causal);
      expect(maxAbsError(out, expected)).toBeLessThan(CORE_TOLERANCE);
    });
  }

  it('gives the same output on 2 threads and accepts SharedArrayBuffer-backed inputs', async () => {
    const next = seededRandom(7);
    const n = 50 * 512;
    const [q, k, v] = [uniformArray(n, next), uniformArray(n, next), uniformArray(n, next)];
    const shared = (a: Float32Array) => {
      const s = new Float32Array(new SharedArrayBuffer(a.byteLength));
      s.set(a);
      return s;
    };
    const config = { model: 'attention', numHeads: 8, embedDim: 512, causal: true } as const;
    const oneThread = await peer({ ...config, threads: 1 });
    const twoThreads = await peer({ ...config, threads: 2 });
    const one = await oneThread.run({ query: q, key: k, value: v, batch: 1, querySeq: 50 });
    const two = await twoThreads.run({ query: shared(q), key: shared(k), value: shared(v), batch: 1, querySeq: 50 });
    expect(maxAbsError(two, one)).toBeLessThan(CORE_TOLERANCE);
  });

  it('rejects inputs whose length does not match the stated shape, naming the input', async () => {
    const ort = await peer({ model: 'attention', numHeads: 2, embedDim: 8, causal: false, threads: 1 });
    const x = new Float32Array(3 * 8);
    await expect(ort.run({ query: x, key: x, value: x.subarray(1), batch: 1, querySeq: 3 }))
      .rejects.toThrow(/value must hold \[1, 3, 8\] = 24 values, got 23/);
  });
});

describe('ORT layer model (nn.MultiheadAttention: projections + MultiHeadAttention)', () => {
  const cases = [
    { batch: 1, querySeq: 29, keySeq: 29, heads: 8, headDim: 64, causal: false, self: true },
    { batch: 1, querySeq: 29, keySeq: 29, heads: 8, headDim: 64, causal: true, self: true },
    { batch: 2, querySeq: 7, keySeq: 13, heads: 4, headDim: 6, causal: false, self: false },
  ];
  for (const { batch, querySeq, keySeq, heads, headDim, causal, self } of cases) {
    const name = `B${batch} Sq${querySeq} Sk${keySeq} H${heads} D${headDim} causal=${causal} ${self ? 'self' : 'cross'}`;
    it(name, async () => {
      const next = seededRandom(querySeq * 100 + keySeq + Number(causal));
      const e = heads * headDim;
      // PyTorch's init scale (±1/√E) keeps projected values O(1).
      const bound = 1 / Math.sqrt(e);
      const weights: LayerWeights = {
        inProjWeight: uniformArray(3 * e * e, next, bound),
        inProjBias: uniformArray(3 * e, next, bound),
        outProjWeight: uniformArray(e * e, next, bound),
        outProjBias: uniformArray(e, next, bound),
      };
      const query = uniformArray(batch * querySeq * e, next, 2);
      const key = self ? query : uniformArray(batch * keySeq * e, next, 2);
      const value = self ? query : uniformArray(batch * keySeq * e, next, 2);
      const ort = await peer({ model: 'layer', numHeads: heads, embedDim: e, causal, threads: 1, weights });
      const out = await ort.run({ query, key, value, batch, querySeq, keySeq });
      const expected = referenceLayer(query, key, value, weights, batch, querySeq, keySeq, heads, headDim, causal);
      expect(maxAbsError(out, expected)).toBeLessThan(LAYER_TOLERANCE);
    });
  }

  it('runs without biases (PyTorch bias=False)', async () => {
    const next = seededRandom(11);
    const e = 16;
    const weights: LayerWeights = {
      inProjWeight: uniformArray(3 * e * e, next, 0.25),
      outProjWeight: uniformArray(e * e, next, 0.25),
    };
    const x = uniformArray(9 * e, next, 2);
    const ort = await peer({ model: 'layer', numHeads: 2, embedDim: e, causal: false, threads: 1, weights });
    const out = await ort.run({ query: x, key: x, value: x, batch: 1, querySeq: 9 });
    expect(maxAbsError(out, referenceLayer(x, x, x, weights, 1, 9, 9, 2, 8, false))).toBeLessThan(LAYER_TOLERANCE);
  });
});

describe('layout converters', () => {
  const layout = { batch: 2, heads: 3, seq: 4, headDim: 5 };
  const n = 2 * 3 * 4 * 5;
  const split = Float32Array.from({ length: n }, (_, i) => i);

  it('puts element (b, h, s, d) of [B, H, S, D] at b·S·E + s·E + h·D + d', () => {
    const tokens = headsToTokens(split, layout);
    const e = layout.heads * layout.headDim;
    for (let b = 0; b < 2; b++) for (let h = 0; h < 3; h++) for (let s = 0; s < 4; s++) for (let d = 0; d < 5; d++) {
      expect(tokens[(b * 4 + s) * e + h * 5 + d]).toBe(split[((b * 3 + h) * 4 + s) * 5 + d]);
    }
  });

  it('tokensToHeads undoes headsToTokens and writes into a given array', () => {
    const out = new Float32Array(n);
    expect(tokensToHeads(headsToTokens(split, layout), layout, out)).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(split));
  });

  it('rejects a wrong length with a RangeError naming the sizes', () => {
    expect(() => headsToTokens(split.subarray(1), layout)).toThrow(RangeError);
    expect(() => headsToTokens(split.subarray(1), layout)).toThrow(/120 values, got 119/);
  });
});
