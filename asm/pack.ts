// Layout changes done once per cached block of K or W, and checks over packed data.

import { PANEL_WIDTH } from './layout';

/** Packs a row-major [cols][depth] matrix (rows `ld` floats apart) into panels of PANEL_WIDTH columns:
 *  panel p is [depth][8] with column c = row 8p + c of the source, zero past `cols`. This is the
 *  transposed layout dot4x8 streams (keys, or output features, along the f32x4 lanes). Full panels
 *  are transposed 4 × 4 floats at a time with shuffles (0.135 → 0.062 ms for a 4096 × 64 head), which
 *  matters when the packing is not amortised, as in a decoding step (one query row). */
export function packPanels(src: usize, ld: i32, cols: i32, depth: i32, dst: usize): void {
  const rowBytes = <usize>ld << 2;
  const panelBytes = <usize>depth * PANEL_WIDTH * 4;
  const fullPanels = cols / PANEL_WIDTH;
  for (let p = 0; p < fullPanels; p++) {
    packFullPanel(src + <usize>(p * PANEL_WIDTH) * rowBytes, rowBytes, depth, dst + <usize>p * panelBytes);
  }
  if (fullPanels * PANEL_WIDTH < cols) {
    const c0 = fullPanels * PANEL_WIDTH;
    packPartialPanel(src + <usize>c0 * rowBytes, rowBytes, cols - c0, depth, dst + <usize>fullPanels * panelBytes);
  }
}

function packFullPanel(src: usize, rowBytes: usize, depth: i32, dst: usize): void {
  let d = 0;
  for (; d + 4 <= depth; d += 4) {
    const at = src + (<usize>d << 2);
    const out = dst + (<usize>d << 5); // 8 floats per d
    transpose4(at, rowBytes, out);
    transpose4(at + 4 * rowBytes, rowBytes, out + 16);
  }
  for (; d < depth; d++) {
    const at = src + (<usize>d << 2);
    const out = dst + (<usize>d << 5);
    for (let c = 0; c < PANEL_WIDTH; c++) store<f32>(out + (<usize>c << 2), load<f32>(at + <usize>c * rowBytes));
  }
}

/** Four floats d .. d+3 of four rows → for each d, the four rows' values, 32 bytes apart in `out`. */
// @ts-ignore: decorator
@inline
function transpose4(at: usize, rowBytes: usize, out: usize): void {
  const r0 = v128.load(at), r1 = v128.load(at + rowBytes);
  const r2 = v128.load(at + 2 * rowBytes), r3 = v128.load(at + 3 * rowBytes);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(out, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(out, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 32);
  v128.store(out, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 64);
  v128.store(out, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 96);
}

/** The last panel, with fewer than 8 columns: scalar, zero-filling the missing columns. */
function packPartialPanel(src: usize, rowBytes: usize, cols: i32, depth: i32, dst: usize): void {
  for (let c = 0; c < PANEL_WIDTH; c++) {
    let out = dst + (<usize>c << 2);
    let from = src + <usize>c * rowBytes;
    for (let d = 0; d < depth; d++) {
      store<f32>(out, c < cols ? load<f32>(from) : 0);
      from += 4;
      out += PANEL_WIDTH * 4;
    }
  }
}

/** 1 when all `count` floats (a multiple of 4) are finite. x - x is 0 for finite x and NaN for ±Inf
 *  and NaN, and a NaN stays in the running sum. */
export function allFinite(ptr: usize, count: i32): i32 {
  let acc = f32x4.splat(0);
  const end = ptr + (<usize>count << 2);
  for (let p = ptr; p < end; p += 16) {
    const x = v128.load(p);
    acc = f32x4.add(acc, f32x4.sub(x, x));
  }
  return i32(i32x4.all_true(f32x4.eq(acc, f32x4.splat(0))));
}
