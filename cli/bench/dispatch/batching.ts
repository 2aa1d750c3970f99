// The batching part of the dispatch benchmark: one decode step for each of `streams` sequences, each
// with its own KvCache (lengths spread from a quarter of --kv-length to all of it), made three ways —
// awaited one by one, all at once with Promise.all (which the pool coalesces into one phase:
// src/pool/dispatch.ts), and as one pool.attentionBatch — alternating the three round by round so
// that a slow spell of the machine lands on each alike.

import { median } from '../../format.js';
import { tensor, type AttentionPool, type KvCache, type Tensor } from '../../../src/index.js';
import { Random } from '../../random.js';
import type { DispatchShape } from './shapes.js';
import { threadCpuMicros } from './thread-cpu.js';

export const BATCHING_WAYS = ['one by one', 'Promise.all', 'attentionBatch'] as const;
export type BatchingWay = (typeof BATCHING_WAYS)[number];

export interface BatchingRun {
  readonly way: BatchingWay;
  /** Main-thread CPU over all rounds / steps (µs); null where process.threadCpuUsage is missing. */
  readonly cpuPerStepUs: number | null;
  /** Median wall time of a round: every stream's step (µs). */
  readonly wallPerRoundUs: number;
}

export interface BatchingResult {
  readonly streams: number;
  readonly rounds: number;
  readonly runs: readonly BatchingRun[];
}

interface Stream {
  readonly q: Tensor;
  readonly cache: KvCache;
}

/** `decode`: the decode shape of the benchmark (its kvHeads, headDim, heads and longest length). */
export async function measureBatching(pool: AttentionPool, decode: DispatchShape, streams: number, rounds: number, seed: number): Promise<BatchingResult> {
  const random = new Random(seed);
  const all: Stream[] = Array.from({ length: streams }, (_, i) => {
    const length = Math.max(1, Math.round(decode.keys * (0.25 + (0.75 * i) / Math.max(1, streams - 1))));
    const filled = (shape: readonly number[]) => {
      const t = tensor(shape);
      random.fill(t.data);
      return t;
    };
    const cache = pool.createKvCache({ batch: decode.batch, kvHeads: decode.kvHeads, headDim: decode.headDim, capacity: length, dtype: decode.kvDtype ?? 'float32' });
    cache.append(filled([decode.batch, decode.kvHeads, length, decode.headDim]), filled([decode.batch, decode.kvHeads, length, decode.headDim]));
    return { q: filled([decode.batch, decode.heads, 1, decode.headDim]), cache };
  });
  const step = ({ q, cache }: Stream) => pool.attention(q, cache, { causal: true });
  const ways: Record<BatchingWay, () => Promise<unknown>> = {
    'one by one': async () => {
      for (const stream of all) await step(stream);
    },
    'Promise.all': () => Promise.all(all.map(step)),
    attentionBatch: () => pool.attentionBatch(all.map(({ q, cache }) => ({ q, kv: cache, options: { causal: true } }))),
  };
  const walls = new Map<BatchingWay, number[]>(BATCHING_WAYS.map((way) => [way, []]));
  const cpu = new Map<BatchingWay, number | null>(BATCHING_WAYS.map((way) => [way, 0]));
  for (let round = -1; round < rounds; round++) { // round -1: warm-up
    for (const way of BATCHING_WAYS) {
      const cpu0 = threadCpuMicros();
      const t0 = performance.now();
      await ways[way]();
      const wall = (performance.now() - t0) * 1000;
      const cpu1 = threadCpuMicros();
      if (round < 0) continue;
      walls.get(way)!.push(wall);
      const sum = cpu.get(way)!;
      cpu.set(way, sum === null || cpu0 === null || cpu1 === null ? null : sum + cpu1 - cpu0);
    }
  }
  return {
    streams, rounds,
    runs: BATCHING_WAYS.map((way) => {
      const sum = cpu.get(way)!;
      return { way, cpuPerStepUs: sum === null ? null : sum / (rounds * streams), wallPerRoundUs: median(walls.get(way)!) };
    }),
  };
}
