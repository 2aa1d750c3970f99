// Random and awkward shapes against the independent float64 reference (test/support/reference.ts):
// odd sizes, Sq ≠ Sk, D ≠ Dv, grouped-query heads, masks and biases broadcast along various axes,
// explicit scales, bottom-right causal (including Sq > Sk, whose first rows see no key at all), float64
// inputs, empty dimensions, caller-provided `out`/`lse`, and inputs not backed by a SharedArrayBuffer.
// Tolerances and their justification: test/support/compare.ts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, zeros } from '../dist/src/index.js';
import { expectAttentionClose, expectMaxAbsDiff, expectRelativeToMax, expectSameBits, FLOAT32_RTOL, WEIGHTS_ATOL } from './support/compare.js';
import { KERNELS } from './support/kernels.js';
import { attentionInputs, cloneTensor, filledTensor, mhaInputs, product, Rng, type AttentionSpec, type FloatData, type MhaCase, type Shape, type TensorLike } from './support/random.js';
import { referenceAttention, referenceMultiHeadAttention } from './support/reference.js';

const TIMEOUT_MS = 30_000;

interface AttentionCase extends AttentionSpec {
  readonly label: string;
  readonly causal?: boolean;
  readonly scale?: number;
}

const handPicked: readonly AttentionCase[] = [
  { label: 'odd sizes, Sq≠Sk, D≠Dv', seed: 101, B: 2, H: 3, Hkv: 3, Sq: 37, Sk: 53, D: 19, Dv: 11 },
  { label: 'GQA 6/2, chunked prefill (Sq<Sk) causal', seed: 102, B: 2, H: 6, Hkv: 2, Sq: 21, Sk: 45, D: 16, Dv: 24, causal: true },
  { label: 'causal with Sq>Sk: the first Sq−Sk rows see no key', seed: 103, B: 1, H: 2, Hkv: 1, Sq: 30, Sk: 12, D: 8, Dv: 8, causal: true },
  { label: 'MQA, single query row (decode)', seed: 104, B: 3, H: 5, Hkv: 1, Sq: 1, Sk: 77, D: 32, Dv: 32, causal: true },
  { label: 'D=1, Dv=1, Sk=1', seed: 105, B: 1, H: 1, Hkv: 1, Sq: 5, Sk: 1, D: 1, Dv: 1 },
  { label: 'mask [Sq,Sk]', seed: 106, B: 2, H: 2, Hkv: 2, Sq: 17, Sk: 23, D: 8, Dv: 8, maskShape: [17, 23] },
  { label: 'mask [B,1,1,Sk] (padding)', seed: 107, B: 3, H: 4, Hkv: 2, Sq: 9, Sk: 31, D: 12, Dv: 6, maskShape: [3, 1, 1, 31] },
  { label: 'mask [1,H,Sq,Sk] with causal', seed: 108, B: 2, H: 3, Hkv: 3, Sq: 19, Sk: 19, D: 8, Dv: 8, maskShape: [1, 3, 19, 19], causal: true },
  { label: 'mask [B,H,Sq,Sk]', seed: 109, B: 2, H: 2, Hkv: 1, Sq: 11, Sk: 14, D: 5, Dv: 9, maskShape: [2, 2, 11, 14] },
  { label: 'mask [Sk] (1-D)', seed: 110, B: 2, H: 2, Hkv: 2, Sq: 6, Sk: 13, D: 4, Dv: 4, maskShape: [13] },
  { label: 'mask [B,1,Sq,1]: some whole rows masked', seed: 111, B: 2, H: 3, Hkv: 3, Sq: 16, Sk: 10, D: 8, Dv: 8, maskShape: [2, 1, 16, 1] },
  { label: 'bias [Sq,Sk], scale 0.3', seed: 112, B: 1, H: 2, Hkv: 2, Sq: 13, Sk: 29, D: 8, Dv: 8, biasShape: [13, 29], scale: 0.3 },
  { label: 'bias [B,1,1,Sk]', seed: 113, B: 2, H: 4, Hkv: 4, Sq: 7, Sk: 40, D: 16, Dv: 16, biasShape: [2, 1, 1, 40] },
  { label: 'bias [1,H,Sq,Sk] (ALiBi-like), causal', seed: 114, B: 2, H: 4, Hkv: 2, Sq: 25, Sk: 25, D: 8, Dv: 8, biasShape: [1, 4, 25, 25], causal: true },
  { label: 'bias [H,Sq,Sk] (3-D) and mask [B,1,Sq,Sk] and causal', seed: 115, B: 2, H: 2, Hkv: 2, Sq: 20, Sk: 26, D: 8, Dv: 8, biasShape: [2, 20, 26], maskShape: [2, 1, 20, 26], causal: true },
  { label: 'long rows Sk=700, D=64', seed: 116, B: 1, H: 2, Hkv: 2, Sq: 3, Sk: 700, D: 64, Dv: 64 },
];

/** Shapes of a mask or bias that broadcast to [B, H, Sq, Sk]. */
function broadcastShapes(B: number, H: number, Sq: number, Sk: number): Shape[] {
  return [[Sq, Sk], [B, 1, 1, Sk], [1, H, Sq, Sk], [B, H, Sq, Sk], [Sk], [1, 1, Sq, Sk], [H, 1, Sk], [B, 1, Sq, Sk]];
}

/** Twelve drawn cases: every size, head grouping and mask/bias layout is the rng's choice. */
function drawnCases(seed: number, count: number): AttentionCase[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, n) => {
    const B = rng.int(1, 3), Hkv = rng.int(1, 3), H = Hkv * rng.int(1, 3);
    const Sq = rng.int(1, 70), Sk = rng.int(1, 70), D = rng.int(1, 40), Dv = rng.int(1, 40);
    const shapes = broadcastShapes(B, H, Sq, Sk);
    const pick = (): Shape | undefined => (rng.uniform() < 0.5 ? shapes[rng.int(0, shapes.length - 1)] : undefined);
    const maskShape = pick(), biasShape = pick();
    const causal = rng.uniform() < 0.5;
    const scale = rng.uniform() < 0.3 ? 0.05 + rng.uniform() : undefined;
    return {
      label: `drawn #${n}: B${B} H${H}/${Hkv} Sq${Sq} Sk${Sk} D${D} Dv${Dv}${causal ? ' causal' : ''}${maskShape ? ` mask[${maskShape}]` : ''}${biasShape ? ` bias[${biasShape}]` : ''}${scale ? ` scale ${scale.toFixed(3)}` : ''}`,
      seed: 1000 + n, B, H, Hkv, Sq, Sk, D, Dv, causal, maskShape, biasShape, scale,
    };
  });
}

const attentionCases = [...handPicked, ...drawnCases(7, 12)];

function referenceFor(c: AttentionCase, inputs: ReturnType<typeof attentionInputs>) {
  return referenceAttention(inputs.q, inputs.k, inputs.v, { causal: c.causal, mask: inputs.mask, bias: inputs.bias, scale: c.scale });
}

function optionsFor(c: AttentionCase, inputs: ReturnType<typeof attentionInputs>) {
  return {
    ...(c.causal !== undefined && { causal: c.causal }),
    ...(inputs.mask && { mask: inputs.mask }),
    ...(inputs.bias && { bias: inputs.bias }),
    ...(c.scale !== undefined && { scale: c.scale }),
  };
}

describe.each(KERNELS)('kernel %s', (kernel) => {
  let pool: AttentionPool;
  beforeAll(() => {
    pool = new AttentionPool({ threads: 2, kernel });
  });
  afterAll(async () => {
    await pool?.close();
  });

  it.each(attentionCases)('attention, $label', async (c) => {
    const inputs = attentionInputs(c);
    const lse = zeros([c.B, c.H, c.Sq]);
    const out = await pool.attention(inputs.q, inputs.k, inputs.v, { ...optionsFor(c, inputs), lse });
    expect(out.shape).toEqual([c.B, c.H, c.Sq, c.Dv]);
    expect(out.data).toBeInstanceOf(Float32Array);
    expectAttentionClose(out.data, lse.data, referenceFor(c, inputs), c.label);
  }, TIMEOUT_MS);

  it.each(handPicked.filter((_, n) => n % 2 === 0))(
    'float64 inputs give a float64 result within 1e-12: $label',
    async (c) => {
      const inputs = attentionInputs({ ...c, dtype: 'float64' });
      const lse = zeros([c.B, c.H, c.Sq], 'float64');
      const out = await pool.attention(inputs.q, inputs.k, inputs.v, { ...optionsFor(c, inputs), lse });
      expect(out.data).toBeInstanceOf(Float64Array);
      expect(out.shape).toEqual([c.B, c.H, c.Sq, c.Dv]);
      expectAttentionClose(out.data, lse.data, referenceFor(c, inputs), c.label);
    },
    TIMEOUT_MS,
  );

  it('Sq = 0 gives an empty result of shape [B, H, 0, Dv]', async () => {
    const inputs = attentionInputs({ seed: 201, B: 2, H: 2, Hkv: 1, Sq: 0, Sk: 9, D: 4, Dv: 6 });
    const lse = zeros([2, 2, 0]);
    const out = await pool.attention(inputs.q, inputs.k, inputs.v, { lse, causal: true });
    expect(out.shape).toEqual([2, 2, 0, 6]);
    expect(out.data.length).toBe(0);
  }, TIMEOUT_MS);

  it('Sk = 0 gives zeros and lse −Infinity, even into a pre-filled out', async () => {
    const inputs = attentionInputs({ seed: 202, B: 1, H: 3, Hkv: 3, Sq: 5, Sk: 0, D: 4, Dv: 6 });
    const out = filledTensor([1, 3, 5, 6], 7);
    const lse = filledTensor([1, 3, 5], 7);
    const result = await pool.attention(inputs.q, inputs.k, inputs.v, { out, lse });
    expect(result.shape).toEqual([1, 3, 5, 6]);
    expect(Array.from(result.data).every((x) => x === 0)).toBe(true);
    expect(Array.from(lse.data).every((x) => x === -Infinity)).toBe(true);
    const fresh = await pool.attention(inputs.q, inputs.k, inputs.v);
    expect(Array.from(fresh.data).every((x) => x === 0)).toBe(true);
  }, TIMEOUT_MS);

  it('`out` and `lse` are written in place and `out` is returned', async () => {
    const c = handPicked[1];
    const inputs = attentionInputs(c);
    const out = filledTensor([c.B, c.H, c.Sq, c.Dv], NaN);
    const lse = filledTensor([c.B, c.H, c.Sq], NaN);
    const result = await pool.attention(inputs.q, inputs.k, inputs.v, { ...optionsFor(c, inputs), out, lse });
    expect(result.data.buffer).toBe(out.data.buffer);
    expect(result.data.byteOffset).toBe(out.data.byteOffset);
    expectAttentionClose(out.data, lse.data, referenceFor(c, inputs), 'in place');
  }, TIMEOUT_MS);

  it('inputs not backed by a SharedArrayBuffer are accepted, left unchanged, and the result is shared', async () => {
    const c = handPicked[6]; // has a mask
    const inputs = attentionInputs({ ...c, shared: false });
    expect(inputs.q.data.buffer).toBeInstanceOf(ArrayBuffer);
    const all: TensorLike<FloatData | Uint8Array>[] = [inputs.q, inputs.k, inputs.v, inputs.mask!];
    const before = all.map((t) => cloneTensor(t));
    const out = await pool.attention(inputs.q, inputs.k, inputs.v, optionsFor(c, inputs));
    expect(out.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    all.forEach((t, n) => expectSameBits(t.data, before[n].data, `input ${n} unchanged`));
    expectAttentionClose(out.data, undefined, referenceFor(c, inputs), 'not shared');
  }, TIMEOUT_MS);

  it('shared inputs are used in place but never written, and views at an offset into a larger buffer are honoured', async () => {
    const c: AttentionCase = { label: 'views', seed: 203, B: 2, H: 4, Hkv: 2, Sq: 40, Sk: 300, D: 32, Dv: 16, maskShape: [2, 1, 1, 300] };
    const inputs = attentionInputs(c);
    // Each tensor is copied into the middle of a bigger SharedArrayBuffer whose other bytes hold NaN
    // (or 0 for the mask): reading outside the view would poison the result.
    const inView = <A extends Float32Array | Uint8Array>(t: TensorLike<A>, pad: number): TensorLike<A> => {
      const Ctor = t.data.constructor as new (buffer: SharedArrayBuffer, byteOffset: number, length: number) => A;
      const size = t.data.BYTES_PER_ELEMENT;
      const sab = new SharedArrayBuffer((t.data.length + 2 * 16) * size);
      new Ctor(sab, 0, t.data.length + 32).fill(pad);
      const data = new Ctor(sab, 16 * size, t.data.length);
      data.set(t.data as never);
      return { data, shape: t.shape };
    };
    const q = inView(inputs.q as TensorLike<Float32Array>, NaN);
    const k = inView(inputs.k as TensorLike<Float32Array>, NaN);
    const v = inView(inputs.v as TensorLike<Float32Array>, NaN);
    const mask = inView(inputs.mask!, 0);
    const before = [q, k, v].map((t) => new Float32Array(t.data.buffer.slice(0)));
    const out = await pool.attention(q, k, v, { mask });
    [q, k, v].forEach((t, n) => expectSameBits(new Float32Array(t.data.buffer.slice(0)), before[n], `buffer ${n} unchanged`));
    expectAttentionClose(out.data, undefined, referenceFor(c, inputs), 'views');
  }, TIMEOUT_MS);

  const mhaCases: readonly MhaCase[] = [
    { label: 'self, E40 H5, odd S', seed: 301, B: 2, Sq: 23, Sk: 23, E: 40, numHeads: 5, selfAttention: true, causal: false },
    { label: 'self causal with key padding', seed: 302, B: 3, Sq: 17, Sk: 17, E: 24, numHeads: 3, selfAttention: true, causal: true, keyLengths: [17, 9, 1] },
    { label: 'cross Sq<Sk, no biases', seed: 303, B: 2, Sq: 7, Sk: 33, E: 32, numHeads: 8, selfAttention: false, causal: false, withBias: false },
    { label: 'cross Sq>Sk causal: leading rows see no key', seed: 304, B: 1, Sq: 20, Sk: 8, E: 16, numHeads: 2, selfAttention: false, causal: true },
    { label: 'cross, all keys of one batch element padded', seed: 305, B: 2, Sq: 6, Sk: 10, E: 16, numHeads: 4, selfAttention: false, causal: false, keyLengths: [10, 0] },
    { label: 'one head, E=64', seed: 306, B: 1, Sq: 50, Sk: 50, E: 64, numHeads: 1, selfAttention: true, causal: true },
  ];

  it.each(mhaCases)('multiHeadAttention, $label', async (c) => {
    const inputs = mhaInputs(c);
    const ref = referenceMultiHeadAttention(inputs.query, inputs.key, inputs.value, inputs.weights, { numHeads: c.numHeads, causal: c.causal, keyPaddingMask: inputs.keyPaddingMask });
    const options = { numHeads: c.numHeads, causal: c.causal, ...(inputs.keyPaddingMask && { keyPaddingMask: inputs.keyPaddingMask }) };
    const Sk = inputs.key.shape[1];

    const perHead = await pool.multiHeadAttention(inputs.query, inputs.key, inputs.value, inputs.weights, { ...options, needWeights: 'per-head' });
    expect(perHead.output.shape).toEqual([c.B, c.Sq, c.E]);
    expectRelativeToMax(perHead.output.data, ref.output, FLOAT32_RTOL, 'output');
    expect(perHead.attnWeights?.shape).toEqual([c.B, c.numHeads, c.Sq, Sk]);
    expectMaxAbsDiff(perHead.attnWeights!.data, ref.weightsPerHead, WEIGHTS_ATOL, 'per-head weights');

    const average = await pool.multiHeadAttention(inputs.query, inputs.key, inputs.value, inputs.weights, { ...options, needWeights: 'average' });
    expectRelativeToMax(average.output.data, ref.output, FLOAT32_RTOL, 'output (average weights)');
    expect(average.attnWeights?.shape).toEqual([c.B, c.Sq, Sk]);
    expectMaxAbsDiff(average.attnWeights!.data, ref.weightsAverage, WEIGHTS_ATOL, 'average weights');

    const plain = await pool.multiHeadAttention(inputs.query, inputs.key, inputs.value, inputs.weights, options);
    expectRelativeToMax(plain.output.data, ref.output, FLOAT32_RTOL, 'output (no weights)');
    expect(plain.attnWeights ?? undefined).toBeUndefined();
    expect(plain.output.data.buffer).toBeInstanceOf(SharedArrayBuffer);
  }, TIMEOUT_MS);

  it('multiHeadAttention with Sq = 0 gives an empty output; with Sk = 0 every row equals outProjBias', async () => {
    const empty = mhaInputs({ seed: 307, B: 2, Sq: 0, Sk: 5, E: 8, selfAttention: false });
    const none = await pool.multiHeadAttention(empty.query, empty.key, empty.value, empty.weights, { numHeads: 2 });
    expect(none.output.shape).toEqual([2, 0, 8]);
    expect(none.output.data.length).toBe(0);

    const noKeys = mhaInputs({ seed: 308, B: 2, Sq: 3, Sk: 0, E: 8, selfAttention: false });
    const { output } = await pool.multiHeadAttention(noKeys.query, noKeys.key, noKeys.value, noKeys.weights, { numHeads: 2 });
    expect(output.shape).toEqual([2, 3, 8]);
    const bias = Array.from(noKeys.weights.outProjBias!.data);
    for (let row = 0; row < 6; row++) expect(Array.from(output.data.subarray(row * 8, row * 8 + 8))).toEqual(bias);
    expect(product(output.shape)).toBe(output.data.length);
  }, TIMEOUT_MS);
});
