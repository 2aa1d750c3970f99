// The float16 and int8 storage conversions (workers/storage/) bit for bit against the storage rules of
// test/golden-variants/README.md, computed here by independent references: binary16 rounding as a
// float64 model (scale to the value's ulp, round half to even, scale back), checked against
// Math.f16round where the runtime has it (Node ≥ 24); int8 blocks with their own rounding and clamp.
// Halfway cases, subnormals, ±0, overflow to ±Infinity, NaN, all-zero and short int8 blocks.

import { describe, expect, it } from 'vitest';
import { float16Bits, float16Value, float16Values } from '../dist/workers/storage/float16.js';
import { encodeInt8Rows, int8BlocksPerRow, int8Value } from '../dist/workers/storage/int8-blocks.js';
import { Rng } from './support/random.js';

const F16_MAX = 65504;

/** The binary16 value nearest to x (a float32), ties to even, as a number (the float64 model). */
function f16Reference(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  const exponent = Math.max(-14, Math.floor(Math.log2(a)));
  const ulp = 2 ** (exponent - 10);
  const m = a / ulp; // exact: a power-of-two division
  let r = Math.floor(m);
  const rest = m - r;
  if (rest > 0.5 || (rest === 0.5 && r % 2 === 1)) r += 1;
  const rounded = r * ulp;
  const value = rounded > F16_MAX ? Infinity : rounded;
  return x < 0 ? -value : value; // -0 stays -0 when rounded is 0
}

const f16round = (Math as { f16round?: (x: number) => number }).f16round;

function float32Values(rng: Rng): number[] {
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  const values: number[] = [0, -0, Infinity, -Infinity, NaN, F16_MAX, 65519.99, 65520, -65520, 65536, 3.4028234663852886e38,
    2 ** -24, 2 ** -25, 2 ** -25 * 1.0000001, 3 * 2 ** -25, 2 ** -14, 2 ** -14 - 2 ** -24, 2 ** -26, 1e-45, -1e-45, 1, -1, 1 / 3];
  // Exact halfway points between neighbouring binary16 values (normal and subnormal), and their
  // float32 neighbours on each side.
  for (const h of [0x0001, 0x0002, 0x03ff, 0x0400, 0x0401, 0x3c00, 0x3c01, 0x7bfe, 0x7bff, 0x1234, 0x5555]) {
    const mid = (float16Value(h) + float16Value(h + 1)) / 2;
    f[0] = mid;
    expect(f[0]).toBe(mid); // representable in float32
    values.push(mid, -mid);
    u[0] += 1; values.push(f[0]);
    u[0] -= 2; values.push(f[0]);
  }
  for (let i = 0; i < 200_000; i++) { // random float32 bit patterns, weighted towards binary16's range
    u[0] = i % 2 === 0 ? Math.floor(rng.uniform() * 2 ** 32) : ((Math.floor(rng.uniform() * 2) << 31) | ((Math.floor(rng.uniform() * 40) + 96) << 23) | Math.floor(rng.uniform() * 2 ** 23)) >>> 0;
    values.push(f[0]);
  }
  return values;
}

describe('float16 storage', () => {
  const values = float32Values(new Rng(11));

  it('rounds every float32 as binary16 round-to-nearest-even does (float64 model), ±0, overflow and NaN included', () => {
    let checked = 0;
    for (const x of values) {
      const bits = float16Bits(x);
      expect(bits).toBeGreaterThanOrEqual(0);
      expect(bits).toBeLessThan(0x10000);
      const decoded = float16Value(bits);
      const expected = f16Reference(x);
      if (!Object.is(decoded, expected)) expect.fail(`float16 of ${x}: bits 0x${bits.toString(16)} = ${decoded}, expected ${expected}`);
      if (Number.isNaN(x)) expect((bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0).toBe(true);
      checked++;
    }
    expect(checked).toBe(values.length);
    expect(float16Bits(65520)).toBe(0x7c00); // the halfway point above the largest finite value
    expect(float16Bits(-0)).toBe(0x8000);
    expect(float16Bits(2 ** -25)).toBe(0); // halfway to the smallest subnormal: ties to even, 0
    expect(float16Bits(3 * 2 ** -25)).toBe(2); // halfway between subnormals 1 and 2: to 2
  });

  it.runIf(f16round !== undefined)('agrees with Math.f16round (Node ≥ 24)', () => {
    for (const x of values) {
      const expected = f16round!(x);
      if (!Object.is(float16Value(float16Bits(x)), expected)) expect.fail(`float16 of ${x}: Math.f16round gives ${expected}`);
    }
  });

  it('decodes every bit pattern exactly and round-trips every non-NaN pattern', () => {
    const table = float16Values();
    for (let bits = 0; bits < 0x10000; bits++) {
      const sign = bits & 0x8000 ? -1 : 1, e = (bits >> 10) & 0x1f, m = bits & 0x3ff;
      const expected = e === 31 ? (m ? NaN : sign * Infinity) : sign * (e === 0 ? m / 1024 * 2 ** -14 : (1 + m / 1024) * 2 ** (e - 15));
      if (!Object.is(table[bits], expected)) expect.fail(`0x${bits.toString(16)} decodes to ${table[bits]}, expected ${expected}`);
      if (!Number.isNaN(expected) && float16Bits(expected) !== bits) expect.fail(`0x${bits.toString(16)} does not round-trip`);
    }
  });
});

/** The int8 storage rule per block, written independently of the module. */
function int8Reference(row: Float32Array): { q: number[]; scales: number[] } {
  const q: number[] = [], scales: number[] = [];
  for (let b0 = 0; b0 < row.length; b0 += 32) {
    const block = Array.from(row.subarray(b0, b0 + 32));
    const scale = Math.fround(block.reduce((m, x) => (Math.abs(x) > m ? Math.abs(x) : m), 0) / 127);
    scales.push(scale);
    for (const x of block) {
      if (scale === 0) { q.push(0); continue; }
      const y = Math.fround(x / scale);
      let r = Math.round(y); // halves go up here…
      if (Math.abs(y - Math.trunc(y)) === 0.5 && r % 2 !== 0) r -= 1; // …and to the even neighbour instead
      q.push(Math.min(127, Math.max(-127, r)) + 0); // + 0: an int8 has no −0
    }
  }
  return { q, scales };
}

describe('int8 storage', () => {
  function check(row: Float32Array): void {
    const blocks = int8BlocksPerRow(row.length);
    const q = new Int8Array(row.length), scales = new Float32Array(blocks);
    encodeInt8Rows(q, 0, scales, 0, row, 0, 1, row.length);
    const expected = int8Reference(row);
    expect(Array.from(scales)).toEqual(expected.scales);
    expect(Array.from(q)).toEqual(expected.q);
    for (let i = 0; i < row.length; i++) {
      expect(int8Value(q[i], scales[Math.floor(i / 32)])).toBe(Math.fround(expected.q[i] * expected.scales[Math.floor(i / 32)]));
    }
  }

  it('quantises rows in blocks of 32 as the rule says, a short last block, an all-zero block, halfway cases', () => {
    const rng = new Rng(12);
    for (const cols of [1, 5, 31, 32, 33, 40, 64, 100, 128]) {
      for (let t = 0; t < 200; t++) {
        const row = new Float32Array(cols);
        const spread = 10 ** (rng.uniform() * 60 - 30);
        for (let i = 0; i < cols; i++) row[i] = rng.normal() * spread;
        if (t % 7 === 0) row.fill(0, 0, Math.min(32, cols)); // an all-zero block
        if (t % 5 === 0) row.fill(0, 0, cols).set([127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5].slice(0, cols)); // scale 1: halfway q
        check(row);
      }
    }
    for (const special of [[1e-45, -1e-45, 0], [3.4028234663852886e38, -1, 1], [-0, 0, -0]]) check(new Float32Array(special));
  });

  it('gives an all-zero block scale 0 and q 0', () => {
    const q = new Int8Array(40).fill(5), scales = new Float32Array(2).fill(7);
    const row = new Float32Array(40);
    row[35] = 2;
    encodeInt8Rows(q, 0, scales, 0, row, 0, 1, 40);
    expect(scales[0]).toBe(0);
    expect(Array.from(q.subarray(0, 32))).toEqual(new Array(32).fill(0));
    expect(scales[1]).toBe(Math.fround(2 / 127));
    expect(q[35]).toBe(127);
  });
});
