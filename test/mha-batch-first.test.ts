// options.batchFirst = false: the layer on PyTorch's default layout, query [Sq, B, E], key and value
// [Sk, B, E], output [Sq, B, E]; keyPaddingMask [B, Sk] and the attention weights keep their shapes.
// Every case is checked twice:
//   * bit for bit against the batch-first call on the same tensors transposed here, in the test, to
//     [B, S, E] (the seq-first output transposed back, the weights as they are);
//   * against the independent float64 reference in test/support/reference.ts.
// The cases have B > 1 and Sq ≠ Sk where cross-attention allows it, so swapped batch and row strides
// anywhere would show; most are above the inline threshold (work split across workers), one is not.
// Then the shape errors a torch user's [S, B, E] tensors run into without batchFirst: false, which
// must say so, and a remote engine, which must pass batchFirst on.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, createRemoteEngine, INLINE_MAX_FLOPS } from '../dist/src/index.js';
import { caught, expectMaxAbsDiff, expectRelativeToMax, expectSameBits, FLOAT32_RTOL, FLOAT64_RTOL, WEIGHTS_ATOL } from './support/compare.js';
import { mhaInputs, mhaInputsAsFloat64, randomTensor, Rng, type MhaInputs, type MhaSpec, type TensorLike } from './support/random.js';
import { swapLeadingAxes } from './support/layout.js';
import { referenceMultiHeadAttention } from './support/reference.js';

const TIMEOUT_MS = 60_000;
const HINT = "(the layout is [B, S, E], batch_first=True; pass batchFirst: false for PyTorch's default [S, B, E])";

/** query, key and value in the other layout, keeping which of them are one tensor (self-attention and
 *  key === value take other paths through the layer). */
function swapInputs(inputs: Pick<MhaInputs, 'query' | 'key' | 'value'>): { query: TensorLike; key: TensorLike; value: TensorLike } {
  const query = swapLeadingAxes(inputs.query);
  const key = inputs.key === inputs.query ? query : swapLeadingAxes(inputs.key);
  const value = inputs.value === inputs.query ? query : inputs.value === inputs.key ? key : swapLeadingAxes(inputs.value);
  return { query, key, value };
}

interface LayoutCase extends MhaSpec {
  readonly label: string;
  readonly numHeads: number;
  readonly causal: boolean;
  readonly needWeights: 'average' | 'per-head';
  readonly float64?: boolean;
}

const cases: readonly LayoutCase[] = [
  { label: 'self, causal, key padding, per-head weights', seed: 1101, B: 4, Sq: 64, Sk: 64, E: 32, numHeads: 4, selfAttention: true, causal: true, keyLengths: [64, 17, 33, 50], needWeights: 'per-head' },
  { label: 'cross Sq 24 Sk 56, distinct key and value, average weights', seed: 1102, B: 2, Sq: 24, Sk: 56, E: 64, numHeads: 8, selfAttention: false, causal: false, needWeights: 'average' },
  { label: 'cross key === value, causal (Sq > Sk), no biases', seed: 1103, B: 2, Sq: 50, Sk: 30, E: 64, numHeads: 4, selfAttention: false, keyIsValue: true, causal: true, withBias: false, needWeights: 'per-head' },
  { label: 'grouped-query (Hkv 2), key padding', seed: 1104, B: 2, Sq: 48, Sk: 80, E: 64, numHeads: 8, numKvHeads: 2, selfAttention: false, causal: false, keyLengths: [80, 9], needWeights: 'average' },
  { label: 'float64, cross, causal', seed: 1105, B: 2, Sq: 40, Sk: 72, E: 48, numHeads: 3, selfAttention: false, causal: true, needWeights: 'per-head', float64: true },
  { label: 'tiny (calling thread), self', seed: 1106, B: 2, Sq: 3, Sk: 3, E: 8, numHeads: 2, selfAttention: true, causal: false, needWeights: 'per-head' },
];

/** The layer's multiply-adds ×2 (Q and out-projections E×E, K and V E×kvDim; attention halved by causal),
 *  to show which cases leave the calling thread. */
function layerFlops(c: LayoutCase): number {
  const Sk = c.selfAttention ? c.Sq : c.Sk;
  const kvDim = (c.numKvHeads ?? c.numHeads) * (c.E / c.numHeads);
  return 2 * c.B * c.E * (2 * c.Sq * c.E + 2 * Sk * kvDim) + (c.causal ? 2 : 4) * c.B * c.Sq * Sk * c.E;
}

function inputsFor(c: LayoutCase): MhaInputs {
  const inputs = mhaInputs(c);
  return c.float64 ? mhaInputsAsFloat64(inputs) : inputs;
}

it('the cases cover both the worker and the calling-thread path', () => {
  expect(cases.slice(0, -1).every((c) => layerFlops(c) > INLINE_MAX_FLOPS)).toBe(true);
  expect(layerFlops(cases[cases.length - 1]!)).toBeLessThan(INLINE_MAX_FLOPS);
});

describe.each(['wasm', 'js'] as const)('batchFirst: false (%s kernel)', (kernel) => {
  let pool: AttentionPool;
  beforeAll(() => {
    pool = new AttentionPool({ threads: 2, kernel });
  });
  afterAll(async () => {
    await pool?.close();
  });

  it.each(cases)('$label', async (c) => {
    const inputs = inputsFor(c);
    const seqFirst = swapInputs(inputs);
    const { numHeads, numKvHeads, causal, needWeights } = c;
    const options = { numHeads, numKvHeads, causal, needWeights, keyPaddingMask: inputs.keyPaddingMask };

    const torchLayout = await pool.multiHeadAttention(seqFirst.query, seqFirst.key, seqFirst.value, inputs.weights, { ...options, batchFirst: false });
    const batchFirst = await pool.multiHeadAttention(inputs.query, inputs.key, inputs.value, inputs.weights, options);
    expect(torchLayout.output.shape).toEqual([c.Sq, c.B, c.E]);
    expect(torchLayout.attnWeights!.shape).toEqual(batchFirst.attnWeights!.shape);
    const output = swapLeadingAxes(torchLayout.output);
    expectSameBits(output.data, batchFirst.output.data, 'output vs the batch-first call');
    expectSameBits(torchLayout.attnWeights!.data, batchFirst.attnWeights!.data, 'weights vs the batch-first call');

    const ref = referenceMultiHeadAttention(inputs.query, inputs.key, inputs.value, inputs.weights, options);
    expectRelativeToMax(output.data, ref.output, c.float64 ? FLOAT64_RTOL : FLOAT32_RTOL, 'output vs reference');
    expectMaxAbsDiff(torchLayout.attnWeights!.data, needWeights === 'average' ? ref.weightsAverage : ref.weightsPerHead, WEIGHTS_ATOL, 'weights vs reference');
  }, TIMEOUT_MS);
});

describe('shape errors of [S, B, E] tensors in the default layout', () => {
  const rng = new Rng(1107);
  const E = 12;
  const f32 = (shape: readonly number[]): TensorLike => randomTensor(rng, shape);
  const weights = { inProjWeight: f32([3 * E, E]), outProjWeight: f32([E, E]) };
  // A torch user's tensors: B = 2, Sq = 5, Sk = 7.
  const query = f32([5, 2, E]);
  const memory = f32([7, 2, E]);
  const padding = (shape: readonly number[]): TensorLike<Uint8Array> => ({ data: new Uint8Array(shape[0]! * shape[1]!), shape });
  let pool: AttentionPool;
  beforeAll(() => {
    pool = new AttentionPool({ threads: 1 });
  });
  afterAll(async () => {
    await pool?.close();
  });

  const message = async (call: () => unknown, errorClass: typeof RangeError | typeof TypeError = RangeError): Promise<string> => {
    const err = await caught(call);
    expect(err).toBeInstanceOf(errorClass);
    return (err as Error).message;
  };

  it('cross-attention: key.shape[0] ≠ query.shape[0] with the second axes equal ends with the hint', async () => {
    expect(await message(() => pool.multiHeadAttention(query, memory, memory, weights, { numHeads: 3 })))
      .toBe(`multiHeadAttention: key.shape[0] (B) must be equal to query.shape[0] (B) = 5, got 7 ${HINT}`);
  });

  it('value.shape[0] ≠ query.shape[0] with the second axes equal ends with the hint', async () => {
    expect(await message(() => pool.multiHeadAttention(query, f32([5, 4, E]), f32([7, 2, E]), weights, { numHeads: 3 })))
      .toBe(`multiHeadAttention: value.shape[0] (B) must be equal to query.shape[0] (B) = 5, got 7 ${HINT}`);
  });

  it('self-attention: a keyPaddingMask [B, S] that fits query.shape[1] ends with the hint', async () => {
    expect(await message(() => pool.multiHeadAttention(query, query, query, weights, { numHeads: 3, keyPaddingMask: padding([2, 5]) })))
      .toBe(`multiHeadAttention: options.keyPaddingMask.shape[0] must be equal to B = 5, got 2 ${HINT}`);
  });

  it('mismatches that [S, B, E] tensors do not explain get no hint', async () => {
    // The batches differ in both readings.
    expect(await message(() => pool.multiHeadAttention(query, f32([7, 3, E]), f32([7, 3, E]), weights, { numHeads: 3 })))
      .toBe('multiHeadAttention: key.shape[0] (B) must be equal to query.shape[0] (B) = 5, got 7');
    // A mask whose second dimension is not the key's length in the [S, B, E] reading.
    expect(await message(() => pool.multiHeadAttention(query, query, query, weights, { numHeads: 3, keyPaddingMask: padding([2, 3]) })))
      .toBe('multiHeadAttention: options.keyPaddingMask.shape[0] must be equal to B = 5, got 2');
    expect(await message(() => pool.multiHeadAttention(query, query, f32([5, 3, E]), weights, { numHeads: 3 })))
      .toBe('multiHeadAttention: value.shape[1] (Sk) must be equal to key.shape[1] (Sk) = 2, got 3');
  });

  it('with batchFirst: false the layout is explicit: errors name its axes and give no hint', async () => {
    expect(await message(() => pool.multiHeadAttention(query, f32([7, 3, E]), f32([7, 3, E]), weights, { numHeads: 3, batchFirst: false })))
      .toBe('multiHeadAttention: key.shape[1] (B) must be equal to query.shape[1] (B) = 2, got 3');
    expect(await message(() => pool.multiHeadAttention(query, memory, f32([6, 2, E]), weights, { numHeads: 3, batchFirst: false })))
      .toBe('multiHeadAttention: value.shape[0] (Sk) must be equal to key.shape[0] (Sk) = 7, got 6');
    expect(await message(() => pool.multiHeadAttention(query, memory, memory, weights, { numHeads: 3, batchFirst: false, keyPaddingMask: padding([5, 7]) })))
      .toBe('multiHeadAttention: options.keyPaddingMask.shape[0] must be equal to B = 2, got 5');
    // The same tensors are accepted as the torch layout.
    const { output } = await pool.multiHeadAttention(query, memory, memory, weights, { numHeads: 3, batchFirst: false, keyPaddingMask: padding([2, 7]) });
    expect(output.shape).toEqual([5, 2, E]);
  });

  it('batchFirst must be a boolean', async () => {
    expect(await message(() => pool.multiHeadAttention(query, query, query, weights, { numHeads: 3, batchFirst: 0 as never }), TypeError))
      .toBe('multiHeadAttention: options.batchFirst must be a boolean, got 0');
  });
});

// The remote engine validates on the caller's thread and hands the options to a pool in its host
// thread: dropping batchFirst there would run these [S, B, E] tensors as [B, S, E] (the shapes fit).
it('a remote engine forwards batchFirst: the bits of the batch-first call on the transposed tensors', async () => {
  const c = cases[0]!;
  const inputs = mhaInputs(c);
  const seqFirst = swapInputs(inputs);
  const options = { numHeads: c.numHeads, causal: c.causal, needWeights: 'per-head' } as const;
  const remote = await createRemoteEngine({ threads: 2, kernel: 'js' });
  const local = new AttentionPool({ threads: 2, kernel: 'js' });
  try {
    const a = await remote.multiHeadAttention(seqFirst.query, seqFirst.key, seqFirst.value, inputs.weights, { ...options, batchFirst: false });
    const b = await local.multiHeadAttention(inputs.query, inputs.key, inputs.value, inputs.weights, options);
    expect(a.output.shape).toEqual([c.Sq, c.B, c.E]);
    expectSameBits(swapLeadingAxes(a.output).data, b.output.data, 'output');
    expectSameBits(a.attnWeights!.data, b.attnWeights!.data, 'weights');
  } finally {
    await Promise.all([remote.close(), local.close()]);
  }
}, TIMEOUT_MS);
