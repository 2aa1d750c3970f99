/**
 * One row of the comparison, meant to run alone in its own process: attnpool and onnxruntime on the
 * same seeded inputs and thread count, then the difference between their outputs.
 *
 * attnpool's warm-up runs come first, alone, so the process peak RSS read after them is attnpool's
 * (every call of a row does the same work, so a warm-up call reaches a call's peak); the reading at
 * the end is the peak of both, which is ORT's whenever ORT needs more (its causal path does, by
 * gigabytes). The timed runs then alternate, attnpool then ORT, call by call: this VM's speed drifts
 * by up to 2× over tens of seconds, and two blocks of runs one after the other measured one engine
 * in a slow spell and the other in a quick one (attnpool's 1-thread S=2048 median came out at 350 ms
 * in one process and 610 ms in the next, with ORT's within 10%).
 */
import { freemem } from 'node:os';
import { AttentionPool, tensor, type KernelChoice, type Tensor } from '../../src/index.js';
import { headsToTokens, tokensToHeads, type HeadLayout } from '../../cli/ort/layout.js';
import type { LayerWeights } from '../../cli/ort/onnx-models.js';
import { loadOrtPeer, ORT_PEER_MISSING, type OrtPeer, type OrtPeerConfig } from '../../cli/ort/ort-peer.js';
import { seededRandom, uniformArray } from './random.js';
import { BENCH_EMBED, BENCH_SHAPE, ortPeakBytesEstimate, type BenchRow } from './rows.js';
import { timeInterleaved } from '../support/interleaved.js';
import { maxAbsDifference, peakRssGiB, timeRuns } from './timing.js';

export interface RowSettings {
  readonly threads: number;
  readonly warmup: number;
  readonly runs: number;
  readonly kernel: KernelChoice;
}

export interface EngineTimes {
  readonly times: number[];
  /** Process peak RSS right after this engine's runs (GiB). */
  readonly peakRssGiB: number;
}

export interface RowResult {
  readonly row: string;
  readonly threads: number;
  readonly attnpool: EngineTimes;
  /** Why ORT did not run (not installed, or not enough memory), or its times. */
  readonly ort: EngineTimes | { readonly skipped: string };
  /** Max |attnpool − ORT| over the output, or null when ORT did not run. */
  readonly maxAbsError: number | null;
}

/** Self-attention inputs in ORT's [B, S, E] layout (q = k = v = x for layer rows). */
interface RowInputs {
  readonly query: Float32Array;
  readonly key: Float32Array;
  readonly value: Float32Array;
  readonly weights: Required<LayerWeights>;
}

export async function runRow(row: BenchRow, settings: RowSettings): Promise<RowResult> {
  if (settings.warmup < 1) throw new RangeError(`runRow: warmup must be at least 1 (attnpool's peak RSS is read after it), got ${settings.warmup}`);
  const inputs = makeInputs(row);
  const attnpool = openAttnpool(row, settings, inputs);
  try {
    for (let i = 0; i < settings.warmup; i++) await attnpool.call();
    const attnpoolPeak = peakRssGiB();
    const peer = await loadPeerFor(row, settings, inputs);
    if ('skipped' in peer) {
      const alone = await timeRuns(attnpool.call, 0, settings.runs);
      return { row: row.id, threads: settings.threads, attnpool: { times: alone.times, peakRssGiB: attnpoolPeak }, ort: peer, maxAbsError: null };
    }
    try {
      const { query, key, value } = inputs;
      const feed = { query, key, value, batch: BENCH_SHAPE.batch, querySeq: row.seq };
      for (let i = 0; i < settings.warmup; i++) await peer.run(feed);
      let ours: Float32Array | undefined, theirs: Float32Array | undefined;
      const [attnpoolTimes, ortTimes] = await timeInterleaved([
        async () => { ours = await attnpool.call(); },
        async () => { theirs = await peer.run(feed); },
      ], 0, settings.runs);
      return {
        row: row.id, threads: settings.threads,
        attnpool: { times: attnpoolTimes, peakRssGiB: attnpoolPeak },
        ort: { times: ortTimes, peakRssGiB: peakRssGiB() },
        maxAbsError: maxAbsDifference(attnpool.toTokens(ours!), theirs!),
      };
    } finally {
      await peer.release();
    }
  } finally {
    await attnpool.close();
  }
}

/** The ORT session for this row, unless ORT is missing or would not fit in free memory. */
async function loadPeerFor(
  row: BenchRow,
  settings: RowSettings,
  inputs: RowInputs,
): Promise<OrtPeer | { skipped: string }> {
  const needed = ortPeakBytesEstimate(row);
  const free = freemem();
  if (needed > free) {
    const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);
    return { skipped: `ORT skipped: needs ~${gib(needed)} GiB, ${gib(free)} GiB free` };
  }
  const shape = { numHeads: BENCH_SHAPE.heads, embedDim: BENCH_EMBED, causal: row.causal, threads: settings.threads };
  const config: OrtPeerConfig = row.layer
    ? { model: 'layer', ...shape, weights: inputs.weights }
    : { model: 'attention', ...shape };
  const peer = await loadOrtPeer(config);
  return peer ?? { skipped: ORT_PEER_MISSING };
}

function makeInputs(row: BenchRow): RowInputs {
  const next = seededRandom(row.seq);
  const n = BENCH_SHAPE.batch * row.seq * BENCH_EMBED;
  const query = uniformArray(n, next);
  // PyTorch's nn.MultiheadAttention initialisation scale keeps projected values O(1).
  const bound = 1 / Math.sqrt(BENCH_EMBED);
  const weights: Required<LayerWeights> = {
    inProjWeight: uniformArray(3 * BENCH_EMBED * BENCH_EMBED, next, bound),
    inProjBias: uniformArray(3 * BENCH_EMBED, next, bound),
    outProjWeight: uniformArray(BENCH_EMBED * BENCH_EMBED, next, bound),
    outProjBias: uniformArray(BENCH_EMBED, next, bound),
  };
  if (row.layer) return { query, key: query, value: query, weights };
  return { query, key: uniformArray(n, next), value: uniformArray(n, next), weights };
}

interface AttnpoolSide {
  /** One call; returns the output as attnpool lays it out. */
  call(): Promise<Float32Array>;
  /** An output of call() in ORT's [B, S, E] layout (untimed). */
  toTokens(out: Float32Array): Float32Array;
  close(): Promise<void>;
}

/** attnpool on the row's inputs. */
function openAttnpool(row: BenchRow, settings: RowSettings, inputs: RowInputs): AttnpoolSide {
  const pool = new AttentionPool({ threads: settings.threads, kernel: settings.kernel });
  const close = () => pool.close();
  if (row.layer) {
    const e = BENCH_EMBED;
    const x = tensor([BENCH_SHAPE.batch, row.seq, e], inputs.query);
    const w = inputs.weights;
    const weights = {
      inProjWeight: tensor([3 * e, e], w.inProjWeight),
      inProjBias: tensor([3 * e], w.inProjBias),
      outProjWeight: tensor([e, e], w.outProjWeight),
      outProjBias: tensor([e], w.outProjBias),
    };
    const options = { numHeads: BENCH_SHAPE.heads, causal: row.causal };
    const call = async () => (await pool.multiHeadAttention(x, x, x, weights, options)).output.data as Float32Array;
    return { call, toTokens: (out) => out, close };
  }
  const layout: HeadLayout = { ...BENCH_SHAPE, seq: row.seq };
  const [q, k, v] = [inputs.query, inputs.key, inputs.value].map((tokens) => splitHeads(tokens, layout));
  const call = async () => (await pool.attention(q, k, v, { causal: row.causal })).data as Float32Array;
  return { call, toTokens: (out) => headsToTokens(out, layout), close };
}

function splitHeads(tokens: Float32Array, layout: HeadLayout): Tensor {
  const t = tensor([layout.batch, layout.heads, layout.seq, layout.headDim]);
  tokensToHeads(tokens, layout, t.data);
  return t;
}
