// The remote engine on every golden case of test/golden: results within the case's suggested
// tolerance of PyTorch's float64 output (fully masked rows as documented: sdpa zeros and lse
// −Infinity; mha the out-projection bias), and bit for bit the in-thread pool's results with the same
// kernel — the engine moves work to another thread, it must not change a single bit. Inputs go in
// both as shared memory (zero-copy) and as plain arrays (copied once); results come back shared.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, createRemoteEngine, type RemoteEngine } from '../dist/src/index.js';
import { expectLseClose, expectMaxAbsDiff, expectRelativeToMax, expectSameBits, WEIGHTS_ATOL } from './support/compare.js';
import { loadGoldenCases, type MhaCase, type SdpaCase } from './support/golden.js';
import { cloneTensor, filledTensor, type TensorLike } from './support/random.js';

const cases = loadGoldenCases();
const sdpaCases = cases.filter((c): c is SdpaCase => c.kind === 'sdpa');
const mhaCases = cases.filter((c): c is MhaCase => c.kind === 'mha');
const TIMEOUT_MS = 60_000;

type Engine = Pick<AttentionPool, 'attention' | 'multiHeadAttention'>;

/** The case's tensors in shared memory (golden.ts loads them into ordinary ArrayBuffers). */
const shared = <A extends Float32Array | Uint8Array>(t: TensorLike<A> | undefined) => t && cloneTensor(t);

async function runSdpa(engine: Engine, c: SdpaCase, inShared: boolean) {
  const [B, H, Sq] = c.q.shape;
  const pick = <A extends Float32Array | Uint8Array>(t: TensorLike<A> | undefined) => (inShared ? shared(t) : t);
  const lse = filledTensor([B, H, Sq], NaN);
  const out = await engine.attention(pick(c.q)!, pick(c.k)!, pick(c.v)!, {
    causal: c.causal, lse,
    ...(c.mask && { mask: pick(c.mask) }), ...(c.bias && { bias: pick(c.bias) }), ...(c.scale !== undefined && { scale: c.scale }),
  });
  return { out: out.data, lse: lse.data };
}

async function runMha(engine: Engine, c: MhaCase, needWeights: false | 'average' | 'per-head', inShared: boolean) {
  const pick = <A extends Float32Array | Uint8Array>(t: TensorLike<A> | undefined) => (inShared ? shared(t) : t);
  const query = pick(c.query)!;
  // Self-attention passes one tensor three times (key.npy holds the same values).
  const key = c.selfAttention ? query : pick(c.key)!;
  const value = c.selfAttention ? query : pick(c.value)!;
  const weights = { inProjWeight: pick(c.inProjWeight)!, inProjBias: pick(c.inProjBias), outProjWeight: pick(c.outProjWeight)!, outProjBias: pick(c.outProjBias) };
  return engine.multiHeadAttention(query, key, value, weights, {
    numHeads: c.numHeads, causal: c.causal, needWeights, ...(c.keyPaddingMask && { keyPaddingMask: pick(c.keyPaddingMask) }),
  });
}

describe.each(['js', 'auto'] as const)('remote engine, kernel %s: golden cases', (kernel) => {
  let remote: RemoteEngine;
  let local: AttentionPool;
  beforeAll(async () => {
    remote = await createRemoteEngine({ threads: 2, kernel });
    local = new AttentionPool({ threads: 2, kernel });
    expect(remote.kernel).toBe(local.kernel);
  }, TIMEOUT_MS);
  afterAll(async () => {
    await remote?.close();
    await local?.close();
  });

  it.each(sdpaCases)('sdpa $name', async (c) => {
    const Dv = c.v.shape[3];
    const [, H, Sq] = c.q.shape;
    const nan = new Set(c.expectNanRows.map(([b, h, i]) => (b * H + h) * Sq + i));
    const expected = await runSdpa(local, c, true);
    for (const inShared of [true, false]) {
      const { out, lse } = await runSdpa(remote, c, inShared);
      const label = `${c.name} (${inShared ? 'shared' : 'plain'} inputs)`;
      expect(out.buffer, `${label}: result in shared memory`).toBeInstanceOf(SharedArrayBuffer);
      expectSameBits(out, expected.out, `${label}: out, remote vs in-thread`);
      expectSameBits(lse, expected.lse, `${label}: lse, remote vs in-thread`);
      expectRelativeToMax(out, c.outF64.data, c.suggestedOutRtol, `${label}: out vs torch`, (n) => !nan.has(Math.floor(n / Dv)));
      expectLseClose(lse, c.lse.data, `${label}: lse vs torch`, (row) => !nan.has(row));
      for (const row of nan) {
        expect(Array.from(out.subarray(row * Dv, (row + 1) * Dv)).every((x) => x === 0), `${label}: fully masked row ${row} is zeros`).toBe(true);
        expect(lse[row]).toBe(-Infinity);
      }
    }
  }, TIMEOUT_MS);

  it.each(mhaCases)('mha $name', async (c) => {
    const [, Sq, E] = c.query.shape;
    const nan = new Set(c.expectNanRows.map(([b, i]) => b * Sq + i));
    for (const needWeights of [false, 'average', 'per-head'] as const) {
      const expected = await runMha(local, c, needWeights, true);
      for (const inShared of [true, false]) {
        const label = `${c.name}, weights ${needWeights} (${inShared ? 'shared' : 'plain'} inputs)`;
        const { output, attnWeights } = await runMha(remote, c, needWeights, inShared);
        expect(output.data.buffer).toBeInstanceOf(SharedArrayBuffer);
        expectSameBits(output.data, expected.output.data, `${label}: output, remote vs in-thread`);
        expectRelativeToMax(output.data, c.outF64.data, c.suggestedOutRtol, `${label}: output vs torch`, (n) => !nan.has(Math.floor(n / E)));
        for (const row of nan) {
          expect(Array.from(output.data.subarray(row * E, (row + 1) * E)), `${label}: fully masked row ${row}`).toEqual(Array.from(c.outProjBias.data));
        }
        if (!needWeights) {
          expect(attnWeights ?? null, label).toBeNull();
          continue;
        }
        expectSameBits(attnWeights!.data, expected.attnWeights!.data, `${label}: weights, remote vs in-thread`);
        const golden = needWeights === 'average' ? c.attnWeightsAvg : c.attnWeights;
        expect(attnWeights!.shape).toEqual(golden.shape);
        const Sk = golden.shape[golden.shape.length - 1];
        // Entry n lies in row (b, ·, i): with H heads per batch element for per-head weights.
        const rowsPerBatch = needWeights === 'average' ? Sq : golden.shape[1] * Sq;
        const rowOf = (n: number) => Math.floor(n / (rowsPerBatch * Sk)) * Sq + (Math.floor(n / Sk) % Sq);
        expectMaxAbsDiff(attnWeights!.data, golden.data, WEIGHTS_ATOL, `${label}: weights vs torch`, (n) => !nan.has(rowOf(n)));
      }
    }
  }, TIMEOUT_MS);
});
