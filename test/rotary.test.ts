// pool.rotary: the golden rotary cases, a float64 reference (test/support/reference-rotary.ts, written
// as model code writes rotate_half and rotate_every_two) over random shapes and options, the same bits
// for every thread count, kernel and tile cut, in place and out, validation, abort.

import { describe, expect, it } from 'vitest';
import { caught, expectRelativeToMax, expectSameBits } from './support/compare.js';
import { rotaryCases } from './support/golden-rotary-merge.js';
import { KERNELS, kernelOptions } from './support/kernels.js';
import { cloneTensor, randomTensor, Rng, type FloatDType, type TensorLike } from './support/random.js';
import { referenceRotary, type RotaryReferenceOptions } from './support/reference-rotary.js';
import { suitePool } from './support/suite-pools.js';

const pools = {
  js: [1, 2, 3].map((threads) => suitePool({ threads, kernel: 'js' })),
  wasm: [1, 2, 3].map((threads) => suitePool({ threads, ...kernelOptions('wasm') })),
};
const pool = pools.js[1];

function int32Tensor(shape: readonly number[], values: ArrayLike<number>, shared = true): TensorLike<never> & { data: Int32Array } {
  const data = new Int32Array(shared ? new SharedArrayBuffer(values.length * 4) : new ArrayBuffer(values.length * 4));
  data.set(values);
  return { data, shape: [...shape] } as never;
}

/** Every element within rounding of the float64 reference: float32 results at most one float32 ulp
 *  (2^-23 relative) off it; both types also allow the angle's own float64 rounding, which grows with
 *  |position| (|Δangle| ≤ |position|·θ·2^-52, and |θ| ≤ 1 for base ≥ 1), times the row's size. */
function expectRotaryClose(y: Float32Array | Float64Array, x: TensorLike, ref: Float64Array, positionOf: (b: number, s: number) => number, label: string): void {
  const [B, H, S, D] = x.shape;
  const relative = y instanceof Float32Array ? 2 ** -23 : 2 ** -50;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let s = 0; s < S; s++) {
        const row = ((b * H + h) * S + s) * D;
        let size = 0;
        for (let d = 0; d < D; d++) size = Math.max(size, Math.abs(x.data[row + d]));
        const angleSlack = (Math.abs(positionOf(b, s)) + 4) * 2 ** -50 * size;
        for (let d = 0; d < D; d++) {
          const diff = Math.abs(y[row + d] - ref[row + d]);
          const tol = relative * Math.abs(ref[row + d]) + angleSlack;
          if (!(diff <= tol)) expect.fail(`${label}: [${b}, ${h}, ${s}, ${d}] = ${y[row + d]}, reference ${ref[row + d]} (|Δ| ${diff} > ${tol})`);
        }
      }
    }
  }
}

describe('golden rotary cases', () => {
  const cases = rotaryCases();
  it('the manifest has the rotate_half and the interleaved case', () => {
    expect(cases.map((c) => c.name).sort()).toEqual(['rot-half', 'rot-interleaved']);
  });

  it.each(cases)('the test reference reproduces $name', (c) => {
    const ref = referenceRotary(c.x, { base: c.base, interleaved: c.interleaved, rotaryDim: c.rotaryDim, offset: c.offset });
    expectRelativeToMax(ref, c.outF64.data, 1e-14, `${c.name} reference`);
  });

  it.each(KERNELS.flatMap((kernel) => cases.map((c) => ({ kernel, c }))))('$c.name on kernel $kernel within suggested_out_rtol, bit-identical on 1, 2, 3 threads', async ({ kernel, c }) => {
    const options = { base: c.base, interleaved: c.interleaved, rotaryDim: c.rotaryDim, offset: c.offset };
    const results = await Promise.all(pools[kernel].map((p) => p.rotary(c.x, options)));
    expectRelativeToMax(results[0].data, c.outF64.data, c.rtol, `${c.name} out`);
    expectRotaryClose(results[0].data, c.x, c.outF64.data, (_, s) => c.offset + s, c.name);
    // Here even the float32 rounding of the float64 reference (out.npy) comes out bit for bit; a value
    // within 1e-16 of a float32 tie could round the other way, which these fixed inputs do not have.
    expectSameBits(results[0].data, c.out.data, `${c.name} vs out.npy`);
    results.slice(1).forEach((r, i) => expectSameBits(r.data, results[0].data, `${c.name}: ${i + 2} threads vs 1`));
    expect(results[0].shape).toEqual(c.x.shape);
  });
});

describe('same bits whatever the threads, kernel and tile cut', () => {
  // 2 MiB of float32: over the inline bound, so the call is cut into tiles and run on the workers.
  const x = randomTensor(new Rng(1601), [2, 8, 512, 64]);
  const positions = int32Tensor([2, 512], Array.from({ length: 1024 }, (_, n) => (n * 7919) % 100_003 - 20));
  for (const options of [{ offset: 3 }, { interleaved: true, rotaryDim: 48, positions }]) {
    it(`threads 1, 2, 3 on both kernels: ${JSON.stringify(Object.keys(options))}`, async () => {
      const all = await Promise.all([...pools.js, ...pools.wasm].map((p) => p.rotary(x, options)));
      all.slice(1).forEach((r, i) => expectSameBits(r.data, all[0].data, `pool ${i + 1} vs pool 0`));
      const ref = referenceRotary(x as TensorLike<Float32Array>, options as RotaryReferenceOptions);
      const positionOf = (b: number, s: number) => ('positions' in options ? positions.data[b * 512 + s] : 3 + s);
      expectRotaryClose(all[0].data, x, ref, positionOf, 'large');
    });
  }

  it('rows computed alone on the calling thread have the bits of the tiled call', async () => {
    const whole = await pool.rotary(x, { interleaved: true, rotaryDim: 48, positions });
    const [B, H, S, D] = x.shape;
    for (const [b, s] of [[0, 0], [1, 37], [1, 511]]) {
      const row = new Float32Array(H * D), pos = int32Tensor([1, 1], [positions.data[b * S + s]]);
      for (let h = 0; h < H; h++) row.set(x.data.subarray(((b * H + h) * S + s) * D, ((b * H + h) * S + s + 1) * D), h * D);
      const alone = await pool.rotary({ data: row, shape: [1, H, 1, D] }, { interleaved: true, rotaryDim: 48, positions: pos });
      for (let h = 0; h < H; h++) {
        expectSameBits(alone.data.subarray(h * D, (h + 1) * D), whole.data.subarray(((b * H + h) * S + s) * D, ((b * H + h) * S + s + 1) * D), `row (${b}, ${h}, ${s})`);
      }
    }
  });
});

describe('against the float64 reference, random shapes and options', () => {
  const rng = new Rng(1602);
  const specs = Array.from({ length: 40 }, (_, n) => {
    const D = 2 * rng.int(1, 40) + (rng.chance(0.2) ? 1 : 0);
    const rotaryDim = rng.chance(0.5) ? undefined : 2 * rng.int(1, Math.floor(D / 2));
    const shape = [rng.int(1, 3), rng.int(1, 4), rng.int(1, 70), D] as const;
    const dtype: FloatDType = rng.chance(0.5) ? 'float64' : 'float32';
    const withPositions = rng.chance(0.4);
    return {
      n, shape, dtype, rotaryDim: rotaryDim ?? (D % 2 === 0 ? undefined : D - 1),
      interleaved: rng.chance(0.5), base: rng.pick([10000, 500000, 100, 1.5, 0.5]),
      offset: withPositions ? undefined : rng.pick([0, 1, 17, 4096, 1_000_000]),
      positions: withPositions ? int32Tensor([shape[0], shape[2]], Array.from({ length: shape[0] * shape[2] }, () => rng.int(-5000, 2 ** 31 - 1) % rng.pick([100, 70000, 2 ** 31 - 1])), rng.chance(0.5)) : undefined,
      shared: rng.chance(0.7), inPlace: rng.chance(0.3),
    };
  });

  it.each(specs)('case $n: $shape $dtype', async (spec) => {
    const x = randomTensor(new Rng(1700 + spec.n), spec.shape, spec.dtype, { shared: spec.shared, std: 3 });
    const original = cloneTensor(x);
    const options = { base: spec.base, interleaved: spec.interleaved, rotaryDim: spec.rotaryDim, offset: spec.offset, positions: spec.positions };
    const ref = referenceRotary(original, options);
    const y = await pool.rotary(x, spec.inPlace ? { ...options, out: x } : options);
    if (spec.inPlace) expect(y).toBe(x);
    else expectSameBits(x.data, original.data, 'x unchanged');
    expect(y.data.constructor).toBe(x.data.constructor);
    const [, , S] = spec.shape;
    expectRotaryClose(y.data, original, ref, (b, s) => (spec.positions ? spec.positions.data[b * S + s] : spec.offset! + s), `case ${spec.n}`);
    // Dimensions from rotaryDim on pass through exactly.
    const r = spec.rotaryDim ?? spec.shape[3], D = spec.shape[3];
    for (let row = 0; row < y.data.length / D; row++) {
      for (let d = r; d < D; d++) expect(y.data[row * D + d]).toBe(original.data[row * D + d]);
    }
  });
});

describe('out', () => {
  const x = randomTensor(new Rng(1603), [2, 3, 40, 16]);
  it('a given out is written and returned; out = x rotates x in place, with the same bits', async () => {
    const fresh = await pool.rotary(x, { offset: 9 });
    const out = { data: new Float32Array(new SharedArrayBuffer(x.data.byteLength)), shape: [...x.shape] };
    expect(await pool.rotary(x, { offset: 9, out })).toBe(out);
    expectSameBits(out.data, fresh.data, 'out');
    for (const shared of [true, false]) {
      const y = cloneTensor(x, { shared });
      expect(await pool.rotary(y, { offset: 9, out: y })).toBe(y);
      expectSameBits(y.data, fresh.data, `in place, shared ${shared}`);
    }
  });

  it('an out that overlaps x without being x, or overlaps positions, is refused', async () => {
    const buffer = new SharedArrayBuffer(x.data.byteLength + 64);
    const xs = { data: new Float32Array(buffer, 0, x.data.length), shape: x.shape };
    const shifted = { data: new Float32Array(buffer, 64, x.data.length), shape: x.shape };
    const err = await caught(() => pool.rotary(xs, { out: shifted }));
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toMatch(/^rotary: options\.out overlaps x/);
    const both = new SharedArrayBuffer(x.data.byteLength + 2 * 40 * 4);
    const out = { data: new Float32Array(both, 0, x.data.length), shape: x.shape };
    const positions = { data: new Int32Array(both, 0, 80), shape: [2, 40] };
    await expect(pool.rotary(x, { out, positions })).rejects.toThrow(/^rotary: options\.out overlaps options\.positions/);
  });
});

describe('validation', () => {
  const x = randomTensor(new Rng(1604), [1, 2, 5, 8]);
  const bad: [string, () => unknown, ErrorConstructor, RegExp][] = [
    ['x rank', () => pool.rotary({ data: new Float32Array(8), shape: [1, 8] }), RangeError, /^rotary: x\.shape must be of rank 4 \(\[B, H, S, D\]\)/],
    ['x int data', () => pool.rotary({ data: new Int32Array(80), shape: [1, 2, 5, 8] } as never), TypeError, /^rotary: x\.data must be a Float32Array or Float64Array/],
    ['odd rotaryDim', () => pool.rotary(x, { rotaryDim: 3 }), RangeError, /^rotary: options\.rotaryDim must be an even integer from 2 to x\.shape\[3\] \(D\) = 8, got 3$/],
    ['rotaryDim > D', () => pool.rotary(x, { rotaryDim: 10 }), RangeError, /options\.rotaryDim must be an even integer from 2 to .* = 8, got 10/],
    ['rotaryDim 0', () => pool.rotary(x, { rotaryDim: 0 }), RangeError, /options\.rotaryDim .* got 0/],
    ['rotaryDim string', () => pool.rotary(x, { rotaryDim: '4' as never }), TypeError, /^rotary: options\.rotaryDim must be a number, got "4"/],
    ['odd D by default', () => pool.rotary({ data: new Float32Array(7), shape: [1, 1, 1, 7] }), RangeError, /got 7 \(its default, x\.shape\[3\] \(D\); pass an even options\.rotaryDim/],
    ['base 0', () => pool.rotary(x, { base: 0 }), RangeError, /^rotary: options\.base must be a finite number > 0, got 0$/],
    ['base negative', () => pool.rotary(x, { base: -10 }), RangeError, /options\.base must be a finite number > 0, got -10/],
    ['base NaN', () => pool.rotary(x, { base: NaN }), RangeError, /options\.base .* got NaN/],
    ['base Infinity', () => pool.rotary(x, { base: Infinity }), RangeError, /options\.base .* got Infinity/],
    ['base string', () => pool.rotary(x, { base: '1e4' as never }), TypeError, /options\.base must be a number/],
    ['interleaved', () => pool.rotary(x, { interleaved: 1 as never }), TypeError, /^rotary: options\.interleaved must be a boolean, got 1/],
    ['offset negative', () => pool.rotary(x, { offset: -1 }), RangeError, /^rotary: options\.offset must be a non-negative integer, got -1/],
    ['offset fraction', () => pool.rotary(x, { offset: 0.5 }), RangeError, /options\.offset must be a non-negative integer, got 0\.5/],
    ['offset too far', () => pool.rotary(x, { offset: Number.MAX_SAFE_INTEGER }), RangeError, /the last position\) must be a safe integer/],
    ['positions float', () => pool.rotary(x, { positions: { data: new Float32Array(5), shape: [1, 5] } as never }), TypeError, /^rotary: options\.positions\.data must be an Int32Array, got a Float32Array/],
    ['positions rank', () => pool.rotary(x, { positions: int32Tensor([5], [0, 1, 2, 3, 4]) }), RangeError, /options\.positions\.shape must be of rank 2 \(\[B, S\]\)/],
    ['positions S', () => pool.rotary(x, { positions: int32Tensor([1, 4], [0, 1, 2, 3]) }), RangeError, /^rotary: options\.positions\.shape\[1\] \(S\) must be equal to x\.shape\[2\] \(S\) = 5, got 4/],
    ['positions B', () => pool.rotary(x, { positions: int32Tensor([2, 5], new Array(10).fill(0)) }), RangeError, /options\.positions\.shape\[0\] \(B\) must be equal to B = 1, got 2/],
    ['positions and offset', () => pool.rotary(x, { offset: 2, positions: int32Tensor([1, 5], [0, 1, 2, 3, 4]) }), RangeError, /options\.offset cannot be combined with options\.positions/],
    ['out dtype', () => pool.rotary(x, { out: { data: new Float64Array(80), shape: [1, 2, 5, 8] } as never }), TypeError, /^rotary: options\.out\.data must be a Float32Array like x\.data/],
    ['out shape', () => pool.rotary(x, { out: { data: new Float32Array(80), shape: [1, 2, 8, 5] } }), RangeError, /^rotary: options\.out\.shape must be \[1, 2, 5, 8\] \(x\.shape\), got \[1, 2, 8, 5\]/],
    ['unknown option', () => pool.rotary(x, { rotary_dim: 4 } as never), RangeError, /^rotary: options\.rotary_dim is not an option/],
    ['signal', () => pool.rotary(x, { signal: {} as never }), TypeError, /options\.signal must be an AbortSignal/],
  ];
  it.each(bad)('%s', async (_, call, type, message) => {
    const err = await caught(call);
    expect(err).toBeInstanceOf(type);
    expect((err as Error).message).toMatch(message);
  });

  it('the pool keeps working after refusals', async () => {
    expectRotaryClose((await pool.rotary(x)).data, x, referenceRotary(x), (_, s) => s, 'after');
  });
});

describe('abort', () => {
  const big = randomTensor(new Rng(1605), [4, 16, 1024, 128]); // 32 MiB: many tiles
  it('an aborted signal rejects with AbortError; the pool keeps its threads and its bits', async () => {
    const before = await pool.rotary(big, { offset: 1 });
    const err = await caught(() => pool.rotary(big, { signal: AbortSignal.abort() }));
    expect((err as Error).name).toBe('AbortError');
    const controller = new AbortController();
    const call = pool.rotary(big, { signal: controller.signal });
    setTimeout(() => controller.abort(), 1);
    expect(((await caught(() => call)) as Error).name).toBe('AbortError');
    expectSameBits((await pool.rotary(big, { offset: 1 })).data, before.data, 'after the aborts');
  });
});

