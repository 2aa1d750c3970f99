// The one micro-kernel behind Q·Kᵀ and x·Wᵀ: four rows of A times one packed panel of eight columns.
//
//   out[r][c] = Σ_d a[r][d] · panel[d][c]     r < 4, c < 8, d < depth
//
// A rows are contiguous over d (Q rows, x rows); the panel holds the eight columns (8 keys, 8 rows of
// W) transposed, [depth][8], so each step is two 16-byte loads, four broadcast loads of a[r][d] and
// 8 multiplies + 8 adds into 8 f32x4 accumulators (12 of the 15 xmm registers V8 allocates; a 4×12
// or 6×8 block spills). Lanes run along columns, so every output is one float32 sum in d order whatever
// the row grouping — the tail rows of a tile produce the same bits as full groups.
//
// Wasm SIMD has no fused multiply-add, so in the baseline build each 4-lane MAC is a multiply and an
// add: the cores here issue about 1.5 such pairs per cycle, 34 GFLOP/s (measured with a register-only
// loop in C); gemmRows reaches about 29 of them. The relaxed-SIMD build fuses them (madd.ts).

import { madd } from './madd';

/** out rows are `ldo` bytes apart; `lda` is the byte stride of the A rows. */
export function dot4x8(a: usize, lda: usize, panel: usize, depth: i32, out: usize, ldo: usize): void {
  let a0 = a, a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda;
  let p = panel;
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  // One d per iteration. Unrolling by 2 or 4 measured slower (24.6 → 18 GFLOP/s in gemmRows): V8's
  // scheduler then hoists all the loads of the unrolled steps and spills accumulators to the stack.
  for (let d = 0; d < depth; d++) {
    const k0 = v128.load(p), k1 = v128.load(p, 16);
    let x = v128.load32_splat(a0);
    c00 = madd(x, k0, c00); c01 = madd(x, k1, c01);
    x = v128.load32_splat(a1);
    c10 = madd(x, k0, c10); c11 = madd(x, k1, c11);
    x = v128.load32_splat(a2);
    c20 = madd(x, k0, c20); c21 = madd(x, k1, c21);
    x = v128.load32_splat(a3);
    c30 = madd(x, k0, c30); c31 = madd(x, k1, c31);
    a0 += 4; a1 += 4; a2 += 4; a3 += 4; p += 32;
  }
  v128.store(out, c00); v128.store(out, c01, 16);
  out += ldo;
  v128.store(out, c10); v128.store(out, c11, 16);
  out += ldo;
  v128.store(out, c20); v128.store(out, c21, 16);
  out += ldo;
  v128.store(out, c30); v128.store(out, c31, 16);
}
