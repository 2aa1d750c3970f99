// The wasm kernel's SIMD decoders of stored K/V (asm/float16.ts, asm/stored-panels.ts) against the
// storage's own scalar definitions (workers/storage/float16.ts, int8-blocks.ts): every one of the 65536
// binary16 patterns through the row decoder (its 8-lane SIMD loop and its scalar tail) and through the
// K-panel decoder (which also transposes rows into panels), bit for bit; int8 panels against
// float32(q · scale) with each key's own block scale. Every build this runtime accepts is checked (the
// second vitest project adds the relaxed build on Node 20).

import { describe, expect, it } from 'vitest';
import { loadWasmBuild, WASM_VARIANTS } from '../dist/workers/kernels/wasm/index.js';
import { instantiateKernels, type KernelExports } from '../dist/workers/kernels/wasm/kernel-exports.js';
import { float16Value } from '../dist/workers/storage/float16.js';
import { int8Value } from '../dist/workers/storage/int8-blocks.js';

const PATTERNS = 0x10000;
const PANEL = 8;

/** The float32 bits binary16 `h` must decode to: its value's bits, and for NaN the sign, the all-ones
 *  exponent and the 10 payload bits at the top of the mantissa (float16Value gives only "NaN"). */
function expectedBits(h: number): number {
  if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) return (((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13)) >>> 0;
  const f = new Float32Array([float16Value(h)]);
  return new Uint32Array(f.buffer)[0];
}

const builds = WASM_VARIANTS.flatMap((variant) => {
  const load = loadWasmBuild(variant);
  return 'module' in load ? [{ variant, module: load.module }] : [];
});

function instance(module: WebAssembly.Module, bytes: number): { kernels: KernelExports; base: number } {
  const kernels = instantiateKernels(module);
  const base = Math.ceil(kernels.heapBase() / 16) * 16;
  const needed = base + bytes - kernels.memory.buffer.byteLength;
  if (needed > 0) kernels.memory.grow(Math.ceil(needed / 65536));
  return { kernels, base };
}

/** The first index where got differs from want (as hex strings of both), or undefined. */
function firstMismatch(got: Uint32Array, want: (i: number) => number): string | undefined {
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== want(i)) return `index ${i}: got 0x${got[i].toString(16)}, want 0x${want(i).toString(16)}`;
  }
  return undefined;
}

describe('SIMD stored K/V decoders', () => {
  it('the plain SIMD build is among the builds checked', () => {
    expect(builds.map((b) => b.variant)).toContain('simd');
  });

  describe.each(builds)('$variant build', ({ module }) => {
    it('decodes all 65536 binary16 patterns exactly, 8 lanes at a time and one at a time', () => {
      const { kernels, base } = instance(module, PATTERNS * 6);
      const src = base, dst = base + PATTERNS * 2;
      new Uint16Array(kernels.memory.buffer, src, PATTERNS).forEach((_, i, a) => { a[i] = i; });
      kernels.decodeFloat16Array(src, dst, PATTERNS);
      expect(firstMismatch(new Uint32Array(kernels.memory.buffer, dst, PATTERNS), expectedBits)).toBeUndefined();
      // Runs of 7 values never reach the 8-lane loop: every pattern through the scalar tail.
      new Uint32Array(kernels.memory.buffer, dst, PATTERNS).fill(0xdeadbeef);
      for (let i = 0; i < PATTERNS; i += 7) kernels.decodeFloat16Array(src + 2 * i, dst + 4 * i, Math.min(7, PATTERNS - i));
      expect(firstMismatch(new Uint32Array(kernels.memory.buffer, dst, PATTERNS), expectedBits)).toBeUndefined();
    });

    it.each([64, 8, 40])('decodes binary16 K rows of depth %i into panels: every pattern, in panel order', (depth) => {
      const keys = Math.ceil(PATTERNS / depth / PANEL) * PANEL, count = keys * depth; // whole panels, ≥ 65536 values
      const { kernels, base } = instance(module, count * 6);
      const rows = base, dst = base + count * 2;
      // Row r, depth d holds pattern (r·depth + d)·7919 mod 65536 (7919 is odd: each pattern once,
      // the first 65536 values are all patterns, neighbours far apart, so specials sit among ordinary values in the same vector).
      const pattern = (i: number) => (i * 7919) % PATTERNS;
      new Uint16Array(kernels.memory.buffer, rows, count).forEach((_, i, a) => { a[i] = pattern(i); });
      kernels.float16Panels(rows, depth, keys / PANEL, dst);
      const got = new Uint32Array(kernels.memory.buffer, dst, count);
      // Panel p is [depth][8]: element (d, c) is row 8p + c at depth d.
      const want = (i: number) => {
        const p = Math.floor(i / (depth * PANEL)), d = Math.floor(i / PANEL) % depth, c = i % PANEL;
        return expectedBits(pattern((p * PANEL + c) * depth + d));
      };
      expect(firstMismatch(got, want)).toBeUndefined();
    });

    it.each([64, 40, 8])('decodes int8 K rows of depth %i into panels as float32(q · its block\'s scale)', (depth) => {
      const keys = 256, blocks = Math.ceil(depth / 32);
      const { kernels, base } = instance(module, keys * depth * 6 + keys * blocks * 4);
      const rows = base, scales = base + keys * depth, dst = scales + keys * blocks * 4;
      const q = new Int8Array(kernels.memory.buffer, rows, keys * depth);
      q.forEach((_, i, a) => { a[i] = ((i * 37) % 255) - 127; }); // every q in [-127, 127]
      const s = new Float32Array(kernels.memory.buffer, scales, keys * blocks);
      s.forEach((_, i, a) => { a[i] = Math.fround((1 + (i % 13)) / 127 * 1.37 ** (i % 7)); });
      kernels.int8Panels(rows, scales, depth, keys / PANEL, dst);
      const got = new Float32Array(kernels.memory.buffer, dst, keys * depth);
      for (let i = 0; i < got.length; i++) {
        const p = Math.floor(i / (depth * PANEL)), d = Math.floor(i / PANEL) % depth, c = i % PANEL;
        const key = p * PANEL + c;
        const want = int8Value(q[key * depth + d], s[key * blocks + Math.floor(d / 32)]);
        if (!Object.is(got[i], want)) expect.fail(`element ${i} (key ${key}, depth ${d}): got ${got[i]}, want ${want}`);
      }
    });
  });
});
