// The wasm kernel's SIMD 2^x (asm/exp.ts) against float64 Math.pow over the range the softmax uses:
// arguments x = s − max <= 0 in base-2 units (the kernel folds log2 e into the score scale). Where the
// result is a normal float32 the bound is the 2e-7 relative error; where it would be subnormal
// (below 2^-126) the kernel flushes it to +0, as native kernels do with the FTZ flag, because subnormal
// arithmetic is ~100× slower on this CPU (see asm/exp.ts).
//
// The first test runs every 61st float32 of [-126, 0] (17.6 million of its 2^30; 61 is prime, so the
// sample falls on all mantissa patterns and exponents) and the 4096 float32 around each integer, where
// the reduction switches n, through the module, in blocks.

import { describe, expect, it } from 'vitest';
import { wasmKernels } from '../dist/workers/kernels/wasm/index.js';
import { instantiateKernels, type KernelExports } from '../dist/workers/kernels/wasm/kernel-exports.js';

const MAX_RELATIVE_ERROR = 2e-7;
const SMALLEST_NORMAL = 2 ** -126;
const BLOCK = 1 << 20;

/** The module's exp2Array entry point over a reusable block of its memory. */
function wasmExp2(): { readonly kernels: KernelExports; readonly src: number; readonly dst: number; run(values: ArrayLike<number>): Float32Array } {
  // The exponential has no multiply-add to fuse: both builds compute it alike, so 'auto' covers it.
  const module = wasmKernels()?.module ?? null;
  expect(module, 'a wasm build must be built and valid on this runtime').not.toBeNull();
  const kernels = instantiateKernels(module!);
  const src = Math.ceil(kernels.heapBase() / 16) * 16, dst = src + BLOCK * 4;
  const needed = dst + BLOCK * 4 - kernels.memory.buffer.byteLength;
  if (needed > 0) kernels.memory.grow(Math.ceil(needed / 65536));
  return {
    kernels, src, dst,
    run(values) {
      const count = Math.ceil(values.length / 4) * 4;
      new Float32Array(kernels.memory.buffer, src, count).fill(0).set(values);
      kernels.exp2Array(src, dst, count);
      return new Float32Array(kernels.memory.buffer, dst, values.length).slice();
    },
  };
}

describe('SIMD 2^x', () => {
  it('is within 2e-7 relative error of 2^x across [-126, 0]', () => {
    const { kernels, src, dst } = wasmExp2();
    const bits = new Uint32Array(kernels.memory.buffer, src, BLOCK);
    const xs = new Float32Array(kernels.memory.buffer, src, BLOCK);
    const got = new Float32Array(kernels.memory.buffer, dst, BLOCK);
    let worst = 0, worstAt = 0, checked = 0;
    /** Runs the bit patterns pattern(0), pattern(1), … pattern(count - 1) through the module. */
    const check = (count: number, pattern: (i: number) => number) => {
      for (let done = 0; done < count; done += BLOCK) {
        const n = Math.min(BLOCK, count - done);
        const padded = Math.ceil(n / 4) * 4;
        for (let i = 0; i < padded; i++) bits[i] = pattern(done + Math.min(i, n - 1));
        kernels.exp2Array(src, dst, padded);
        for (let i = 0; i < n; i++) {
          const exact = 2 ** xs[i];
          if (exact < SMALLEST_NORMAL) continue; // flushed: the next test
          const error = Math.abs(got[i] - exact) / exact;
          if (!(error <= worst)) {
            worst = error;
            worstAt = xs[i];
          }
        }
        checked += n;
      }
    };
    // Negative float32 bit patterns grow with magnitude: -0 is 0x80000000, -126 is 0xc2fc0000.
    const bitsOf = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
    const negZero = bitsOf(-0), minus126 = bitsOf(-126);
    check(Math.floor((minus126 - negZero) / 61) + 1, (i) => negZero + 61 * i);
    for (let n = 1; n <= 126; n++) check(4096, (i) => bitsOf(-n) - 2048 + i);
    expect(checked).toBeGreaterThan(17_000_000);
    expect(worst, `max relative error ${worst} at x = ${worstAt}`).toBeLessThanOrEqual(MAX_RELATIVE_ERROR);
  });

  it('flushes to +0 exactly where the result would be subnormal, and nowhere else', () => {
    const xs: number[] = [];
    for (let i = 0; i <= 100_000; i++) xs.push(Math.fround(-125 - 30 * i / 100_000)); // [-155, -125]
    for (const x of [-126, -126.5, -126.75, -127, -127.5, -128, -1e30]) xs.push(x);
    const got = wasmExp2().run(xs);
    let flushed = 0;
    xs.forEach((x, i) => {
      const exact = 2 ** x;
      if (exact < SMALLEST_NORMAL) {
        flushed++;
        if (!Object.is(got[i], 0)) expect.fail(`2^${x} = ${got[i]}, expected +0 (exact ${exact} is subnormal)`);
      } else if (!(Math.abs(got[i] - exact) / exact <= MAX_RELATIVE_ERROR)) {
        expect.fail(`2^${x} = ${got[i]}, expected ${exact} within 2e-7`);
      }
    });
    expect(flushed, 'the grid reaches into the subnormal range').toBeGreaterThan(95_000);
  });

  it('handles the special values the softmax feeds it', () => {
    const [negInf, zero, negZero, nan, one, tiny] = wasmExp2().run([-Infinity, 0, -0, NaN, -1, -1e-30]);
    expect(Object.is(negInf, 0), '2^-Infinity must be +0 (a masked key)').toBe(true);
    expect(zero, '2^0 must be exactly 1 (the row maximum)').toBe(1);
    expect(negZero).toBe(1);
    expect(nan).toBeNaN();
    expect(one).toBe(0.5);
    expect(tiny).toBe(1);
  });
});
