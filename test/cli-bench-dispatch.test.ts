// `attnpool bench --mode dispatch` end to end on tiny settings: --json carries every shape at every
// thread count with positive, mutually consistent figures (main-thread CPU only where the runtime has
// process.threadCpuUsage, with a note elsewhere); the text output has its four parts (latency,
// kernel time, calls per second, batching); --kv-dtype sets the decode caches' storage; options of
// the other modes and of this one are refused where they do not apply.

import { describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';

// The CLI child runs on this process's Node: main-thread CPU exists there iff it exists here.
const HAS_THREAD_CPU = typeof (process as { threadCpuUsage?: unknown }).threadCpuUsage === 'function';

// Sk = 1024 keeps the decode step over the inline threshold (2·8·1024·128 = 2.1 MFLOP > 2 MFLOP).
const TINY = ['bench', '--mode', 'dispatch', '--threads', '1,2', '--repeat', '30', '--warmup', '2', '--kv-length', '1024',
  '--concurrency', '4', '--mix-duration', '300ms', '--streams', '3'];

interface LatencyRun { threads: number; cpuPerCallUs: number | null; wallMedianUs: number; wallP90Us: number; wallOverKernel: number | null }
interface ShapeResult {
  shape: { kind: string; batch: number; heads: number; kvHeads: number; headDim: number; queries: number; keys: number; causal: boolean; kvDtype?: string };
  flops: number; onWorkers: boolean;
  kernelTime: { kernelUs: number; fixedUs: number; copies: number[]; wallMedianUs: number[] };
  runs: LatencyRun[];
}
interface MixRun { threads: number; calls: number; seconds: number; callsPerSecond: number; cpuPerCallUs: number | null; mainThreadBusy: number | null }
interface DispatchDoc {
  command: string; mode: string; machine: Record<string, unknown>; settings: Record<string, unknown>;
  kernel: string; wasmVariant: string | null; threadCpuNote: string | null;
  shapes: ShapeResult[]; mix: { callers: number; durationMs: number; runs: MixRun[] };
  batching: { threads: number; streams: number; rounds: number; runs: { way: string; cpuPerStepUs: number | null; wallPerRoundUs: number }[] }[];
}

const expectPositive = (value: number | null, what: string) => {
  expect(value, what).not.toBeNull();
  expect(Number.isFinite(value) && value! > 0, `${what} = ${value}`).toBe(true);
};

describe('attnpool bench --mode dispatch', () => {
  it.concurrent('--json: every shape at every thread count, positive and consistent figures', async () => {
    const result = await runCli([...TINY, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout) as DispatchDoc;
    expect([doc.command, doc.mode]).toEqual(['bench', 'dispatch']);
    expect(Object.keys(doc.machine).sort()).toEqual(['availableParallelism', 'cpu', 'node', 'platform']);
    expect(doc.settings).toMatchObject({ threads: [1, 2], repeat: 30, warmup: 2, callers: 4, mixDurationMs: 300, seed: 1 });
    expect(['js', 'wasm']).toContain(doc.kernel);
    expect(doc.threadCpuNote === null).toBe(HAS_THREAD_CPU);
    if (!HAS_THREAD_CPU) expect(doc.threadCpuNote).toMatch(/process\.threadCpuUsage\(\) needs Node >= 23\.9/);

    const base = { batch: 1, heads: 8, kvHeads: 8, headDim: 64 };
    expect(doc.shapes.map((s) => s.shape)).toEqual([
      { kind: 'self', ...base, queries: 64, keys: 64, causal: false },
      { kind: 'decode', ...base, queries: 1, keys: 1024, causal: true, kvDtype: 'float32' },
    ]);
    for (const s of doc.shapes) {
      const what = `${s.shape.kind}`;
      expect(s.flops).toBe(2 * 8 * s.shape.queries * s.shape.keys * 2 * 64); // 2·B·H·Sq·Sk·(D + Dv)
      expect(s.onWorkers).toBe(true);
      const k = s.kernelTime;
      expect(k.copies).toEqual([1, 2]);
      for (const wall of k.wallMedianUs) expectPositive(wall, `${what} kernel-run wall`);
      // The kernel time is a difference of two medians: on a busy machine (these CLI runs share it with the
      // other test files) it can come out at or below 0, which the document reports with a null ratio.
      expect(Number.isFinite(k.kernelUs), `${what} kernel time = ${k.kernelUs}`).toBe(true);
      expect(k.kernelUs).toBeCloseTo(k.wallMedianUs[1]! - k.wallMedianUs[0]!, 6);
      expect(k.fixedUs).toBeCloseTo(k.wallMedianUs[0]! - k.kernelUs, 6);
      expect(s.runs.map((r) => r.threads)).toEqual([1, 2]);
      for (const r of s.runs) {
        expectPositive(r.wallMedianUs, `${what} wall median`);
        expect(r.wallP90Us).toBeGreaterThanOrEqual(r.wallMedianUs);
        if (k.kernelUs > 0) expect(r.wallOverKernel).toBeCloseTo(r.wallMedianUs / k.kernelUs, 6);
        else expect(r.wallOverKernel).toBeNull();
        if (HAS_THREAD_CPU) expectPositive(r.cpuPerCallUs, `${what} CPU per call`);
        else expect(r.cpuPerCallUs).toBeNull();
      }
    }

    expect(doc.mix).toMatchObject({ callers: 4, durationMs: 300 });
    expect(doc.mix.runs.map((r) => r.threads)).toEqual([1, 2]);
    for (const r of doc.mix.runs) {
      expect(r.calls).toBeGreaterThan(0);
      expect(r.seconds).toBeGreaterThanOrEqual(0.3);
      expect(r.callsPerSecond).toBeCloseTo(r.calls / r.seconds, 6);
      if (HAS_THREAD_CPU) {
        expectPositive(r.cpuPerCallUs, 'mix CPU per call');
        expectPositive(r.mainThreadBusy, 'mix main thread busy');
        expect(r.mainThreadBusy).toBeLessThanOrEqual(1.05); // one thread's CPU over wall time
      } else {
        expect([r.cpuPerCallUs, r.mainThreadBusy]).toEqual([null, null]);
      }
    }

    expect(doc.batching.map((b) => [b.threads, b.streams, b.rounds])).toEqual([[1, 3, 5], [2, 3, 5]]); // rounds: max(5, repeat / 50)
    for (const b of doc.batching) {
      expect(b.runs.map((r) => r.way)).toEqual(['one by one', 'Promise.all', 'attentionBatch']);
      for (const r of b.runs) {
        expectPositive(r.wallPerRoundUs, `${b.threads} threads, ${r.way}: wall per round`);
        if (HAS_THREAD_CPU) expectPositive(r.cpuPerStepUs, `${b.threads} threads, ${r.way}: CPU per step`);
        else expect(r.cpuPerStepUs).toBeNull();
      }
    }
  });

  it.concurrent('--kv-dtype int8: the decode step and the batching run over int8 caches', async () => {
    const result = await runCli([...TINY, '--threads', '2', '--kv-dtype', 'int8']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^decode Sk=1024 B1 H8 D64 int8 KV +workers +2 /m);
    expect(result.stdout).toMatch(/^batching: one decode step for each of 3 sequences \(own int8 KvCache each, 256–1024 positions\), 5 rounds/m);
    const bad = await runCli([...TINY, '--kv-dtype', 'float64']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/kv-dtype/);
  });

  it.concurrent('text: the latency table, a kernel-time line per shape and the calls-per-second table', async () => {
    const result = await runCli(TINY);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out).not.toContain('\r');
    const cpuSource = HAS_THREAD_CPU ? 'process\\.threadCpuUsage\\(\\) over all timed calls / calls' : 'not measured \\(see the note\\)';
    expect(out).toMatch(new RegExp('^dispatch: per-call cost, calls one after another \\(30 timed after 2 warm-up\\), ' +
      `kernel (js|wasm \\((simd|relaxed-simd) build\\)); main-thread CPU: ${cpuSource}$`, 'm'));
    expect(out).toMatch(/^shape +path +threads +main CPU µs per call +wall µs median +wall µs p90 +wall \/ kernel$/m);
    const cpu = HAS_THREAD_CPU ? '[\\d.]+' : '—';
    // A kernel time at or below 0 (a busy machine, see the --json test) prints "—" as the ratio, and a note.
    const kernelTimeOf = (shape: string) => {
      const line = out.match(new RegExp(`^kernel time of ${shape} \\([\\d.]+ MFLOP\\), 1 thread: (-?[\\d.]+) µs = [\\d.]+ µs \\(2 copies in one call\\) − [\\d.]+ µs \\(1\\);`, 'm'));
      expect(line, `kernel time line of ${shape}`).not.toBeNull();
      return Number(line![1]);
    };
    const shapes = ['self S=64 B1 H8 D64', 'decode Sk=1024 B1 H8 D64'].map((shape) => ({ shape, kernelUs: kernelTimeOf(shape) }));
    for (const { shape, kernelUs } of shapes) {
      const ratio = kernelUs > 0 ? '[\\d.]+×' : '—';
      expect(out.match(new RegExp(`^${shape} +workers +[12] +${cpu} +[\\d.]+ +[\\d.]+ +${ratio}$`, 'gm')), shape).toHaveLength(2);
    }
    expect(out.includes('note: a kernel time at or below 0 µs')).toBe(shapes.some((s) => s.kernelUs <= 0));
    expect(out).toMatch(/^calls per second: 4 concurrent callers, each issuing self S=64 B1 H8 D64 \/ decode Sk=1024 B1 H8 D64 in turn, for 0\.3 s$/m);
    expect(out).toMatch(/^threads +calls +calls\/s +main CPU µs per call +main thread busy$/m);
    expect(out.match(new RegExp(`^[12] +\\d+ +\\d+ +${cpu} +${HAS_THREAD_CPU ? '\\d+%' : '—'}$`, 'gm'))).toHaveLength(2);
    expect(out).toMatch(/^batching: one decode step for each of 3 sequences \(own KvCache each, 256–1024 positions\), 5 rounds, the three ways alternating round by round$/m);
    expect(out).toMatch(/^threads +way +main CPU µs per step +wall µs per round \(median\) +steps\/s$/m);
    expect(out.match(new RegExp(`^[12] +(one by one|Promise\\.all|attentionBatch) +${cpu} +[\\d.]+ +\\d+$`, 'gm'))).toHaveLength(6);
    expect(out.includes('note: main-thread CPU not measured')).toBe(!HAS_THREAD_CPU);
  });
});
