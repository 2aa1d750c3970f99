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

/**
 * One row of A times `count` consecutive packed panels (panel p at panels + p·depth·32 bytes):
 * out[c] = Σ_d a[d] · panel[d][c] for the count·8 columns, out contiguous. For a row group with one
 * live row (a decode step's single query, the last row of an odd-sized chunk) this does a quarter of
 * dot4x8's work. Four panels (8 accumulators) share each sweep of d, so the multiply-add chains
 * overlap as they do in dot4x8; each output is the same float32 sum in d order that dot4x8 gives it.
 */
export function dot1Panels(a: usize, panels: usize, depth: i32, count: i32, out: usize): void {
  const panelBytes = <usize>depth << 5;
  const aEnd = a + (<usize>depth << 2);
  let p = 0;
  for (; p + 4 <= count; p += 4) {
    let k0 = panels + <usize>p * panelBytes, k1 = k0 + panelBytes, k2 = k1 + panelBytes, k3 = k2 + panelBytes;
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
    let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
    for (let x = a; x < aEnd; x += 4) {
      const ad = v128.load32_splat(x);
      c00 = madd(ad, v128.load(k0), c00); c01 = madd(ad, v128.load(k0, 16), c01);
      c10 = madd(ad, v128.load(k1), c10); c11 = madd(ad, v128.load(k1, 16), c11);
      c20 = madd(ad, v128.load(k2), c20); c21 = madd(ad, v128.load(k2, 16), c21);
      c30 = madd(ad, v128.load(k3), c30); c31 = madd(ad, v128.load(k3, 16), c31);
      k0 += 32; k1 += 32; k2 += 32; k3 += 32;
    }
    const at = out + (<usize>p << 5);
    v128.store(at, c00); v128.store(at, c01, 16); v128.store(at, c10, 32); v128.store(at, c11, 48);
    v128.store(at, c20, 64); v128.store(at, c21, 80); v128.store(at, c30, 96); v128.store(at, c31, 112);
  }
  for (; p < count; p++) {
    let k = panels + <usize>p * panelBytes;
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
    for (let x = a; x < aEnd; x += 4) {
      const ad = v128.load32_splat(x);
      c0 = madd(ad, v128.load(k), c0); c1 = madd(ad, v128.load(k, 16), c1);
      k += 32;
    }
    const at = out + (<usize>p << 5);
    v128.store(at, c0); v128.store(at, c1, 16);
  }
}
