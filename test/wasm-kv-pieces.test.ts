// K/V kept packed across jobs (workers/kernels/wasm/kv-pieces.ts): jobs with a kvSource read K/V from
// pieces a kernel instance keeps between jobs and packs only the positions it has not packed yet. They
// must give the bits that fresh kernels give the same jobs without kvSource (which pack everything
// per job), whatever the sequence of jobs before — growing caches, split-KV, sliding windows,
// non-finite values, shorter (older) snapshots, a new epoch or id over rewritten buffers, GEMM jobs
// or another head dimension in between — and a step must pack only the positions appended, which the
// tests see by counting the elements of V the kernel copies out of the cache's buffers.

import { describe, expect, it } from 'vitest';
import { ATTENTION_TILE, tileCount, type AttentionJob, type AttentionTile, type KvSource, type SplitKv, type View4 } from '../dist/workers/kernels/jobs.js';
import type { Kernel } from '../dist/workers/kernels/jobs.js';
import { createWasmKernel, wasmKernels } from '../dist/workers/kernels/wasm/index.js';
import { expectSameBits } from './support/compare.js';
import { WASM_BUILD } from './support/kernels.js';
import { Rng } from './support/random.js';
import { gemmJob, gemmPart, gemmTiles } from './support/wasm-jobs.js';

const wasmModule = wasmKernels(WASM_BUILD)?.module ?? null;

function newKernel(): Kernel {
  expect(wasmModule, `the ${WASM_BUILD} wasm build must be built and valid on this runtime`).not.toBeNull();
  return createWasmKernel(wasmModule!);
}

interface Shape {
  readonly B: number;
  readonly H: number;
  readonly Hkv: number;
  readonly D: number;
  readonly Dv: number;
  readonly capacity: number;
}

/** V's elements, counting those the kernel copies out: it reads the caller's buffers only through
 *  subarray() (workers/kernels/wasm/strided-copy.ts), and packs V row by row from the first position
 *  a piece lacks (K from the start of its panel), so the count over V is the keys packed. */
class ReadCountingArray extends Float32Array {
  elementsRead = 0;

  override subarray(begin?: number, end?: number): Float32Array<ArrayBuffer> {
    const view = super.subarray(begin, end);
    this.elementsRead += view.length;
    return view;
  }
}

/** K and V laid out as a KvCache holds them: [B, Hkv, capacity, D], every position filled up front
 *  (a job with Sk = n reads positions [0, n) only, so later "appends" are already in place). */
interface CacheBuffers {
  readonly shape: Shape;
  readonly k: View4;
  readonly v: View4 & { readonly data: ReadCountingArray };
}

function randomFill<A extends Float32Array>(data: A, rng: Rng): A {
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform() * 2 - 1;
  return data;
}

function cacheBuffers(shape: Shape, seed: number): CacheBuffers {
  const rng = new Rng(seed);
  const { B, Hkv, D, Dv, capacity } = shape;
  const view = <A extends Float32Array>(data: A, cols: number) => ({
    data: randomFill(data, rng), offset: 0, strideB: Hkv * capacity * cols, strideH: capacity * cols, strideRow: cols,
  });
  return { shape, k: view(new Float32Array(B * Hkv * capacity * D), D), v: view(new ReadCountingArray(B * Hkv * capacity * Dv), Dv) };
}

interface StepOptions {
  readonly Sq?: number;
  readonly window?: number;
  readonly keysPerSplit?: number;
  readonly source?: KvSource;
  readonly seed?: number;
}

/** A causal job over positions [0, Sk) of the buffers, with Sq query rows (the last Sq positions). */
function stepJob(cache: CacheBuffers, Sk: number, options: StepOptions = {}): AttentionJob {
  const { B, H, Hkv, D, Dv } = cache.shape;
  const Sq = options.Sq ?? 1;
  const rng = new Rng(options.seed ?? Sk);
  const dense = (rows: number, cols: number, fill = 0): View4 => ({
    data: new Float32Array(B * H * rows * cols).fill(fill), offset: 0, strideB: H * rows * cols, strideH: rows * cols, strideRow: cols,
  });
  const q = dense(Sq, D);
  randomFill(q.data as Float32Array, rng);
  const kps = options.keysPerSplit;
  const count = kps ? Math.ceil(Sk / kps) : 0;
  const split: SplitKv | undefined = kps ? {
    keysPerSplit: kps, first: 0, count,
    max: new Float64Array(count * B * H * Sq).fill(-Infinity), sum: new Float64Array(count * B * H * Sq), acc: new Float64Array(count * B * H * Sq * Dv),
  } : undefined;
  const tiles: AttentionTile[] = [];
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    for (let split = 0; split < (kps ? count : 1); split++) tiles.push({ b, h, heads: 1, rowStart: 0, rowEnd: Sq, split });
  }
  return {
    kind: 'attention', B, H, Hkv, Sq, Sk, D, Dv, scale: 1 / Math.sqrt(D), causal: true,
    ...(options.window !== undefined ? { window: options.window } : {}),
    q, k: cache.k, v: cache.v, out: dense(Sq, Dv, 7), lse: dense(Sq, 1, 7),
    ...(split ? { split } : {}),
    ...(options.source ? { kvSource: options.source } : {}),
    tiles: ATTENTION_TILE.pack(tiles),
  };
}

function runAll(kernel: Kernel, job: AttentionJob): void {
  for (let t = 0; t < tileCount(job); t++) kernel.tiles.attention(job, t);
}

function expectSameResult(got: AttentionJob, expected: AttentionJob, label: string): void {
  if (expected.split) {
    expectSameBits(got.split!.max, expected.split.max, `${label}: split max`);
    expectSameBits(got.split!.sum, expected.split.sum, `${label}: split sum`);
    expectSameBits(got.split!.acc, expected.split.acc, `${label}: split acc`);
    return;
  }
  expectSameBits(got.out.data as Float32Array, expected.out.data as Float32Array, `${label}: out`);
  expectSameBits(got.lse!.data as Float32Array, expected.lse!.data as Float32Array, `${label}: lse`);
}

/** Runs the step with `source` on `kernel` and without it on a fresh kernel; expects the same bits.
 *  Returns how many keys the step packed into pieces. */
function checkStep(kernel: Kernel, cache: CacheBuffers, Sk: number, options: StepOptions, label: string): number {
  const fresh = stepJob(cache, Sk, { ...options, source: undefined });
  runAll(newKernel(), fresh);
  const job = stepJob(cache, Sk, options);
  const before = cache.v.data.elementsRead;
  runAll(kernel, job);
  expectSameResult(job, fresh, `${label}, Sk ${Sk}`);
  return (cache.v.data.elementsRead - before) / cache.shape.Dv;
}

// Lengths around 8-key panels, 64-key blocks and 1024-key pieces.
const GROWTH = [1, 2, 7, 8, 9, 63, 64, 65, 500, 1023, 1024, 1025, 1031, 2047, 2048, 2049, 2300];

describe('wasm kernel: K/V pieces kept across jobs give the bits of fresh kernels', () => {
  it.each([
    { label: 'GQA B2 H4 Hkv2 D64, one query row', shape: { B: 2, H: 4, Hkv: 2, D: 64, Dv: 64, capacity: 2400 }, options: {} },
    { label: 'D 20, Dv 36 (pad columns), 3 query rows', shape: { B: 1, H: 2, Hkv: 1, D: 20, Dv: 36, capacity: 2400 }, options: { Sq: 3 } },
    { label: 'sliding window 200', shape: { B: 1, H: 2, Hkv: 2, D: 32, Dv: 32, capacity: 2400 }, options: { window: 200 } },
    { label: 'split-KV, 320 keys per split (not a divisor of the piece)', shape: { B: 1, H: 2, Hkv: 2, D: 64, Dv: 64, capacity: 2400 }, options: { keysPerSplit: 320 } },
    { label: 'split-KV, 1088 keys per split', shape: { B: 1, H: 2, Hkv: 1, D: 64, Dv: 64, capacity: 2400 }, options: { keysPerSplit: 1088 } },
  ])('$label: a growing cache packs only the new positions', ({ shape, options }) => {
    const cache = cacheBuffers(shape, 901);
    const kernel = newKernel();
    const source = { id: 1, epoch: 0 };
    let previous = 0;
    for (const Sk of GROWTH) {
      if (Sk < (options.Sq ?? 1)) continue;
      const packed = checkStep(kernel, cache, Sk, { ...options, source }, 'growing');
      expect(packed, `keys packed at Sk ${Sk}`).toBe(shape.B * shape.Hkv * (Sk - previous));
      previous = Sk;
    }
  });

  it('D = Dv = 1024: several spans per job (2048 keys each) and more pieces than slots (LRU eviction)', () => {
    const cache = cacheBuffers({ B: 1, H: 4, Hkv: 4, D: 1024, Dv: 1024, capacity: 2600 }, 902);
    const kernel = newKernel();
    for (const Sk of [900, 1500, 2100, 2101, 2500]) checkStep(kernel, cache, Sk, { source: { id: 2, epoch: 0 }, Sq: 2 }, 'wide heads');
  });

  it('non-finite V outside the window but inside a computed block: the flag is the whole span\'s', () => {
    const shape = { B: 1, H: 1, Hkv: 1, D: 16, Dv: 16, capacity: 1600 };
    const cache = cacheBuffers(shape, 903);
    const v = cache.v.data as Float32Array;
    v[1350 * 16 + 3] = Infinity; // block [1344, 1408) of piece [1024, 2048)
    v[100 * 16] = NaN; // another piece of the same span
    const kernel = newKernel();
    const source = { id: 3, epoch: 0 };
    for (const Sk of [1340, 1351, 1420, 1500]) checkStep(kernel, cache, Sk, { source, window: 100 }, 'Inf in V');
    // At Sk = 1500 the row sees keys [1400, 1500): finite, computed with the careful P·V.
    const job = stepJob(cache, 1500, { source, window: 100 });
    runAll(kernel, job);
    expect(Array.from(job.out.data).every(Number.isFinite)).toBe(true);
  });

  it('a job reading fewer keys than a piece holds (an older snapshot running late) gets the bits of its own length', () => {
    const cache = cacheBuffers({ B: 1, H: 2, Hkv: 1, D: 24, Dv: 24, capacity: 1200 }, 904);
    const kernel = newKernel();
    const source = { id: 4, epoch: 0 };
    for (const Sk of [1100, 700, 701, 1101]) checkStep(kernel, cache, Sk, { source }, 'out of order');
  });
});

describe('wasm kernel: K/V pieces are never served stale', () => {
  const shape = { B: 1, H: 2, Hkv: 2, D: 32, Dv: 32, capacity: 800 };

  it('a new epoch over rewritten buffers (reset, then appends) and another id with other contents', () => {
    const cache = cacheBuffers(shape, 905);
    const kernel = newKernel();
    checkStep(kernel, cache, 700, { source: { id: 5, epoch: 0 } }, 'epoch 0');
    // A second kernel keeping epoch 0's pieces, to show below that the case is sensitive.
    const sensing = newKernel();
    runAll(sensing, stepJob(cache, 700, { source: { id: 5, epoch: 0 } }));
    // reset() + append(): positions [0, 700) now hold other values, under epoch 1.
    const rewritten = cacheBuffers(shape, 906);
    (cache.k.data as Float32Array).set(rewritten.k.data);
    (cache.v.data as Float32Array).set(rewritten.v.data);
    expect(checkStep(kernel, cache, 700, { source: { id: 5, epoch: 1 } }, 'epoch 1')).toBe(2 * 700);
    // The case is sensitive: serving epoch 0's kept pieces for the rewritten buffers would be wrong.
    // (`kernel` no longer has them: a new epoch drops the source's earlier ones, which no job reads again.)
    const stale = stepJob(cache, 700, { source: { id: 5, epoch: 0 } });
    runAll(sensing, stale);
    const fresh = stepJob(cache, 700);
    runAll(newKernel(), fresh);
    expect(Buffer.compare(Buffer.from(stale.out.data.buffer), Buffer.from(fresh.out.data.buffer)), 'stale pieces differ').not.toBe(0);
    // And `kernel` dropped epoch 0's pieces when epoch 1 came: such a job would pack everything afresh.
    expect(checkStep(kernel, cache, 700, { source: { id: 5, epoch: 0 } }, 'epoch 0 after epoch 1')).toBe(2 * 700);
    // Another cache's buffers, of the same shape.
    const other = cacheBuffers(shape, 907);
    expect(checkStep(kernel, other, 700, { source: { id: 6, epoch: 0 } }, 'other id')).toBe(2 * 700);
    checkStep(kernel, cache, 701, { source: { id: 5, epoch: 1 } }, 'epoch 1 again');
  });

  it('a GEMM job, a job without kvSource, or another D or Dv in between: repacked, same bits', () => {
    const cache = cacheBuffers(shape, 908);
    const narrowK = cacheBuffers({ ...shape, D: 16 }, 909);
    const narrowV = cacheBuffers({ ...shape, Dv: 16 }, 911);
    const kernel = newKernel();
    const source = { id: 7, epoch: 0 };
    checkStep(kernel, cache, 600, { source }, 'before');
    expect(checkStep(kernel, cache, 601, { source }, 'next step')).toBe(2);
    const { part } = gemmPart({ M: 20, N: 30, K: 40, bias: true, seed: 910 });
    kernel.tiles.gemm(gemmJob([part], gemmTiles(0, 20, 30, [], [])), 0); // lays the memory out for itself
    expect(checkStep(kernel, cache, 602, { source }, 'after a GEMM job')).toBe(2 * 602);
    runAll(kernel, stepJob(cache, 300)); // per-job packing, over the same memory
    expect(checkStep(kernel, cache, 603, { source }, 'after a job without kvSource')).toBe(2 * 603);
    checkStep(kernel, narrowK, 500, { source: { id: 8, epoch: 0 } }, 'D 16');
    expect(checkStep(kernel, cache, 604, { source }, 'back to D 32')).toBe(2 * 604);
    checkStep(kernel, narrowV, 500, { source: { id: 9, epoch: 0 } }, 'Dv 16');
    expect(checkStep(kernel, cache, 605, { source }, 'back to Dv 32')).toBe(2 * 605);
    expect(checkStep(kernel, cache, 606, { source }, 'and on')).toBe(2);
  });
});
