// The serving benchmark's run: at each thread count, every side over the same streams, stepping in
// turns — each step, every attnpool side (one per --kv-dtype and --store) takes its step, then
// onnxruntime's two paths — so a slow spell of the shared machine lands on every side alike. The first step of every side
// is checked against a float64 reference before any time counts; the machine's streaming-read bandwidth
// is measured last, after the process's peak RSS has been read (its 512 MiB buffer would hide the rest).

import type { AttentionPool, Tensor } from '../../../src/index.js';
import type { KernelArgs } from '../../pool-options.js';
import { openPool } from '../../pool-options.js';
import type { OrtRuntime } from '../../ort/ort-peer.js';
import { median } from '../../format.js';
import type { DecodeKvDtype } from '../dispatch/shapes.js';
import { stepBytes } from './kv-bytes.js';
import { STREAM_BACKENDS, type StoreName } from './backends.js';
import { openOrtGqa, type OrtGqaPeer } from './ort-gqa.js';
import { measureReadBandwidth, type ReadBandwidth } from './read-bandwidth.js';
import { maxAbsDiff } from '../../bitwise.js';
import { decodeReference } from './reference.js';
import type { StreamBackend } from './stream-backend.js';
import { finalLength, initialKvDraws, initialLengths, type InitialKvDraw, stepRows, type ServeShape, type StepRows } from './streams.js';

export interface ServeSettings extends ServeShape {
  readonly threads: readonly number[];
  readonly dtypes: readonly DecodeKvDtype[];
  /** The attnpool stores: one side per (dtype, store), a dtype's stores side by side. */
  readonly stores: readonly StoreName[];
  readonly batched: boolean;
  readonly bandwidth: boolean;
  readonly pool: KernelArgs;
}

export interface SideResult {
  readonly impl: 'attnpool' | 'onnxruntime';
  /** attnpool: the store ('KvCache', 'paged'); onnxruntime: which path and which clock. */
  readonly how: string;
  readonly dtype: DecodeKvDtype;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** streams / median step time. */
  readonly tokensPerSecond: number;
  /** K/V bytes the timed steps read (mean per step) / median step time, 10⁹ bytes per second. */
  readonly kvGBps: number;
  /** Largest |Δ| of the first step's output of every stream from the float64 reference. */
  readonly maxAbsDiff: number;
}

export interface ServeConfigResult {
  readonly threads: number;
  readonly kernel: string;
  readonly wasmVariant: string | null;
  readonly sides: readonly SideResult[];
  /** Largest |Δ| between onnxruntime's first step and attnpool's float32 one (null without both). */
  readonly ortVsAttnpool: number | null;
}

export interface ServeResult {
  readonly lengths: readonly number[];
  readonly configs: readonly ServeConfigResult[];
  /** process.resourceUsage().maxRSS in bytes, read after the last configuration, before the bandwidth run. */
  readonly peakRssBytes: number;
  readonly bandwidth: ReadBandwidth | null;
}

/** One side's step as the harness times it; `output` flattens its last step to [streams · H · D]. */
interface TimedSide {
  readonly impl: SideResult['impl'];
  readonly how: string;
  readonly dtype: DecodeKvDtype;
  run(rows: StepRows): Promise<void>;
  output(): Float32Array;
  /** Gives its K/V back (a paged store's pages); the side is not run again. */
  release(): void;
}

export const serveTicks = (s: ServeSettings) => s.threads.length * (s.warmupSteps + s.steps);

export async function runServeBench(s: ServeSettings, ort: OrtRuntime | null, tick: (label: string) => void): Promise<ServeResult> {
  const lengths = initialLengths(s);
  const rows = stepRows(s);
  const draw = initialKvDraws(s);
  const reference = referenceOfFirstStep(s, lengths, rows[0]!, draw);
  const configs: ServeConfigResult[] = [];
  for (const threads of s.threads) {
    configs.push(await runConfig(s, threads, lengths, rows, reference, draw, ort, () => tick(`${threads} thread${threads === 1 ? '' : 's'}`)));
  }
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  return { lengths, configs, peakRssBytes, bandwidth: s.bandwidth ? await measureReadBandwidth() : null };
}

/** Every stream's first-step output, [streams · H · D], in float64. */
function referenceOfFirstStep(s: ServeShape, lengths: readonly number[], first: StepRows, draw: InitialKvDraw): Float64Array {
  const width = s.heads * s.headDim;
  const out = new Float64Array(s.streams * width);
  lengths.forEach((length, i) => {
    const { k, v } = draw(i, length);
    out.set(decodeReference(first.q[i]!.data, k.data, v.data, s.heads, s.kvHeads, s.headDim), i * width);
  });
  return out;
}

async function runConfig(s: ServeSettings, threads: number, lengths: readonly number[], rows: readonly StepRows[], reference: Float64Array,
  draw: InitialKvDraw, ort: OrtRuntime | null, tick: () => void): Promise<ServeConfigResult> {
  const pool = openPool(threads, s.pool);
  let peer: OrtGqaPeer | null = null;
  const sides: TimedSide[] = [];
  try {
    const capacities = lengths.map((length) => finalLength(s, length));
    const initial = (i: number) => draw(i, lengths[i]!);
    for (const dtype of s.dtypes) {
      for (const store of s.stores) sides.push(attnpoolSide(pool, s, STREAM_BACKENDS[store], dtype, capacities, initial));
    }
    if (ort) {
      peer = await openOrtGqa(ort, s, lengths, threads, initial);
      sides.push(...ortSides(peer));
    }
    const times = sides.map((): number[] => []);
    const firstOutputs: Float32Array[] = [];
    for (const [t, step] of rows.entries()) {
      peer?.beginStep(step);
      for (const [i, side] of sides.entries()) {
        const t0 = performance.now();
        await side.run(step);
        const ms = performance.now() - t0;
        if (t === 0) firstOutputs[i] = side.output();
        if (t >= s.warmupSteps) times[i]!.push(ms);
      }
      peer?.endStep(step);
      tick();
    }
    const results = sides.map((side, i) => sideResult(s, lengths, side, times[i]!, maxAbsDiff(reference, firstOutputs[i]!)));
    if (peer) {
      const kernelMs = peer.kernelTimesMs();
      if (kernelMs.length !== rows.length) throw new Error(`onnxruntime's profile holds ${kernelMs.length} GroupQueryAttention runs, not the ${rows.length} steps run`);
      results.push(kernelResult(s, lengths, results.at(-1)!, kernelMs.slice(s.warmupSteps)));
    }
    const f32 = sides.findIndex((side) => side.impl === 'attnpool' && side.dtype === 'float32');
    const ortIndex = sides.findIndex((side) => side.impl === 'onnxruntime');
    return {
      threads, kernel: pool.kernel, wasmVariant: pool.wasmVariant, sides: results,
      ortVsAttnpool: f32 >= 0 && ortIndex >= 0 ? maxAbsDiff(firstOutputs[f32]!, firstOutputs[ortIndex]!) : null,
    };
  } finally {
    for (const side of sides) side.release();
    await peer?.release();
    await pool.close();
  }
}

function attnpoolSide(pool: AttentionPool, s: ServeSettings, backend: StreamBackend, dtype: DecodeKvDtype, capacities: readonly number[],
  initial: Parameters<StreamBackend['open']>[3]): TimedSide {
  const store = backend.open(pool, { heads: s.heads, kvHeads: s.kvHeads, headDim: s.headDim, dtype, batched: s.batched }, capacities, initial);
  let last: readonly Tensor[] = [];
  return {
    impl: 'attnpool', how: backend.name, dtype,
    async run(step) {
      last = await store.step(step);
    },
    output() {
      const width = s.heads * s.headDim;
      const flat = new Float32Array(last.length * width);
      last.forEach((t, i) => flat.set(t.data, i * width));
      return flat;
    },
    release: () => store.release(),
  };
}

function ortSides(peer: OrtGqaPeer): TimedSide[] {
  const side = (how: string, call: () => Promise<Float32Array>): TimedSide => {
    let last: Float32Array = new Float32Array(0);
    return { impl: 'onnxruntime', how, dtype: 'float32', run: async () => void (last = await call()), output: () => last, release: () => {} };
  };
  return [side('GQA, output only (wall)', () => peer.outputOnly()), side('GQA, in place (wall)', () => peer.inPlace())];
}

/** Mean K/V bytes of the timed steps: step t reads every stream at its initial length + t. */
function meanTimedBytes(s: ServeShape, lengths: readonly number[], dtype: DecodeKvDtype): number {
  const middle = s.warmupSteps + (s.steps - 1) / 2;
  return stepBytes(dtype, lengths.map((l) => l + middle), s.kvHeads, s.headDim);
}

function fromTimes(s: ServeShape, lengths: readonly number[], dtype: DecodeKvDtype, times: readonly number[]) {
  const medianMs = median(times);
  return {
    medianMs, minMs: Math.min(...times), maxMs: Math.max(...times),
    tokensPerSecond: s.streams / (medianMs / 1000), kvGBps: meanTimedBytes(s, lengths, dtype) / (medianMs / 1000) / 1e9,
  };
}

function sideResult(s: ServeShape, lengths: readonly number[], side: TimedSide, times: readonly number[], maxAbsDiff: number): SideResult {
  return { impl: side.impl, how: side.how, dtype: side.dtype, ...fromTimes(s, lengths, side.dtype, times), maxAbsDiff };
}

/** The in-place runs' GroupQueryAttention node times; the output is the in-place side's. */
function kernelResult(s: ServeShape, lengths: readonly number[], inPlace: SideResult, kernelMs: readonly number[]): SideResult {
  return { ...inPlace, how: 'GQA, in place (kernel, profiler)', ...fromTimes(s, lengths, 'float32', kernelMs) };
}
