// What the serving benchmark prints: a header (the streams, the machine and its streaming-read
// bandwidth), a table per thread count (one row per side), the agreement of the two implementations, the
// process's peak RSS; or (--json) one document with the same numbers.

import { formatTable, ms } from '../../format.js';
import { machineInfo } from '../machine.js';
import type { ServeConfigResult, ServeResult, ServeSettings, SideResult } from './run.js';

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
const ratio = (x: number) => `${x.toFixed(2)}×`;

export function describeServe(s: ServeSettings): string {
  const kv = s.kvHeads === s.heads ? '' : ` Hkv${s.kvHeads}`;
  const calls = s.batched ? 'one pool.attentionBatch of every stream\'s decode call' : 'every stream\'s pool.attention call under one Promise.all';
  return `serve: ${s.streams} streams (B1 each) H${s.heads}${kv} D${s.headDim}, initial lengths ${s.minLength}–${s.maxLength} ` +
    `(seed ${s.seed}); ${s.steps} timed steps after ${s.warmupSteps} warm-up; a step: ${calls}, then one append per stream`;
}

function bandwidthLine(result: ServeResult): string {
  const b = result.bandwidth;
  if (b === null) return 'streaming read: not measured (--no-bandwidth)';
  return `streaming read (wasm SIMD v128 loads over ${(b.bufferBytes / 2 ** 20).toFixed(0)} MiB): ` +
    `1 thread ${b.oneThreadGBps.toFixed(1)} GB/s, 2 threads ${b.twoThreadsGBps.toFixed(1)} GB/s`;
}

/** The bandwidth a side at `threads` threads could reach: the 1- or 2-thread read figure. */
function ceilingGBps(result: ServeResult, threads: number): number | null {
  const b = result.bandwidth;
  return b === null ? null : threads === 1 ? b.oneThreadGBps : b.twoThreadsGBps;
}

function sideLabel(r: SideResult): string {
  return r.impl === 'attnpool' ? `attnpool ${r.how} ${r.dtype}` : `onnxruntime ${r.how}`;
}

/** A paged row's speed-up over the KvCache row of its dtype in the same table; '—' for other rows. */
function vsKvCache(config: ServeConfigResult, r: SideResult): string {
  const cache = config.sides.find((other) => other.impl === 'attnpool' && other.how === 'KvCache' && other.dtype === r.dtype);
  return r.impl === 'attnpool' && r.how !== 'KvCache' && cache ? ratio(cache.medianMs / r.medianMs) : '—';
}

function formatConfig(config: ServeConfigResult, result: ServeResult): string {
  const build = config.wasmVariant ? ` (${config.wasmVariant} build)` : '';
  const ceiling = ceilingGBps(result, config.threads);
  const kernel = config.sides.find((r) => r.how.includes('kernel'));
  const table = formatTable(
    ['side', 'tokens/s', 'ms/step median', 'min–max', 'K/V GB/s', 'of read b/w', 'vs ORT kernel', 'vs KvCache', 'max |Δ| vs float64'],
    config.sides.map((r) => [
      sideLabel(r), r.tokensPerSecond.toFixed(0), ms(r.medianMs), `${ms(r.minMs)}–${ms(r.maxMs)}`, r.kvGBps.toFixed(1),
      ceiling === null ? '—' : `${((100 * r.kvGBps) / ceiling).toFixed(0)}%`,
      kernel === undefined ? '—' : ratio(kernel.medianMs / r.medianMs), vsKvCache(config, r), r.maxAbsDiff.toExponential(1),
    ]),
  );
  const agreement = config.ortVsAttnpool === null ? [] : [`onnxruntime vs attnpool float32, first step of every stream: max |Δ| ${config.ortVsAttnpool.toExponential(1)}`];
  return [`${config.threads} thread${config.threads === 1 ? '' : 's'}, kernel ${config.kernel}${build}`, table, ...agreement].join('\n');
}

export const PEAK_RSS_COVERS = 'process.resourceUsage().maxRSS after the last configuration: the peak of the whole process up to then ' +
  '(every configuration\'s caches, the pool threads and, with --vs ort, onnxruntime\'s past buffers and sessions), not one side alone';

export function formatServe(result: ServeResult, s: ServeSettings): string {
  const m = machineInfo();
  return [
    describeServe(s),
    `machine: ${m.cpu}, ${m.availableParallelism} CPUs, Node ${m.node} (shared with other work: compare rows of one run)`,
    bandwidthLine(result),
    '',
    ...result.configs.flatMap((c) => [formatConfig(c, result), '']),
    `K/V GB/s: the bytes of K and V a step's calls read (Σ over streams of length·Hkv·(D+Dv)·bytes per value, + int8 scales) / median step time` +
      (result.configs.some((c) => c.sides.some((r) => r.impl === 'onnxruntime')) ? '; onnxruntime counted as float32 (its copies of the past not counted)' : ''),
    `peak RSS ${gib(result.peakRssBytes)}: ${PEAK_RSS_COVERS}`,
  ].join('\n');
}

export function serveDocument(result: ServeResult, s: ServeSettings) {
  return {
    command: 'bench', mode: 'serve', machine: machineInfo(),
    settings: {
      streams: s.streams, heads: s.heads, kvHeads: s.kvHeads, headDim: s.headDim, minLength: s.minLength, maxLength: s.maxLength,
      steps: s.steps, warmup: s.warmupSteps, seed: s.seed, threads: s.threads, kvDtypes: s.dtypes, stores: s.stores, attentionBatch: s.batched,
      kernel: s.pool.kernel, wasmBuild: s.pool.wasmBuild,
    },
    initialLengths: result.lengths,
    bandwidth: result.bandwidth,
    configurations: result.configs,
    peakRssBytes: result.peakRssBytes,
    peakRssCovers: PEAK_RSS_COVERS,
  };
}
