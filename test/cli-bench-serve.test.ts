// `attnpool bench --mode serve` end to end on tiny settings: --json carries every side (a KvCache per
// stream and one paged store, per dtype) at every thread count with figures consistent with each other
// and with the K/V bytes counted here from the storage rules; the first step of every side is within its bound of a float64 reference (the bench's own,
// itself checked below on cases solved by hand); onnxruntime's kernel time never exceeds the wall time
// of the same runs; the text output has its header, bandwidth line, tables and RSS line; bad flags exit 2.

import { describe, expect, it } from 'vitest';
import { decodeReference } from '../dist/cli/bench/serve/reference.js';
import { runCli } from './cli-helpers.js';

const TINY = ['bench', '--mode', 'serve', '--streams', '3', '--min-len', '64', '--max-len', '200', '--steps', '2', '--warmup', '1',
  '--heads', '4', '--kv-heads', '2', '--head-dim', '40'];

interface Side { impl: string; how: string; dtype: string; medianMs: number; minMs: number; maxMs: number; tokensPerSecond: number; kvGBps: number; maxAbsDiff: number }
interface Config { threads: number; kernel: string; wasmVariant: string | null; sides: Side[]; ortVsAttnpool: number | null }
interface ServeDoc {
  command: string; mode: string; machine: { cpu: string };
  settings: Record<string, unknown>; initialLengths: number[];
  bandwidth: { bufferBytes: number; oneThreadGBps: number; twoThreadsGBps: number } | null;
  configurations: Config[]; peakRssBytes: number; peakRssCovers: string;
}

// Bytes of one position of one kv head, from golden-variants/README.md's storage rules: K and V rows of D
// values; int8 one byte a value plus a float32 scale per block of 32 (the last block shorter).
const D = 40, HKV = 2;
const BYTES_PER_POSITION: Record<string, number> = { float32: 2 * D * 4, float16: 2 * D * 2, int8: 2 * D + 2 * 4 * Math.ceil(D / 32) };
// Bounds of the first step from the float64 reference, as the bench fails on them (cli/bench/serve/command.ts says why).
const BOUND: Record<string, number> = { float32: 1e-5, float16: 2e-3, int8: 2e-2 };

describe('the serve bench float64 reference', () => {
  it('one key gives its value; two keys mix their values by softmax weight; head h reads kv head h / (H / Hkv)', () => {
    // H = 2 query heads over Hkv = 1, D = 4 (scale 1/2); keys e0 and 0, values (2, 4, 0, 0) and (6, 8, 0, 0).
    const k = Float32Array.of(1, 0, 0, 0, 0, 0, 0, 0), v = Float32Array.of(2, 4, 0, 0, 6, 8, 0, 0);
    const q = Float32Array.of(2, 0, 0, 0, 0, 0, 0, 0); // head 0 scores: 1 and 0; head 1: 0 and 0
    const out = decodeReference(q, k, v, 2, 1, 4);
    const w = Math.E / (Math.E + 1);
    expect(Array.from(out)).toEqual([w * 2 + (1 - w) * 6, w * 4 + (1 - w) * 8, 0, 0, 4, 6, 0, 0].map((x) => expect.closeTo(x, 12)));
    expect(Array.from(decodeReference(Float32Array.of(5, -3), Float32Array.of(1, 1), Float32Array.of(7, 9), 1, 1, 2))).toEqual([7, 9]);
    // Two kv heads, two query heads: head 1 must read kv head 1 (value 3), not kv head 0 (value 1).
    const grouped = decodeReference(Float32Array.of(1, 1), Float32Array.of(1, 1), Float32Array.of(1, 3), 2, 2, 1);
    expect(Array.from(grouped)).toEqual([1, 3]);
  });
});

describe('attnpool bench --mode serve', () => {
  it.concurrent('--json --vs ort: every side at every thread count, consistent figures, first steps within bounds', async () => {
    const result = await runCli([...TINY, '--threads', '1,2', '--kv-dtype', 'float32,float16,int8', '--vs', 'ort', '--json'], 120_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout) as ServeDoc;
    expect([doc.command, doc.mode]).toEqual(['bench', 'serve']);
    expect(doc.settings).toMatchObject({ streams: 3, heads: 4, kvHeads: 2, headDim: 40, minLength: 64, maxLength: 200, steps: 2, warmup: 1,
      threads: [1, 2], kvDtypes: ['float32', 'float16', 'int8'], stores: ['cache', 'paged'], attentionBatch: true });
    expect([...doc.initialLengths].sort((a, b) => a - b)).toEqual([64, 132, 200]); // spread evenly over the range
    expect(doc.bandwidth!.bufferBytes).toBe(512 * 2 ** 20);
    for (const gbps of [doc.bandwidth!.oneThreadGBps, doc.bandwidth!.twoThreadsGBps]) expect(gbps).toBeGreaterThan(0.1);
    expect(doc.peakRssBytes).toBeGreaterThan(2 ** 20);
    expect(doc.peakRssCovers).toMatch(/maxRSS/);

    expect(doc.configurations.map((c) => c.threads)).toEqual([1, 2]);
    // Timed steps read every stream at its initial length + 1 (warm-up) + 0 or 1: on average + 1.5.
    const meanPositions = doc.initialLengths.reduce((n, l) => n + l + 1.5, 0);
    for (const c of doc.configurations) {
      expect(c.sides.map((r) => `${r.impl} ${r.how} ${r.dtype}`)).toEqual([
        'attnpool KvCache float32', 'attnpool paged float32', 'attnpool KvCache float16', 'attnpool paged float16',
        'attnpool KvCache int8', 'attnpool paged int8', 'onnxruntime GQA, output only (wall) float32', 'onnxruntime GQA, in place (wall) float32', 'onnxruntime GQA, in place (kernel, profiler) float32',
      ]);
      for (const r of c.sides) {
        const what = `${c.threads} threads ${r.impl} ${r.how} ${r.dtype}`;
        expect(r.minMs, what).toBeGreaterThan(0);
        expect(r.medianMs, what).toBeGreaterThanOrEqual(r.minMs);
        expect(r.maxMs, what).toBeGreaterThanOrEqual(r.medianMs);
        expect(r.tokensPerSecond, what).toBeCloseTo(3 / (r.medianMs / 1000), 6);
        expect(r.kvGBps, what).toBeCloseTo((meanPositions * HKV * BYTES_PER_POSITION[r.dtype]!) / (r.medianMs / 1000) / 1e9, 9);
        expect(r.maxAbsDiff, what).toBeLessThanOrEqual(BOUND[r.dtype]!);
      }
      // float16 and int8 storage round: their error is real, not a copy of float32's; a paged store's first
      // step has its KvCache twin's bits, so the same error.
      expect(c.sides[2]!.maxAbsDiff).toBeGreaterThan(c.sides[0]!.maxAbsDiff);
      expect(c.sides[4]!.maxAbsDiff).toBeGreaterThan(c.sides[0]!.maxAbsDiff);
      for (const at of [0, 2, 4]) expect(c.sides[at + 1]!.maxAbsDiff).toBe(c.sides[at]!.maxAbsDiff);
      const [inPlaceWall, kernel] = [c.sides[7]!, c.sides[8]!];
      expect(kernel.medianMs).toBeLessThanOrEqual(inPlaceWall.medianMs); // the node's time is part of each run's wall time
      expect(c.ortVsAttnpool).toBeLessThanOrEqual(1e-5);
    }
  });

  it.concurrent('text, Promise.all, no bandwidth: header, one table per thread count, RSS line', async () => {
    const result = await runCli([...TINY, '--threads', '2', '--no-attention-batch', '--no-bandwidth', '--store', 'cache']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out).toMatch(/^serve: 3 streams \(B1 each\) H4 Hkv2 D40, initial lengths 64–200 \(seed 1\); 2 timed steps after 1 warm-up; a step: every stream's pool\.attention call under one Promise\.all, then one append per stream$/m);
    expect(out).toMatch(/^machine: .+, \d+ CPUs, Node v[\d.]+ \(shared with other work: compare rows of one run\)$/m);
    expect(out).toMatch(/^streaming read: not measured \(--no-bandwidth\)$/m);
    expect(out).toMatch(/^2 threads, kernel (js|wasm \((simd|relaxed-simd) build\))$/m);
    expect(out).toMatch(/^side +tokens\/s +ms\/step median +min–max +K\/V GB\/s +of read b\/w +vs ORT kernel +vs KvCache +max \|Δ\| vs float64$/m);
    expect(out.match(/^attnpool KvCache float32 +\d+ +[\d.]+ +[\d.]+–[\d.]+ +[\d.]+ +— +— +— +\d\.\de-\d+$/gm)).toHaveLength(1);
    expect(out).not.toMatch(/^attnpool paged/m);
    expect(out).not.toMatch(/^onnxruntime|onnxruntime counted/m); // no peer asked for: no rows, no note about its bytes
    expect(out).toMatch(/^peak RSS [\d.]+ GiB: process\.resourceUsage\(\)\.maxRSS/m);
  });

  it.concurrent('--store paged: one paged side per dtype, its speed-up over the KvCache left out (no KvCache row), first steps within bounds', async () => {
    const result = await runCli([...TINY, '--threads', '2', '--no-bandwidth', '--store', 'paged', '--kv-dtype', 'int8,float32']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const out = result.stdout;
    const rows = out.match(/^attnpool .+$/gm)!;
    expect(rows.map((row) => row.split(/ {2,}/)[0])).toEqual(['attnpool paged int8', 'attnpool paged float32']);
    for (const row of rows) {
      const cells = row.split(/ {2,}/);
      expect(cells[7]).toBe('—'); // vs KvCache: none in this run
      expect(Number(cells[8])).toBeLessThanOrEqual(BOUND[cells[0]!.split(' ')[2]!]!);
    }
  });

  it.concurrent.each([
    [['--steps', '0'], /--steps must be a positive integer, got 0/],
    [['--min-len', '300', '--max-len', '200'], /--min-len \(300\) must be at most --max-len \(200\)/],
    [['--kv-dtype', 'float64'], /--kv-dtype must be float32, float16, int8 or a comma-separated list of them, got "float64"/],
    [['--store', 'cache,pages'], /--store must be cache, paged or a comma-separated list of them, got "cache,pages"/],
    [['--batch', '2'], /--batch 2: --mode serve steps streams of B = 1 each/],
    [['--seq', '128'], /--seq is read only with --mode attention or mha or dispatch/],
    [['--causal'], /--causal: --mode serve always decodes causally/],
    [['--head-dim', '12', '--vs', 'ort'], /--vs ort: onnxruntime's GroupQueryAttention needs --head-dim a multiple of 8, got 12/],
    [['--max-len', '100000000'], /too large for --mode serve: the caches need up to \d+ bytes/],
  ])('%j → exit 2 with the reason', async (extra, reason) => {
    const result = await runCli(['bench', '--mode', 'serve', ...extra]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(reason);
  });

  it.concurrent('serve-only options are refused in the other modes', async () => {
    for (const args of [['bench', '--min-len', '10'], ['bench', '--mode', 'dispatch', '--steps', '3'], ['bench', '--no-attention-batch'], ['bench', '--mode', 'dispatch', '--store', 'paged']]) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/is read only with --mode serve/);
    }
  });
});
