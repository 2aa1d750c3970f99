// multiHeadAttention's options.rotary: the projected queries and keys rotated per head before attention.
// Checked against an independent float64 layer written here from the test's references — projections
// (linear), heads split, referenceRotary on Q and K with the layer's documented positions (key j at
// offset + j, query i at offset + i + Sk − Sq; or positions [B, Sk], queries taking the last Sq), then
// attention and the out-projection — over self- and cross-attention, grouped-query heads, partial and
// interleaved rotary, positions, both layouts and float64; the same bits on 1, 2 and 3 threads.

import { describe, expect, it } from 'vitest';
import { caught, expectRelativeToMax, expectSameBits, FLOAT32_RTOL, FLOAT64_RTOL } from './support/compare.js';
import { swapLeadingAxes } from './support/layout.js';
import { mhaInputs, mhaInputsAsFloat64, type MhaInputs, type TensorLike } from './support/random.js';
import { attendMaskFromPadding, linear, mergeHeads, referenceAttention, splitHeads } from './support/reference.js';
import { referenceRotary, type RotaryReferenceOptions } from './support/reference-rotary.js';
import { suitePool } from './support/suite-pools.js';

const pools = [1, 2, 3].map((threads) => suitePool({ threads }));

interface Rotary extends Omit<RotaryReferenceOptions, 'positions'> {
  readonly positions?: { readonly data: Int32Array; readonly shape: readonly number[] };
}

/** The rows [from, from + n) of each batch of a [B, S] positions tensor, as a fresh [B, n] one. */
function positionWindow(p: NonNullable<Rotary['positions']>, from: number, n: number): { data: Int32Array; shape: number[] } {
  const [B, S] = p.shape;
  const data = new Int32Array(B * n);
  for (let b = 0; b < B; b++) data.set(p.data.subarray(b * S + from, b * S + from + n), b * n);
  return { data, shape: [B, n] };
}

function referenceLayer(inputs: MhaInputs, numHeads: number, numKvHeads: number, causal: boolean, rotary: Rotary): Float64Array {
  const { query, key, value, weights } = inputs;
  const [B, Sq, E] = query.shape;
  const Sk = key.shape[1];
  const hd = E / numHeads, kvDim = numKvHeads * hd;
  const Q = splitHeads(linear(query.data, B * Sq, E, weights.inProjWeight, weights.inProjBias, 0, E), B, Sq, numHeads, hd);
  const K = splitHeads(linear(key.data, B * Sk, E, weights.inProjWeight, weights.inProjBias, E, kvDim), B, Sk, numKvHeads, hd);
  const V = splitHeads(linear(value.data, B * Sk, E, weights.inProjWeight, weights.inProjBias, E + kvDim, kvDim), B, Sk, numKvHeads, hd);
  const queryRotary = rotary.positions
    ? { ...rotary, positions: positionWindow(rotary.positions, Sk - Sq, Sq) }
    : { ...rotary, offset: (rotary.offset ?? 0) + Sk - Sq };
  const q = { data: referenceRotary(Q, queryRotary), shape: Q.shape };
  const k = { data: referenceRotary(K, rotary), shape: K.shape };
  const mask = inputs.keyPaddingMask && attendMaskFromPadding(inputs.keyPaddingMask);
  const attention = referenceAttention(q, k, V, { causal, mask, scale: 1 / Math.sqrt(hd) });
  return linear(mergeHeads(attention.out, B, Sq, numHeads, hd), B * Sq, E, weights.outProjWeight, weights.outProjBias, 0, E);
}

function int32(shape: readonly number[], values: (n: number) => number): { data: Int32Array; shape: number[] } {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Int32Array(new SharedArrayBuffer(n * 4));
  for (let i = 0; i < n; i++) data[i] = values(i);
  return { data, shape: [...shape] };
}

interface Case {
  readonly label: string;
  readonly inputs: MhaInputs;
  readonly numHeads: number;
  readonly numKvHeads?: number;
  readonly causal: boolean;
  readonly rotary: Rotary;
  readonly batchFirst?: boolean;
  readonly float64?: boolean;
}

const cases: readonly Case[] = [
  { label: 'self, causal, rotate_half, all of headDim', inputs: mhaInputs({ seed: 1801, B: 2, Sq: 48, Sk: 48, E: 64, selfAttention: true }), numHeads: 4, causal: true, rotary: {} },
  { label: 'self, interleaved, partial (rotaryDim 8 of 16), base 500000, offset 100', inputs: mhaInputs({ seed: 1802, B: 2, Sq: 33, Sk: 33, E: 64, selfAttention: true, keyLengths: [33, 20] }), numHeads: 4, causal: false, rotary: { interleaved: true, rotaryDim: 8, base: 500000, offset: 100 } },
  { label: 'grouped-query (8 heads, 2 kv heads), causal, positions', inputs: mhaInputs({ seed: 1803, B: 2, Sq: 40, Sk: 40, E: 64, selfAttention: true, numHeads: 8, numKvHeads: 2 }), numHeads: 8, numKvHeads: 2, causal: true, rotary: { positions: int32([2, 40], (n) => (n % 40) * 3 + Math.floor(n / 40) * 1000) } },
  { label: 'cross, Sq < Sk (a chunk after a prefix), causal, offset 5', inputs: mhaInputs({ seed: 1804, B: 2, Sq: 12, Sk: 50, E: 32, selfAttention: false }), numHeads: 2, causal: true, rotary: { offset: 5 } },
  { label: 'cross, Sq < Sk, positions [B, Sk], interleaved', inputs: mhaInputs({ seed: 1805, B: 1, Sq: 9, Sk: 30, E: 32, selfAttention: false, keyIsValue: true }), numHeads: 2, causal: true, rotary: { interleaved: true, positions: int32([1, 30], (n) => 2 * n + 7) } },
  { label: 'cross, Sq > Sk: query positions from offset + Sk − Sq (negative)', inputs: mhaInputs({ seed: 1806, B: 1, Sq: 20, Sk: 8, E: 32, selfAttention: false }), numHeads: 4, causal: false, rotary: {} },
  { label: 'seq-first layout (batchFirst false), partial rotate_half', inputs: mhaInputs({ seed: 1807, B: 3, Sq: 25, Sk: 25, E: 48, selfAttention: true }), numHeads: 4, causal: true, rotary: { rotaryDim: 6 }, batchFirst: false },
  { label: 'float64, self, causal, positions', inputs: mhaInputs({ seed: 1808, B: 2, Sq: 30, Sk: 30, E: 32, selfAttention: true }), numHeads: 4, causal: true, rotary: { positions: int32([2, 30], (n) => 30 - (n % 30)) }, float64: true },
];

describe('multiHeadAttention with options.rotary', () => {
  it.each(cases)('$label', async (c) => {
    const inputs = c.float64 ? mhaInputsAsFloat64(c.inputs) : c.inputs;
    const expected = referenceLayer(inputs, c.numHeads, c.numKvHeads ?? c.numHeads, c.causal, c.rotary);
    // The seq-first call gets the same tensors transposed, and its output transposed back.
    const seqFirst = c.batchFirst === false;
    const swap = (t: TensorLike) => (seqFirst ? swapLeadingAxes(t) : t);
    const query = swap(inputs.query);
    const key = inputs.key === inputs.query ? query : swap(inputs.key);
    const value = inputs.value === inputs.query ? query : inputs.value === inputs.key ? key : swap(inputs.value);
    const options = {
      numHeads: c.numHeads, numKvHeads: c.numKvHeads, causal: c.causal, keyPaddingMask: inputs.keyPaddingMask,
      rotary: c.rotary, ...(seqFirst && { batchFirst: false }),
    };
    const outs = await Promise.all(pools.map((p) => p.multiHeadAttention(query, key, value, inputs.weights as never, options as never)));
    const output = seqFirst ? swapLeadingAxes(outs[0].output as TensorLike).data : outs[0].output.data;
    expectRelativeToMax(output, expected, c.float64 ? FLOAT64_RTOL : FLOAT32_RTOL, c.label);
    outs.slice(1).forEach((o, i) => expectSameBits(o.output.data, outs[0].output.data, `${i + 2} threads vs 1`));
  });

  it('rotary changes the result (the check above would see it missing)', async () => {
    const c = cases[0];
    const plain = await pools[1].multiHeadAttention(c.inputs.query, c.inputs.key, c.inputs.value, c.inputs.weights, { numHeads: c.numHeads, causal: true });
    const rotated = await pools[1].multiHeadAttention(c.inputs.query, c.inputs.key, c.inputs.value, c.inputs.weights, { numHeads: c.numHeads, causal: true, rotary: {} });
    let diff = 0;
    for (let i = 0; i < plain.output.data.length; i++) diff = Math.max(diff, Math.abs(plain.output.data[i] - rotated.output.data[i]));
    expect(diff).toBeGreaterThan(1e-3);
  });

  const { query, key, value, weights } = mhaInputs({ seed: 1809, B: 2, Sq: 6, Sk: 10, E: 16, selfAttention: false });
  const bad: [string, unknown, ErrorConstructor, RegExp][] = [
    ['not an object', 7, TypeError, /^multiHeadAttention: options\.rotary must be an object/],
    ['unknown field', { rotary_dim: 2 }, RangeError, /^multiHeadAttention: options\.rotary\.rotary_dim is not an option/],
    ['rotaryDim > headDim', { rotaryDim: 8 }, RangeError, /^multiHeadAttention: options\.rotary\.rotaryDim must be an even integer from 2 to headDim \(E \/ numHeads\) = 4, got 8/],
    ['base', { base: 0 }, RangeError, /options\.rotary\.base must be a finite number > 0, got 0/],
    ['positions [B, Sq] instead of [B, Sk]', { positions: int32([2, 6], (n) => n) }, RangeError, /options\.rotary\.positions\.shape\[1\] \(S\) must be equal to Sk = 10, got 6/],
    ['positions and offset', { offset: 1, positions: int32([2, 10], (n) => n) }, RangeError, /options\.rotary\.offset cannot be combined with options\.rotary\.positions/],
  ];
  it.each(bad)('refuses %s', async (_, rotary, type, message) => {
    const err = await caught(() => pools[0].multiHeadAttention(query, key, value, weights, { numHeads: 4, rotary: rotary as never }));
    expect(err).toBeInstanceOf(type);
    expect((err as Error).message).toMatch(message);
  });

  it('refuses positions when Sq > Sk (queries take the keys\' last Sq positions)', async () => {
    const err = await caught(() => pools[0].multiHeadAttention(key, query, query, weights, { numHeads: 4, rotary: { positions: int32([2, 6], (n) => n) } }));
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toMatch(/so Sq must be at most Sk = 6, got Sq = 10/);
  });
});

