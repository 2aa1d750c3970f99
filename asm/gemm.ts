// x·Wᵀ + b for a chunk of rows, W packed into panels of 8 output features (pack.ts).
//
// Loop order: panel outer, row group inner. A panel is depth × 32 bytes (16 KiB at E = 512) and stays
// in L1 while every row group of the chunk passes over it; the chunk of x (the driver sizes it to about
// 256 KiB) stays in L2 and is re-read once per panel, two bytes of L2 traffic per 16 flops.

import { PANEL_WIDTH, ROW_GROUP } from './layout';
import { dot4x8 } from './panel-dot';

/** out[r][c] = Σ_d x[r][d]·w[c][d] (+ bias[c]) for r < rows (a multiple of 4) and c < 8·panels.
 *  x rows are `depth` floats apart, out rows `ldo` floats apart; bias (0 = none) is 8·panels floats.
 *  The bias is added after the full sum, so every element is the same sum in d order whatever the
 *  tile that contains it. */
export function gemmRows(rows: i32, depth: i32, x: usize, wPanels: usize, panels: i32,
  bias: usize, out: usize, ldo: i32): void {
  const xRowBytes = <usize>depth << 2;
  const outRowBytes = <usize>ldo << 2;
  const panelBytes = <usize>depth * PANEL_WIDTH * 4;
  for (let p = 0; p < panels; p++) {
    const panel = wPanels + <usize>p * panelBytes;
    const column = <usize>p * PANEL_WIDTH * 4;
    for (let g = 0; g < rows; g += ROW_GROUP) {
      const block = out + <usize>g * outRowBytes + column;
      dot4x8(x + <usize>g * xRowBytes, xRowBytes, panel, depth, block, outRowBytes);
      if (bias != 0) addBias(block, outRowBytes, bias + column);
    }
  }
}

function addBias(block: usize, rowBytes: usize, bias: usize): void {
  const b0 = v128.load(bias), b1 = v128.load(bias, 16);
  for (let r = 0; r < ROW_GROUP; r++) {
    v128.store(block, f32x4.add(v128.load(block), b0));
    v128.store(block, f32x4.add(v128.load(block, 16), b1), 16);
    block += rowBytes;
  }
}
