// Scalar matrix product tile: out[m, n] = Σ_k x[m, k]·w[n, k] + bias[n] (w in PyTorch's [out, in]
// layout, so both operands are read along contiguous rows). Each output element is one float64 sum in
// k order, whatever the tile boundaries, so results do not depend on the plan.

import { GEMM_TILE, type GemmJob, type GemmPart } from '../jobs.js';
import type { TileOutcome } from '../tile-control.js';

export function gemmTileJs(job: GemmJob, tile: number): TileOutcome {
  const { part: index, rowStart: m0, rowEnd: m1, colStart: n0, colEnd: n1 } = GEMM_TILE.read(job.tiles, tile);
  const part = job.parts[index];
  for (let m = m0; m < m1; m++) {
    let n = n0;
    // Four output columns at a time share each load of x[m, k].
    for (; n + 4 <= n1; n += 4) fourColumns(part, m, n);
    for (; n < n1; n++) oneColumn(part, m, n);
  }
  return 'done';
}

function fourColumns(p: GemmPart, m: number, n: number): void {
  const { x, w, K } = p;
  const xr = p.xOffset + m * p.xRowStride;
  const w0 = p.wOffset + n * p.wRowStride, w1 = w0 + p.wRowStride, w2 = w1 + p.wRowStride, w3 = w2 + p.wRowStride;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (let k = 0; k < K; k++) {
    const xv = x[xr + k];
    s0 += xv * w[w0 + k];
    s1 += xv * w[w1 + k];
    s2 += xv * w[w2 + k];
    s3 += xv * w[w3 + k];
  }
  const o = p.outOffset + m * p.outRowStride + n;
  const bias = p.bias, bo = p.biasOffset + n;
  p.out[o] = bias ? s0 + bias[bo] : s0;
  p.out[o + 1] = bias ? s1 + bias[bo + 1] : s1;
  p.out[o + 2] = bias ? s2 + bias[bo + 2] : s2;
  p.out[o + 3] = bias ? s3 + bias[bo + 3] : s3;
}

function oneColumn(p: GemmPart, m: number, n: number): void {
  const { x, w, K } = p;
  const xr = p.xOffset + m * p.xRowStride;
  const wr = p.wOffset + n * p.wRowStride;
  let s = 0;
  for (let k = 0; k < K; k++) s += x[xr + k] * w[wr + k];
  p.out[p.outOffset + m * p.outRowStride + n] = p.bias ? s + p.bias[p.biasOffset + n] : s;
}
