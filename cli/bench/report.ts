// What bench prints: a table per configuration, or (--json) one JSON document with the same numbers.

import { formatTable, mib, ms } from '../format.js';
import type { BenchShape } from './workload.js';

export type Impl = 'attnpool' | 'onnxruntime';

export interface RunResult {
  readonly impl: Impl;
  readonly threads: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly gflops: number;
  /** Median time of the same implementation on 1 thread / this median; null without a 1-thread run. */
  readonly speedup: number | null;
  /** speedup / threads. */
  readonly efficiency: number | null;
  readonly peakRssBytes: number;
  /** attnpool: whether the output is bit-for-bit the output of the first thread count measured. */
  readonly bitIdentical?: boolean;
  /** onnxruntime: largest |difference| from attnpool's output at the same thread count. */
  readonly maxAbsDiff?: number;
}

export interface ConfigResult {
  readonly shape: BenchShape;
  /** The kernel attnpool ran ('auto' resolved). */
  readonly kernel: string;
  /** Which WebAssembly build ran ('simd' | 'relaxed-simd'), or null for the js kernel. */
  readonly wasmVariant: string | null;
  readonly gflopPerCall: number;
  readonly runs: RunResult[];
  /** Things the reader should know, e.g. why onnxruntime was skipped. */
  readonly notes: string[];
}

export function describeShape(s: BenchShape): string {
  // The layer's title names Hkv only when it is grouped-query, so ordinary layers read as before.
  const kv = s.mode === 'attention' || s.kvHeads !== s.heads ? ` Hkv=${s.kvHeads}` : '';
  const dims = s.mode === 'attention' ? `D=${s.headDim}` : `E=${s.heads * s.headDim} (D=${s.headDim})`;
  return `${s.mode === 'attention' ? 'attention' : 'multi-head attention layer'}  B=${s.batch} H=${s.heads}${kv} S=${s.seq} ${dims}  ` +
    `${s.causal ? 'causal' : 'non-causal'}`;
}

/** Adds speedup and efficiency relative to each implementation's 1-thread run. */
export function withSpeedups(runs: readonly Omit<RunResult, 'speedup' | 'efficiency'>[]): RunResult[] {
  return runs.map((run) => {
    const base = runs.find((r) => r.impl === run.impl && r.threads === 1);
    const speedup = base === undefined ? null : base.medianMs / run.medianMs;
    return { ...run, speedup, efficiency: speedup === null ? null : speedup / run.threads };
  });
}

export function formatConfig(result: ConfigResult, settings: { repeat: number; warmup: number }): string {
  const title = `${describeShape(result.shape)}  ·  ${result.gflopPerCall.toFixed(2)} GFLOP per call  ·  ` +
    `median of ${settings.repeat} after ${settings.warmup} warm-up, kernel ${result.kernel}` +
    (result.wasmVariant ? ` (${result.wasmVariant} build)` : '');
  const rows = result.runs.map((r) => [
    r.impl,
    String(r.threads),
    ms(r.medianMs),
    `${ms(r.minMs)}–${ms(r.maxMs)}`,
    r.gflops.toFixed(1),
    r.speedup === null ? '—' : `${r.speedup.toFixed(2)}×`,
    r.efficiency === null ? '—' : `${(r.efficiency * 100).toFixed(0)}%`,
    mib(r.peakRssBytes),
    r.bitIdentical !== undefined ? (r.bitIdentical ? 'bit-identical' : 'DIFFERS') : `max |Δ| ${r.maxAbsDiff!.toExponential(1)}`,
  ]);
  const table = formatTable(
    ['impl', 'threads', 'median ms', 'min–max ms', 'GFLOP/s', 'speedup', 'efficiency', 'peak RSS', 'check'],
    rows,
  );
  return [title, table, ...result.notes.map((n) => `note: ${n}`)].join('\n');
}
