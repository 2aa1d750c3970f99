/** Formats the comparison as a plain-text table, one line per (row, threads). */
import type { RowResult } from './run-row.js';
import { BENCH_SHAPE, parseRow, rowFlops } from './rows.js';
import { median } from './timing.js';
import { wasmKernels } from '../../workers/kernels/wasm/index.js';

const COLUMNS = [
  ['row', 18], ['thr', 3], ['attnpool ms', 11], ['GF/s', 6], ['ORT ms', 9], ['GF/s', 6],
  ['attnpool/ORT', 12], ['max |Δ|', 8], ['RSS attnpool', 12], ['RSS +ORT', 9],
] as const;

export function tableHeader(runs: number, warmup: number): string {
  const { batch, heads, headDim } = BENCH_SHAPE;
  return [
    `attnpool vs onnxruntime-node, B${batch} H${heads} D${headDim} E${heads * headDim}, fp32,`
      + ' same inputs and threads (ORT intraOpNumThreads = threads)',
    `median of ${runs} runs after ${warmup} warm-up; each (row, threads) in its own process;`
      + ' timed runs alternate, attnpool then ORT',
    'GF/s = 4·B·H·S²·D / time — NOT halved for causal rows (dense-equivalent);'
      + ' layer rows add the projections 8·B·S·E²',
    'attnpool/ORT = throughput ratio (ORT time / attnpool time); max |Δ| = max abs difference of the two outputs',
    'RSS = process peak (maxRSS) after attnpool\'s warm-up alone, then at the end (GiB)',
    `wasm kernel build: ${wasmKernels()?.variant ?? 'none'} (fused multiply-add 'relaxed-simd' on Node ≥ 22; Node 20 needs --experimental-wasm-relaxed-simd)`,
    '',
    COLUMNS.map(([name, width]) => name.padStart(width)).join('  '),
  ].join('\n');
}

export function tableLine(result: RowResult): string {
  const flops = rowFlops(parseRow(result.row));
  const attnpoolMs = median(result.attnpool.times);
  const gflops = (ms: number) => (flops / ms / 1e6).toFixed(1);
  const cells: string[] = [result.row, String(result.threads), attnpoolMs.toFixed(1), gflops(attnpoolMs)];
  if ('skipped' in result.ort) {
    cells.push('—', '—', '—', '—', result.attnpool.peakRssGiB.toFixed(2), '—');
  } else {
    const ortMs = median(result.ort.times);
    cells.push(
      ortMs.toFixed(1), gflops(ortMs), `${(ortMs / attnpoolMs).toFixed(2)}×`,
      (result.maxAbsError ?? NaN).toExponential(1),
      result.attnpool.peakRssGiB.toFixed(2), result.ort.peakRssGiB.toFixed(2),
    );
  }
  const line = cells.map((cell, i) => cell.padStart(COLUMNS[i][1])).join('  ');
  return 'skipped' in result.ort ? `${line}   (${result.ort.skipped})` : line;
}
