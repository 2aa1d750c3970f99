// The wasm kernel's SIMD exp (asm/exp.ts) against Math.exp over the range the softmax uses: arguments
// s - max <= 0. Where the result is a normal float32 the bound is the 2e-7 relative error;
// where it would be subnormal (below 2^-126) the kernel flushes it to +0, as native kernels do with
// the FTZ flag, because subnormal arithmetic is ~100× slower on this CPU (see asm/exp.ts).

import { describe, expect, it } from 'vitest';
import { compileWasmKernelModule } from '../dist/workers/kernels/wasm/index.js';
import { instantiateKernels } from '../dist/workers/kernels/wasm/kernel-exports.js';
import { Rng } from './support/random.js';

const MAX_RELATIVE_ERROR = 2e-7;
const SMALLEST_NORMAL = 2 ** -126;

/** exp of each value, computed by the module's expArray entry point (count padded to a multiple of 4). */
function wasmExp(values: readonly number[]): Float32Array {
  const module = compileWasmKernelModule();
  expect(module, 'dist/wasm/kernels.wasm must be built and valid on this runtime').not.toBeNull();
  const kernels = instantiateKernels(module!);
  const count = Math.ceil(values.length / 4) * 4;
  const src = Math.ceil(kernels.heapBase() / 16) * 16, dst = src + count * 4;
  const needed = dst + count * 4 - kernels.memory.buffer.byteLength;
  if (needed > 0) kernels.memory.grow(Math.ceil(needed / 65536));
  new Float32Array(kernels.memory.buffer, src, count).set(values);
  kernels.expArray(src, dst, count);
  return new Float32Array(kernels.memory.buffer, dst, values.length).slice();
}

describe('SIMD exp', () => {
  it('is within 2e-7 relative error of Math.exp wherever the result is a normal float32', () => {
    const rng = new Rng(7);
    const xs: number[] = [];
    for (let i = 0; i <= 400_000; i++) xs.push(Math.fround(-87.33 * i / 400_000)); // a dense grid of [-87.33, 0]
    for (let i = 0; i < 200_000; i++) xs.push(Math.fround(-rng.uniform() * 2)); // many small arguments (typical p)
    for (let i = 0; i < 200_000; i++) xs.push(Math.fround(-rng.uniform() * 87.33));
    const got = wasmExp(xs);
    let worst = 0, worstAt = 0;
    xs.forEach((x, i) => {
      const exact = Math.exp(x);
      if (exact < SMALLEST_NORMAL) return;
      const error = Math.abs(got[i] - exact) / exact;
      if (!(error <= worst)) {
        worst = error;
        worstAt = x;
      }
    });
    expect(worst, `max relative error ${worst} at x = ${worstAt}`).toBeLessThanOrEqual(MAX_RELATIVE_ERROR);
  });

  it('flushes to +0 exactly where the result would be subnormal, and nowhere else', () => {
    const xs: number[] = [];
    for (let i = 0; i <= 100_000; i++) xs.push(Math.fround(-87.33 - 17 * i / 100_000)); // [-104.33, -87.33]
    const got = wasmExp(xs);
    let flushed = 0;
    xs.forEach((x, i) => {
      const exact = Math.exp(x);
      if (exact < SMALLEST_NORMAL) {
        flushed++;
        if (!Object.is(got[i], 0)) expect.fail(`exp(${x}) = ${got[i]}, expected +0 (exact ${exact} is subnormal)`);
      } else if (!(Math.abs(got[i] - exact) / exact <= MAX_RELATIVE_ERROR)) {
        expect.fail(`exp(${x}) = ${got[i]}, expected ${exact} within 2e-7`);
      }
    });
    expect(flushed, 'the grid reaches into the subnormal range').toBeGreaterThan(99_000);
  });

  it('handles the special values the softmax feeds it', () => {
    const [negInf, zero, negZero, nan, far] = wasmExp([-Infinity, 0, -0, NaN, -1e30]);
    expect(Object.is(negInf, 0), 'exp(-Infinity) must be +0 (a masked key)').toBe(true);
    expect(zero, 'exp(0) must be exactly 1 (the row maximum)').toBe(1);
    expect(negZero).toBe(1);
    expect(nan).toBeNaN();
    expect(Object.is(far, 0)).toBe(true);
  });
});
