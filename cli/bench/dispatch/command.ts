// `attnpool bench --mode dispatch` (and bench/dispatch.bench.ts): its own options and defaults, the
// check that its tensors fit, and the run from settings to printed output.

import { totalmem } from 'node:os';
import { UsageError } from '../../errors.js';
import { durationMs, nameList, positiveInt } from '../../options.js';
import { progressBar } from '../../progress.js';
import { SERVE_DEFAULTS } from '../serve/command.js';
import type { KernelArgs } from '../../pool-options.js';
import { dispatchDocument, formatDispatch } from './report.js';
import { dispatchTicks, KERNEL_COPIES, runDispatchBench, type DispatchSettings } from './run.js';
import { DECODE_KV_DTYPES, decodeShape, selfShape, type DecodeKvDtype, type ShapeBase } from './shapes.js';

/** Thread counts past a 2-core machine on purpose: the per-call cost on the calling thread grows with
 *  the pool's size whatever the cores, and that growth is what the benchmark exposes. 1,000 calls after
 *  300 warm-up: the steady state of a server's loop (V8 has optimised the call path, the pool's scratch
 *  and result stock hold what the calls use); 200 after 20 read 20–40 % higher. */
export const DISPATCH_DEFAULTS = {
  threads: [1, 2, 8, 16, 32, 64], seq: [64], kvLength: 4096, repeat: 1000, warmup: 300, concurrency: 64, mixDurationMs: 2000, streams: 16, kvDtype: 'float32' as DecodeKvDtype,
} as const;

/** "float16,int8" → ['float16', 'int8'] (duplicates dropped, order kept). */
export function kvDtypeList(option: string): (value: unknown) => DecodeKvDtype[] {
  return nameList(option, DECODE_KV_DTYPES);
}

/** Options only --mode dispatch reads (no yargs defaults: other modes refuse them when given). */
export const dispatchOptions = {
  'kv-length': { requiresArg: true, describe: 'with --mode dispatch: positions in the decode step\'s KvCache',
    defaultDescription: String(DISPATCH_DEFAULTS.kvLength), coerce: positiveInt('kv-length') },
  concurrency: { requiresArg: true, describe: 'with --mode dispatch: concurrent callers in the calls-per-second run',
    defaultDescription: String(DISPATCH_DEFAULTS.concurrency), coerce: positiveInt('concurrency', 1024) },
  'kv-dtype': { requiresArg: true, describe: `with --mode dispatch: how the decode step's KvCaches store K and V (float32 appends either way); ` +
    `with --mode serve: a comma-separated list, one attnpool side each (${DECODE_KV_DTYPES.join(', ')})`,
    defaultDescription: 'float32', coerce: kvDtypeList('kv-dtype') },
  streams: { requiresArg: true, describe: 'with --mode dispatch: sequences stepped together in the batching run (one by one, Promise.all, attentionBatch); ' +
    'with --mode serve: the streams decoding together',
    defaultDescription: `${DISPATCH_DEFAULTS.streams}; --mode serve: ${SERVE_DEFAULTS.streams}`, coerce: positiveInt('streams', 4096) },
  'mix-duration': { requiresArg: true, describe: 'with --mode dispatch: length of the calls-per-second run at each thread count (2s, 500ms)',
    defaultDescription: `${DISPATCH_DEFAULTS.mixDurationMs / 1000}s`, coerce: durationMs('mix-duration') },
} as const;

export interface DispatchArgs extends ShapeBase, KernelArgs {
  readonly threads: readonly number[];
  readonly seq: readonly number[];
  readonly causal: boolean;
  readonly kvLength: number;
  readonly repeat: number;
  readonly warmup: number;
  readonly concurrency: number;
  readonly mixDurationMs: number;
  readonly streams: number;
  readonly kvDtype: DecodeKvDtype;
  readonly seed: number;
}

/** The self-attention shape at each --seq (non-causal unless --causal), then the decode step. */
export function dispatchSettings(args: DispatchArgs): DispatchSettings {
  const base: ShapeBase = { batch: args.batch, heads: args.heads, kvHeads: args.kvHeads, headDim: args.headDim };
  return {
    threads: args.threads, warmup: args.warmup, repeat: args.repeat, callers: args.concurrency, mixDurationMs: args.mixDurationMs, streams: args.streams,
    pool: { kernel: args.kernel, wasmBuild: args.wasmBuild }, seed: args.seed,
    shapes: [...args.seq.map((seq) => selfShape(base, seq, args.causal)), decodeShape(base, args.kvLength, args.kvDtype)],
  };
}

const FLOAT32_BYTES = 4;

/** The kernel-time run holds the most: per shape, q/k/v and the result (a decode step: k, v and the
 *  cache's copy of them) for the larger batch of copies. Over half the machine's memory is refused. */
export function checkDispatchFits(s: DispatchSettings): void {
  const bytes = s.shapes.reduce((sum, shape) => {
    const rows = KERNEL_COPIES[1] * shape.batch * shape.headDim * FLOAT32_BYTES;
    return sum + rows * (2 * shape.heads * shape.queries + 4 * shape.kvHeads * shape.keys);
  }, 0);
  if (bytes > totalmem() / 2) {
    throw new UsageError(`too large for --mode dispatch: its inputs need ${bytes} bytes (--batch, --heads, --kv-heads, --head-dim, --seq, ` +
      `--kv-length, ${KERNEL_COPIES[1]} copies each for the kernel time), more than half of this machine's ${totalmem()} bytes`);
  }
}

/** Runs the benchmark and prints the tables (progress on stderr), or one JSON document. */
export async function benchDispatch(settings: DispatchSettings, json: boolean): Promise<void> {
  const progress = progressBar(dispatchTicks(settings), !json);
  let result;
  try {
    result = await runDispatchBench(settings, (label) => progress.tick(label));
  } finally {
    progress.done();
  }
  console.log(json ? JSON.stringify(dispatchDocument(result, settings), null, 2) : formatDispatch(result, settings));
}
