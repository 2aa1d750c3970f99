// Bad input to the grouped-query layer (options.numKvHeads and the in-projection's shape that follows
// from it): TypeError for a wrong kind of value, RangeError for a wrong value or shape, the message
// naming the argument, what was expected and what was given; afterwards the pool still answers a valid
// grouped-query call correctly.

import { describe, expect, it } from 'vitest';
import { caught, expectRelativeToMax, FLOAT32_RTOL } from './support/compare.js';
import { mhaInputs, randomTensor, Rng, type Shape, type TensorLike } from './support/random.js';
import { referenceMultiHeadAttention } from './support/reference.js';
import { suitePool } from './support/suite-pools.js';

type ErrorClass = typeof TypeError | typeof RangeError;
const TIMEOUT_MS = 30_000;

// E = 64, 8 heads of 8; with 2 kv heads the in-projection is [64 + 2·2·8, 64] = [96, 64].
const E = 64;
const good = mhaInputs({ seed: 901, B: 2, Sq: 5, Sk: 7, E, numHeads: 8, numKvHeads: 2, selfAttention: false });
const goodOptions = { numHeads: 8, numKvHeads: 2 };
const rng = new Rng(902);
const f32 = (shape: Shape): TensorLike => randomTensor(rng, shape);

const pool = suitePool({ threads: 2 });

async function expectStillWorks(): Promise<void> {
  const { output } = await pool.multiHeadAttention(good.query, good.key, good.value, good.weights, goodOptions);
  const ref = referenceMultiHeadAttention(good.query, good.key, good.value, good.weights, goodOptions);
  expectRelativeToMax(output.data, ref.output, FLOAT32_RTOL, 'valid grouped-query layer after an error');
}

interface BadCase {
  readonly label: string;
  readonly options: Record<string, unknown>;
  readonly weights?: Partial<Record<keyof typeof good.weights, TensorLike>>;
  readonly error: ErrorClass;
  readonly message: RegExp;
}

const badCases: BadCase[] = [
  { label: 'numKvHeads 0', options: { numHeads: 8, numKvHeads: 0 }, error: RangeError,
    message: /^multiHeadAttention: options\.numKvHeads must be a positive divisor of options\.numHeads = 8, got 0$/ },
  { label: 'numKvHeads 3 (does not divide 8)', options: { numHeads: 8, numKvHeads: 3 }, error: RangeError,
    message: /^multiHeadAttention: options\.numKvHeads must be a positive divisor of options\.numHeads = 8, got 3$/ },
  { label: 'numKvHeads 16 (more than numHeads)', options: { numHeads: 8, numKvHeads: 16 }, error: RangeError, message: /options\.numKvHeads .*got 16$/ },
  { label: 'numKvHeads -2', options: { numHeads: 8, numKvHeads: -2 }, error: RangeError, message: /options\.numKvHeads .*got -2$/ },
  { label: 'numKvHeads 1.5', options: { numHeads: 8, numKvHeads: 1.5 }, error: RangeError, message: /options\.numKvHeads .*got 1\.5$/ },
  { label: 'numKvHeads NaN', options: { numHeads: 8, numKvHeads: NaN }, error: RangeError, message: /options\.numKvHeads .*got NaN$/ },
  { label: 'numKvHeads Infinity', options: { numHeads: 8, numKvHeads: Infinity }, error: RangeError, message: /options\.numKvHeads .*got Infinity$/ },
  { label: 'numKvHeads a string', options: { numHeads: 8, numKvHeads: '2' }, error: TypeError,
    message: /^multiHeadAttention: options\.numKvHeads must be a number, got "2"$/ },
  { label: 'numKvHeads null', options: { numHeads: 8, numKvHeads: null }, error: TypeError, message: /options\.numKvHeads must be a number, got null$/ },
  { label: 'bad numHeads is reported before numKvHeads', options: { numHeads: 5, numKvHeads: 3 }, error: RangeError, message: /options\.numHeads must be a positive divisor of E = 64, got 5$/ },
  { label: 'inProjWeight [3E, E] with numKvHeads 2', options: goodOptions, weights: { inProjWeight: f32([3 * E, E]) }, error: RangeError,
    message: /^multiHeadAttention: weights\.inProjWeight\.shape\[0\] must be equal to E \+ 2·numKvHeads·headDim = 96, got 192$/ },
  { label: 'inProjWeight for 4 kv heads with numKvHeads 2', options: goodOptions, weights: { inProjWeight: f32([128, E]) }, error: RangeError,
    message: /weights\.inProjWeight\.shape\[0\] must be equal to E \+ 2·numKvHeads·headDim = 96, got 128$/ },
  { label: 'grouped-query inProjWeight without numKvHeads', options: { numHeads: 8 }, error: RangeError,
    message: /^multiHeadAttention: weights\.inProjWeight\.shape\[0\] must be equal to 3E = 192, got 96$/ },
  { label: 'inProjWeight with the wrong second dimension', options: goodOptions, weights: { inProjWeight: f32([96, E + 1]) }, error: RangeError,
    message: /weights\.inProjWeight\.shape\[1\] must be equal to E = 64, got 65$/ },
  { label: 'inProjBias [3E] with numKvHeads 2', options: goodOptions, weights: { inProjBias: f32([3 * E]) }, error: RangeError,
    message: /^multiHeadAttention: weights\.inProjBias\.shape\[0\] must be equal to E \+ 2·numKvHeads·headDim = 96, got 192$/ },
  { label: 'inProjBias of rank 2', options: goodOptions, weights: { inProjBias: f32([96, 1]) }, error: RangeError, message: /weights\.inProjBias\.shape must be of rank 1/ },
];

describe('multiHeadAttention with numKvHeads rejects bad input, then keeps working', () => {
  it.each(badCases)('$label', async ({ options, weights, error, message }) => {
    const err = await caught(() => pool.multiHeadAttention(good.query, good.key, good.value, { ...good.weights, ...weights } as typeof good.weights, options as never));
    expect(err, `error class (got: ${String(err)})`).toBeInstanceOf(error);
    expect((err as Error).message).toMatch(message);
    await expectStillWorks();
  }, TIMEOUT_MS);

  it('a valid grouped-query call is accepted with and without biases', async () => {
    await expectStillWorks();
    const { inProjBias: _inBias, outProjBias: _outBias, ...noBias } = good.weights;
    const { output } = await pool.multiHeadAttention(good.query, good.key, good.value, noBias, goodOptions);
    expectRelativeToMax(output.data, referenceMultiHeadAttention(good.query, good.key, good.value, noBias, goodOptions).output, FLOAT32_RTOL, 'no biases');
  }, TIMEOUT_MS);
});
