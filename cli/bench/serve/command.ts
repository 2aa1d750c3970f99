// `attnpool bench --mode serve` (and bench/serving.bench.ts): its own options and defaults, the check that
// its caches fit, and the run from settings to printed output — failing the command when a side's first
// step is not what the float64 reference says it must be.

import { availableParallelism, totalmem } from 'node:os';
import { CliFailure, UsageError } from '../../errors.js';
import { positiveInt } from '../../options.js';
import { progressBar } from '../../progress.js';
import type { OrtRuntime } from '../../ort/ort-peer.js';
import type { DecodeKvDtype } from '../dispatch/shapes.js';
import { storeList, type StoreName } from './backends.js';
import { bytesPerPosition } from './kv-bytes.js';
import { pagedCapacity } from './paged-backend.js';
import { formatServe, serveDocument } from './report.js';
import { runServeBench, serveTicks, type ServeResult, type ServeSettings } from './run.js';

export const SERVE_DEFAULTS = {
  // 40 warm-up steps: V8 tiers up the pool's JavaScript and wasm code over a server's first steps, which
  // are slower than its steady state — measured here (Intel Xeon, 2 threads, 32 streams H8 Hkv8, paged
  // float32): 31.6 ms a step over steps 2–9, 25.5 over 10–19, 22.9 over 20–39, 22.1 over 40–59. A
  // server runs for hours: the steady state is what it gets.
  streams: 32, minLength: 1024, maxLength: 4096, steps: 20, warmup: 40, kvDtypes: ['float32'] as DecodeKvDtype[],
  // Both: the run is there to compare a paged store with a KvCache per stream, step by step in one
  // process, so that the shared machine's slow spells land on both alike; `--store paged` alone for a
  // peak RSS of the pages only.
  stores: ['cache', 'paged'] as StoreName[],
  threads: [availableParallelism()],
} as const;

/** Options only --mode serve reads (no yargs defaults: other modes refuse them when given). */
export const serveOptions = {
  'min-len': { requiresArg: true, describe: 'with --mode serve: the shortest stream\'s initial length (lengths spread evenly up to --max-len)',
    defaultDescription: String(SERVE_DEFAULTS.minLength), coerce: positiveInt('min-len') },
  'max-len': { requiresArg: true, describe: 'with --mode serve: the longest stream\'s initial length', defaultDescription: String(SERVE_DEFAULTS.maxLength),
    coerce: positiveInt('max-len') },
  steps: { requiresArg: true, describe: 'with --mode serve: timed decode steps (each appends one position to every stream)',
    defaultDescription: String(SERVE_DEFAULTS.steps), coerce: positiveInt('steps') },
  store: { requiresArg: true, describe: `with --mode serve: how attnpool keeps the streams' K/V, a comma-separated list, one side per (store, --kv-dtype): ` +
    'cache: a KvCache per stream; paged: one pool.createPagedKvCache store for all', defaultDescription: SERVE_DEFAULTS.stores.join(','),
    coerce: storeList('store') },
  'attention-batch': { type: 'boolean', describe: 'with --mode serve: a step\'s decode calls as one pool.attentionBatch (--no-attention-batch: pool.attention calls under Promise.all)',
    defaultDescription: 'true' },
  bandwidth: { type: 'boolean', describe: 'with --mode serve: measure the machine\'s streaming-read bandwidth (wasm SIMD, 1 and 2 threads, under a second)',
    defaultDescription: 'true' },
} as const;

/** How far a first step may be from the float64 reference before the run fails. float32 storage: the
 *  kernel's float32 sums over ≤ ~4k keys (measured ≤ 1e-6 here); float16 and int8 add their storage rounding
 *  (relative 2⁻¹¹, and ≤ max|x|/254 per value), which averages out over thousands of keys (measured ~1e-4, ~1e-3). */
export const FIRST_STEP_BOUND: Record<DecodeKvDtype, number> = { float32: 1e-5, float16: 2e-3, int8: 2e-2 };

/** Throws a UsageError when the streams' caches (every dtype, and onnxruntime's padded past) need over half the machine's memory. */
export function checkServeFits(s: ServeSettings, vsOrt: boolean): void {
  if (s.minLength > s.maxLength) throw new UsageError(`--min-len (${s.minLength}) must be at most --max-len (${s.maxLength})`);
  if (vsOrt && s.headDim % 8 !== 0) throw new UsageError(`--vs ort: onnxruntime's GroupQueryAttention needs --head-dim a multiple of 8, got ${s.headDim}`);
  const longest = s.maxLength + s.warmupSteps + s.steps;
  const positions = s.streams * longest * s.kvHeads;
  // A paged store rounds every stream up to whole pages.
  const held = (store: StoreName) => (store === 'paged' ? pagedCapacity(Array<number>(s.streams).fill(longest)) * s.kvHeads : positions);
  const stored = s.stores.reduce((sum, store) => sum + held(store), 0);
  const bytes = s.dtypes.reduce((sum, dtype) => sum + stored * bytesPerPosition(dtype, s.headDim), 0) + (vsOrt ? positions * bytesPerPosition('float32', s.headDim) : 0);
  if (bytes > totalmem() / 2) {
    throw new UsageError(`too large for --mode serve: the caches need up to ${bytes} bytes (--streams ${s.streams}, --max-len ${s.maxLength}, ` +
      `--kv-heads ${s.kvHeads}, --head-dim ${s.headDim}, --kv-dtype ${s.dtypes.join(',')}, --store ${s.stores.join(',')}${vsOrt ? ', --vs ort' : ''}), more than half of this machine's ${totalmem()} bytes`);
  }
}

export async function benchServe(s: ServeSettings, ort: OrtRuntime | null, json: boolean): Promise<void> {
  const progress = progressBar(serveTicks(s), !json);
  let result: ServeResult;
  try {
    result = await runServeBench(s, ort, (label) => progress.tick(label));
  } finally {
    progress.done();
  }
  console.log(json ? JSON.stringify(serveDocument(result, s), null, 2) : formatServe(result, s));
  const wrong = result.configs.flatMap((c) => c.sides.filter((r) => !(r.maxAbsDiff <= FIRST_STEP_BOUND[r.dtype]))
    .map((r) => `${r.impl} ${r.how} ${r.dtype} at ${c.threads} threads: max |Δ| ${r.maxAbsDiff} > ${FIRST_STEP_BOUND[r.dtype]}`));
  if (wrong.length > 0) throw new CliFailure(`the first decode step differs from the float64 reference: ${wrong.join('; ')}`);
}
