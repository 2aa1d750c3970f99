// node dist/bench/long-seq.bench.js — long causal attention: time and peak memory, beside a formula.
//
// Shapes (B1 H8 D64 by default): full causal at each --seq, and a sliding window (--window, causal) at
// each --window-seq; every shape runs in its own child process, so each peak RSS
// (process.resourceUsage().maxRSS, the process's high-water mark, worker threads included) belongs to
// that shape alone. The child starts the pool and warms it with a call that reaches the workers,
// measures its resident set R0, then builds the inputs and makes one timed call.
//
// Expected peak (the "formula" column):
//   R0 + inputs + output + threads × (per-thread wasm arena)
//   inputs = (B·H·Sq·D + B·Hkv·Sk·(D + Dv)) · 4 bytes; output = B·H·Sq·Dv · 4 bytes (lse not asked);
//   per-thread arena (workers/kernels/wasm/attention-layout.ts): the packed-K/V cache, at most
//   PACKED_KV_BYTES = 64 MiB (min(64 MiB, every span of every head)); the staging rows of one span,
//   spanKeys·D·4 bytes with spanKeys = min(Sk, KV_SPAN_BYTES / ((D + Dv)·4)) — 8 MiB at D = 64; and
//   per-chunk regions (64 query rows: q, limits, m, l, acc — under 0.1 MiB at D = 64).
// So at B1 H8 D64, 2 threads, S = 65536: 512 MiB of tensors + 2 × 72 MiB + R0 — flat in S beyond the
// tensors themselves: no O(S²) scores, no per-call copies of K/V outside the bounded cache.
// The full-causal shape at S = 65536 takes minutes; use --seq 16384 for a short run.
// Options: --seq 16384,65536 --window-seq 65536 --window 512 --threads N --heads 8 --head-dim 64 --kernel auto.

import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AttentionPool, type KernelChoice } from '../src/index.js';
import { PACKED_KV_BYTES, KV_SPAN_BYTES } from '../workers/kernels/wasm/attention-layout.js';
import { randomTensor } from './support/random-tensors.js';

const MiB = 1 << 20;

const { values } = parseArgs({
  options: {
    seq: { type: 'string', default: '16384,65536' },
    'window-seq': { type: 'string', default: '65536' },
    window: { type: 'string', default: '512' },
    threads: { type: 'string', default: String(availableParallelism()) },
    heads: { type: 'string', default: '8' },
    'head-dim': { type: 'string', default: '64' },
    kernel: { type: 'string', default: 'auto' },
    child: { type: 'string' }, // internal: one shape as JSON, run in this process
  },
});

interface Shape { readonly S: number; readonly window?: number; readonly H: number; readonly D: number; readonly threads: number; readonly kernel: KernelChoice }
interface Measured { readonly ms: number; readonly r0: number; readonly peak: number; readonly kernel: string }

if (values.child) {
  process.stdout.write(JSON.stringify(await measure(JSON.parse(values.child) as Shape)));
} else {
  await main();
}

async function measure(s: Shape): Promise<Measured> {
  const pool = new AttentionPool({ threads: s.threads, kernel: s.kernel });
  // Warm-up large enough (134 MFLOP) to run on every worker, so R0 includes started threads and kernels.
  const w = [1, 8, 256, 64] as const;
  for (let n = 0; n < 2; n++) await pool.attention(randomTensor(w, 1), randomTensor(w, 2), randomTensor(w, 3), { causal: true });
  const r0 = process.memoryUsage.rss();
  const q = randomTensor([1, s.H, s.S, s.D], 1), k = randomTensor([1, s.H, s.S, s.D], 2), v = randomTensor([1, s.H, s.S, s.D], 3);
  const t0 = performance.now();
  await pool.attention(q, k, v, { causal: true, ...(s.window !== undefined && { window: s.window }) });
  const ms = performance.now() - t0;
  const peak = process.resourceUsage().maxRSS * 1024; // KiB → bytes
  const kernel = pool.kernel;
  await pool.close();
  return { ms, r0, peak, kernel };
}

/** Bytes the formula above predicts beyond R0 (wasm kernel; the js kernel keeps no arena). */
function predicted(s: Shape, kernel: string): { tensors: number; perThread: number } {
  const { S, H, D } = s;
  const tensors = 4 * H * S * D * 4; // q, k, v, out (B = 1, Hkv = H, Dv = D)
  if (kernel !== 'wasm') return { tensors, perThread: 0 };
  const spanKeys = Math.min(S, Math.floor(KV_SPAN_BYTES / (2 * D * 4) / 64) * 64);
  const allSpans = H * Math.ceil(S / spanKeys) * spanKeys * 2 * D * 4;
  return { tensors, perThread: Math.min(PACKED_KV_BYTES, allSpans) + spanKeys * D * 4 };
}

async function main(): Promise<void> {
  const base = { H: Number(values.heads), D: Number(values['head-dim']), threads: Number(values.threads), kernel: values.kernel as KernelChoice };
  const list = (text: string) => text.split(',').filter(Boolean).map(Number);
  const shapes: Shape[] = [
    ...list(values.seq).map((S) => ({ ...base, S })),
    ...list(values['window-seq']).map((S) => ({ ...base, S, window: Number(values.window) })),
  ];
  console.log(`attnpool long sequences — B1 H${base.H} D${base.D} causal, ${base.threads} threads, one call per shape, each in its own process`);
  console.log('S       window  kernel  time s   R0 MiB  tensors MiB  arena MiB/thread  formula MiB  peak MiB  peak − formula');
  const fullMs = new Map<number, number>();
  for (const s of shapes) {
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify(s)], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const m = JSON.parse(out) as Measured;
    const p = predicted(s, m.kernel);
    const formula = m.r0 + p.tensors + s.threads * p.perThread;
    if (s.window === undefined) fullMs.set(s.S, m.ms);
    console.log([String(s.S).padEnd(7), String(s.window ?? '-').padEnd(7), m.kernel.padEnd(7), (m.ms / 1000).toFixed(2).padStart(6),
      (m.r0 / MiB).toFixed(0).padStart(8), (p.tensors / MiB).toFixed(0).padStart(12), (p.perThread / MiB).toFixed(0).padStart(17),
      (formula / MiB).toFixed(0).padStart(12), (m.peak / MiB).toFixed(0).padStart(9), ((m.peak - formula) / MiB).toFixed(0).padStart(15)].join(' '));
    const full = fullMs.get(s.S);
    if (s.window !== undefined && full !== undefined) {
      console.log(`        window ${s.window} at S = ${s.S}: ${(full / m.ms).toFixed(1)}× faster than full causal (${(m.ms / 1000).toFixed(2)} s vs ${(full / 1000).toFixed(2)} s)`);
    }
  }
}
