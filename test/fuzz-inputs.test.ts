// Property-based fuzzing with fast-check, on the in-thread pool and through the remote engine:
//   * valid inputs — random shapes (empty ones included), float32/float64, shared or not, masks and
//     biases of every broadcast shape, causal, custom scale, caller-provided out/lse; MHA self and
//     cross with key padding and either kind of weights — match the float64 reference of
//     test/support/reference.ts; sizes reach past the inline threshold, so both paths are fuzzed;
//   * invalid inputs — a valid call with one thing broken — reject with the documented class
//     (TypeError for a wrong kind of value, RangeError for a wrong shape, size or option) and a message
//     naming the operation;
//   * and afterwards the engine still answers correctly: nothing crashed.
// fast-check prints the seed and path of any failure, which replays it exactly.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, createRemoteEngine } from '../dist/src/index.js';
import { expectAttentionClose, expectMaxAbsDiff, expectRelativeToMax, FLOAT32_RTOL, WEIGHTS_ATOL } from './support/compare.js';
import type { AttentionEngine } from './support/faults-workload.js';
import { attentionInputs, filledTensor, mhaInputs, product, type Shape } from './support/random.js';
import { referenceAttention, referenceMultiHeadAttention } from './support/reference.js';

const TIMEOUT_MS = 90_000;

type Engine = AttentionEngine & { close(): Promise<void> };

/** A broadcastable shape for target [B, H, Sq, Sk]: the last `rank` axes, each kept or set to 1. */
const broadcastShapeArb = fc.record({ rank: fc.integer({ min: 1, max: 4 }), keep: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }) });
function broadcastShape(spec: { rank: number; keep: boolean[] }, target: readonly number[]): Shape {
  return target.slice(4 - spec.rank).map((d, i) => (spec.keep[4 - spec.rank + i] ? d : 1));
}

const attentionArb = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
  B: fc.integer({ min: 1, max: 2 }),
  Hkv: fc.integer({ min: 1, max: 2 }),
  group: fc.integer({ min: 1, max: 3 }),
  Sq: fc.integer({ min: 0, max: 12 }),
  Sk: fc.integer({ min: 0, max: 12 }),
  // ×16 now and then: up to 192 × 192 rows and keys, several MFLOP, the worker path.
  long: fc.constantFrom(1, 1, 1, 16),
  D: fc.integer({ min: 1, max: 8 }),
  Dv: fc.integer({ min: 1, max: 8 }),
  dtype: fc.constantFrom('float32' as const, 'float64' as const),
  shared: fc.boolean(),
  causal: fc.boolean(),
  scale: fc.option(fc.double({ min: -3, max: 3, noNaN: true }), { nil: undefined }),
  mask: fc.option(broadcastShapeArb, { nil: undefined }),
  bias: fc.option(broadcastShapeArb, { nil: undefined }),
  out: fc.constantFrom('none' as const, 'shared' as const, 'plain' as const),
  lse: fc.boolean(),
});
type AttentionDraw = typeof attentionArb extends fc.Arbitrary<infer T> ? T : never;

function buildAttention(d: AttentionDraw) {
  const [Sq, Sk, H] = [d.Sq * d.long, d.Sk * d.long, d.Hkv * d.group];
  const target = [d.B, H, Sq, Sk];
  const inputs = attentionInputs({
    seed: d.seed, B: d.B, H, Hkv: d.Hkv, Sq, Sk, D: d.D, Dv: d.Dv, dtype: d.dtype, shared: d.shared,
    maskShape: d.mask && broadcastShape(d.mask, target), biasShape: d.bias && broadcastShape(d.bias, target),
  });
  const outShape = [d.B, H, Sq, d.Dv];
  const out = d.out === 'none' ? undefined : d.out === 'shared' ? filledTensor(outShape, NaN, d.dtype)
    : { data: d.dtype === 'float64' ? new Float64Array(product(outShape)).fill(NaN) : new Float32Array(product(outShape)).fill(NaN), shape: outShape };
  const lse = d.lse ? filledTensor([d.B, H, Sq], NaN, d.dtype) : undefined;
  const options = { causal: d.causal, scale: d.scale, mask: inputs.mask, bias: inputs.bias, out, lse };
  return { ...inputs, options, label: JSON.stringify(d) };
}

const mhaArb = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
  B: fc.integer({ min: 1, max: 2 }),
  numHeads: fc.integer({ min: 1, max: 3 }),
  headDim: fc.integer({ min: 1, max: 6 }),
  Sq: fc.integer({ min: 0, max: 8 }),
  Sk: fc.integer({ min: 0, max: 8 }),
  long: fc.constantFrom(1, 1, 1, 12),
  selfAttention: fc.boolean(),
  withBias: fc.boolean(),
  causal: fc.boolean(),
  padding: fc.boolean(),
  needWeights: fc.constantFrom(false as const, 'average' as const, 'per-head' as const),
});
type MhaDraw = typeof mhaArb extends fc.Arbitrary<infer T> ? T : never;

function buildMha(d: MhaDraw) {
  const Sq = d.Sq * d.long;
  const Sk = d.selfAttention ? Sq : d.Sk * d.long;
  const keyLengths = d.padding ? Array.from({ length: d.B }, (_, b) => (d.seed >> b) % (Sk + 1)) : undefined;
  const inputs = mhaInputs({ seed: d.seed, B: d.B, Sq, Sk, E: d.numHeads * d.headDim, selfAttention: d.selfAttention, withBias: d.withBias, keyLengths });
  return { ...inputs, label: JSON.stringify(d) };
}

interface Mutation<A> {
  readonly name: string;
  readonly expected: typeof TypeError | typeof RangeError;
  readonly apply: (args: A) => void;
}

type AttentionArgs = { q: unknown; k: unknown; v: unknown; options: Record<string, unknown> | unknown };
type MhaArgs = { query: unknown; key: unknown; value: unknown; weights: unknown; options: unknown };

const f32 = (shape: number[]) => ({ data: new Float32Array(product(shape)), shape });
const shapeOf = (t: unknown) => [...(t as { shape: number[] }).shape];
/** Zeros of `shape` with the float type of `t`'s data. */
const floatsLike = (t: unknown, shape: number[]) =>
  ({ data: (t as { data: unknown }).data instanceof Float64Array ? new Float64Array(product(shape)) : new Float32Array(product(shape)), shape });
const optionsOf = (a: { options: unknown }) => a.options as Record<string, unknown>;

/** One broken thing each; the first four break q, k or v whatever its shape. */
const attentionMutations: readonly Mutation<AttentionArgs>[] = [
  { name: 'q of rank 3', expected: RangeError, apply: (a) => { a.q = f32(shapeOf(a.q).slice(1)); } },
  { name: 'negative dimension', expected: RangeError, apply: (a) => { a.k = { ...(a.k as object), shape: [...shapeOf(a.k).slice(0, 2), -1, shapeOf(a.k)[3]] }; } },
  { name: 'fractional dimension', expected: RangeError, apply: (a) => { a.v = { ...(a.v as object), shape: [1.5, ...shapeOf(a.v).slice(1)] }; } },
  { name: 'NaN dimension', expected: RangeError, apply: (a) => { a.q = { ...(a.q as object), shape: [NaN, ...shapeOf(a.q).slice(1)] }; } },
  { name: 'string dimension', expected: TypeError, apply: (a) => { a.v = { ...(a.v as object), shape: ['1', ...shapeOf(a.v).slice(1)] }; } },
  { name: 'data one element too long', expected: RangeError, apply: (a) => { const s = shapeOf(a.q); a.q = { data: new Float32Array(product(s) + 1), shape: s }; } },
  { name: 'Int32Array data', expected: TypeError, apply: (a) => { const s = shapeOf(a.k); a.k = { data: new Int32Array(product(s)), shape: s }; } },
  { name: 'Uint8Array data', expected: TypeError, apply: (a) => { const s = shapeOf(a.q); a.q = { data: new Uint8Array(product(s)), shape: s }; } },
  { name: 'plain array data', expected: TypeError, apply: (a) => { const s = shapeOf(a.v); a.v = { data: new Array(product(s)).fill(0), shape: s }; } },
  { name: 'null tensor', expected: TypeError, apply: (a) => { a.k = null; } },
  { name: 'shape not an array', expected: TypeError, apply: (a) => { a.q = { data: new Float32Array(0), shape: 'B,H,S,D' }; } },
  { name: 'k with another D', expected: RangeError, apply: (a) => { const [B, Hkv, Sk, D] = shapeOf(a.k); a.k = floatsLike(a.q, [B, Hkv, Sk, D + 1]); } },
  { name: 'H not a multiple of Hkv', expected: RangeError, apply: (a) => { const [B, H] = shapeOf(a.q); const [, , Sk, D] = shapeOf(a.k); const Dv = shapeOf(a.v)[3]; a.k = floatsLike(a.q, [B, H + 1, Sk, D]); a.v = floatsLike(a.q, [B, H + 1, Sk, Dv]); } },
  { name: 'v with another Sk', expected: RangeError, apply: (a) => { const [B, Hkv, Sk, Dv] = shapeOf(a.v); a.v = floatsLike(a.q, [B, Hkv, Sk + 1, Dv]); } },
  { name: 'k with another B', expected: RangeError, apply: (a) => { const [B, Hkv, Sk, D] = shapeOf(a.k); a.k = floatsLike(a.q, [B + 1, Hkv, Sk, D]); } },
  { name: 'k of another float type', expected: TypeError, apply: (a) => { const s = shapeOf(a.k); const q = (a.q as { data: unknown }).data; a.k = { data: q instanceof Float64Array ? new Float32Array(product(s)) : new Float64Array(product(s)), shape: s }; } },
  { name: 'options a number', expected: TypeError, apply: (a) => { a.options = 5; } },
  { name: 'unknown option (typo)', expected: RangeError, apply: (a) => { a.options = { ...optionsOf(a), casual: true }; } },
  // A string is a kind causal takes ('top-left', 'bottom-right'): another one is a wrong value.
  { name: 'causal an unknown string', expected: RangeError, apply: (a) => { a.options = { ...optionsOf(a), causal: 'yes' }; } },
  { name: 'causal a number', expected: TypeError, apply: (a) => { a.options = { ...optionsOf(a), causal: 1 }; } },
  { name: 'scale NaN', expected: RangeError, apply: (a) => { a.options = { ...optionsOf(a), scale: NaN }; } },
  { name: 'scale Infinity', expected: RangeError, apply: (a) => { a.options = { ...optionsOf(a), scale: Infinity }; } },
  { name: 'scale a string', expected: TypeError, apply: (a) => { a.options = { ...optionsOf(a), scale: '0.5' }; } },
  { name: 'signal not an AbortSignal', expected: TypeError, apply: (a) => { a.options = { ...optionsOf(a), signal: { aborted: false } }; } },
  { name: 'mask of floats', expected: TypeError, apply: (a) => { const [, , Sq, Sk] = [...shapeOf(a.q).slice(0, 3), shapeOf(a.k)[2]]; a.options = { ...optionsOf(a), mask: f32([Sq, Sk]) }; } },
  { name: 'mask not broadcastable', expected: RangeError, apply: (a) => { const Sq = shapeOf(a.q)[2]; const Sk = shapeOf(a.k)[2]; a.options = { ...optionsOf(a), mask: { data: new Uint8Array((Sq + 2) * Sk), shape: [Sq + 2, Sk] } }; } },
  { name: 'mask of rank 5', expected: RangeError, apply: (a) => { a.options = { ...optionsOf(a), mask: { data: new Uint8Array(1), shape: [1, 1, 1, 1, 1] } }; } },
  { name: 'bias of another float type', expected: TypeError, apply: (a) => { const q = (a.q as { data: unknown }).data; a.options = { ...optionsOf(a), bias: { data: q instanceof Float64Array ? new Float32Array(1) : new Float64Array(1), shape: [1] } }; } },
  { name: 'out of the wrong shape', expected: RangeError, apply: (a) => { const [B, H, Sq] = shapeOf(a.q); a.options = { ...optionsOf(a), out: floatsLike(a.q, [B, H, Sq + 1, shapeOf(a.v)[3]]) }; } },
  { name: 'lse of the wrong shape', expected: RangeError, apply: (a) => { const [B, H, Sq] = shapeOf(a.q); a.options = { ...optionsOf(a), lse: floatsLike(a.q, [B, H + 1, Sq]) }; } },
];

const mhaMutations: readonly Mutation<MhaArgs>[] = [
  { name: 'numHeads not dividing E', expected: RangeError, apply: (a) => { a.options = { numHeads: shapeOf(a.query)[2] + 1 }; } },
  { name: 'numHeads 0', expected: RangeError, apply: (a) => { a.options = { numHeads: 0 }; } },
  { name: 'numHeads fractional', expected: RangeError, apply: (a) => { a.options = { numHeads: 1.5 }; } },
  { name: 'numHeads a string', expected: TypeError, apply: (a) => { a.options = { numHeads: '1' }; } },
  { name: 'no options', expected: TypeError, apply: (a) => { a.options = undefined; } },
  { name: 'needWeights true', expected: RangeError, apply: (a) => { a.options = { numHeads: 1, needWeights: true }; } },
  { name: 'weights null', expected: TypeError, apply: (a) => { a.weights = null; } },
  { name: 'inProjWeight missing', expected: TypeError, apply: (a) => { a.weights = { outProjWeight: (a.weights as { outProjWeight: unknown }).outProjWeight }; } },
  { name: 'inProjWeight [3E, E+1]', expected: RangeError, apply: (a) => { const E = shapeOf(a.query)[2]; a.weights = { ...(a.weights as object), inProjWeight: f32([3 * E, E + 1]) }; } },
  { name: 'outProjBias [E+1]', expected: RangeError, apply: (a) => { const E = shapeOf(a.query)[2]; a.weights = { ...(a.weights as object), outProjBias: f32([E + 1]) }; } },
  { name: 'query of rank 4', expected: RangeError, apply: (a) => { a.query = f32([1, ...shapeOf(a.query)]); } },
  { name: 'key with another E', expected: RangeError, apply: (a) => { const [B, Sk, E] = shapeOf(a.key); a.key = f32([B, Sk, E + 1]); } },
  { name: 'value with another Sk', expected: RangeError, apply: (a) => { const [B, Sk, E] = shapeOf(a.value); a.value = f32([B, Sk + 1, E]); } },
  { name: 'keyPaddingMask [B, Sk+1]', expected: RangeError, apply: (a) => { const [B, Sk] = shapeOf(a.key); a.options = { numHeads: 1, keyPaddingMask: { data: new Uint8Array(B * (Sk + 1)), shape: [B, Sk + 1] } }; } },
  { name: 'keyPaddingMask of floats', expected: TypeError, apply: (a) => { const [B, Sk] = shapeOf(a.key); a.options = { numHeads: 1, keyPaddingMask: f32([B, Sk]) }; } },
  { name: 'query of float64 with float32 weights', expected: TypeError, apply: (a) => { const s = shapeOf(a.query); a.query = { data: new Float64Array(product(s)), shape: s }; a.key = a.query; a.value = a.query; } },
];

async function expectRejection(call: () => Promise<unknown>, expected: typeof TypeError | typeof RangeError, op: string, label: string): Promise<void> {
  const err = await call().then(() => undefined, (e: unknown) => e);
  expect(err, `${label}: expected a ${expected.name}`).toBeInstanceOf(expected);
  expect((err as Error).name, label).toBe(expected.name);
  expect((err as Error).message, label).toMatch(new RegExp(`^${op}: \\S.*`));
}

const engines: readonly [string, () => Promise<Engine>, number][] = [
  ['AttentionPool', async () => new AttentionPool({ threads: 2, kernel: 'js' }), 1],
  // Fewer runs through the remote engine: the same validation, plus the error transport to check.
  ['remote engine', () => createRemoteEngine({ threads: 2, kernel: 'js' }), 0.5],
];

describe.each(engines)('%s: fuzzed inputs', (_name, create, share) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await create();
  }, TIMEOUT_MS);
  afterAll(async () => {
    await engine?.close();
  });
  const runs = (n: number) => Math.max(10, Math.round(n * share));

  it('valid attention calls match the float64 reference', async () => {
    await fc.assert(fc.asyncProperty(attentionArb, async (draw) => {
      const { q, k, v, options, label } = buildAttention(draw);
      const result = await engine.attention(q, k, v, options);
      // Written in place: the result's data is the caller's out.data (shared or not).
      if (options.out) expect(result.data, `${label}: out is written and returned`).toBe(options.out.data);
      expect(result.shape).toEqual([q.shape[0], q.shape[1], q.shape[2], v.shape[3]]);
      expect(result.data.constructor).toBe(q.data.constructor);
      const ref = referenceAttention(q, k, v, { causal: options.causal, mask: options.mask, bias: options.bias, scale: options.scale });
      expectAttentionClose(result.data, options.lse?.data, ref, label);
    }), { numRuns: runs(300) });
  }, TIMEOUT_MS);

  it('valid multi-head attention calls match the float64 reference', async () => {
    await fc.assert(fc.asyncProperty(mhaArb, async (draw) => {
      const { query, key, value, weights, keyPaddingMask, label } = buildMha(draw);
      const { numHeads, causal, needWeights } = draw;
      const { output, attnWeights } = await engine.multiHeadAttention(query, key, value, weights, { numHeads, causal, needWeights, ...(keyPaddingMask && { keyPaddingMask }) });
      const ref = referenceMultiHeadAttention(query, key, value, weights, { numHeads, causal, keyPaddingMask });
      expectRelativeToMax(output.data, ref.output, FLOAT32_RTOL, `${label}: output`);
      if (!needWeights) expect(attnWeights ?? null, label).toBeNull();
      else expectMaxAbsDiff(attnWeights!.data, needWeights === 'average' ? ref.weightsAverage : ref.weightsPerHead, WEIGHTS_ATOL, `${label}: weights`);
    }), { numRuns: runs(150) });
  }, TIMEOUT_MS);

  it('invalid attention calls reject with TypeError or RangeError, as documented', async () => {
    await fc.assert(fc.asyncProperty(attentionArb, fc.constantFrom(...attentionMutations), async (draw, mutation) => {
      const { q, k, v, options } = buildAttention(draw);
      const args: AttentionArgs = { q, k, v, options };
      mutation.apply(args);
      await expectRejection(() => engine.attention(args.q as never, args.k as never, args.v as never, args.options as never), mutation.expected, 'attention', mutation.name);
    }), { numRuns: runs(500) });
  }, TIMEOUT_MS);

  it('invalid multi-head attention calls reject with TypeError or RangeError, as documented', async () => {
    await fc.assert(fc.asyncProperty(mhaArb, fc.constantFrom(...mhaMutations), async (draw, mutation) => {
      const { query, key, value, weights } = buildMha(draw);
      const args: MhaArgs = { query, key, value, weights, options: { numHeads: draw.numHeads } };
      mutation.apply(args);
      await expectRejection(() => engine.multiHeadAttention(args.query as never, args.key as never, args.value as never, args.weights as never, args.options as never),
        mutation.expected, 'multiHeadAttention', mutation.name);
    }), { numRuns: runs(250) });
  }, TIMEOUT_MS);

  it('after all that the engine still computes right', async () => {
    const { q, k, v } = attentionInputs({ seed: 7, B: 1, H: 4, Hkv: 2, Sq: 150, Sk: 170, D: 24, Dv: 16 });
    const out = await engine.attention(q, k, v, { causal: true });
    expectAttentionClose(out.data, undefined, referenceAttention(q, k, v, { causal: true }), 'final call');
  }, TIMEOUT_MS);
});
