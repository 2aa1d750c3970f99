// node dist/bench/dispatch.bench.js — what a small call costs the calling thread, against the thread
// count: the same benchmark as `attnpool bench --mode dispatch` (cli/bench/dispatch/), with its
// defaults: thread counts 1,2,8,16,32,64; self-attention S=64 and a decode step over a 4,096-position
// KvCache, B1 H8 D64 float32, both over the pool's inline threshold so they run on the workers; 200
// sequential calls after 20 warm-up per shape and thread count; then 64 concurrent callers for 2 s;
// then one decode step of 16 sequences, awaited one by one, with Promise.all and as one attentionBatch.
// Main-thread CPU needs process.threadCpuUsage() (Node ≥ 23.9); older Node prints a note instead.
//
// Options: --threads 1,2,8  --seq 64,128  --kv-length N  --repeat N  --warmup N  --concurrency N
//          --mix-duration 2s  --streams N  --kv-dtype float32|float16|int8  --kernel auto|wasm|js  --wasm-build auto|simd|relaxed-simd  --seed N  --json

import { parseArgs } from 'node:util';
import { benchDispatch, checkDispatchFits, DISPATCH_DEFAULTS, dispatchSettings } from '../cli/bench/dispatch/command.js';
import { durationMs, nonNegativeInt, positiveInt, positiveIntList } from '../cli/options.js';
import type { KernelChoice, WasmBuildChoice } from '../src/index.js';
import { DECODE_KV_DTYPES, type DecodeKvDtype } from '../cli/bench/dispatch/shapes.js';

function kvDtypeOf(value: string): DecodeKvDtype {
  const dtype = DECODE_KV_DTYPES.find((d) => d === value);
  if (!dtype) throw new Error(`--kv-dtype must be one of ${DECODE_KV_DTYPES.join(', ')}, got ${JSON.stringify(value)}`);
  return dtype;
}

const d = DISPATCH_DEFAULTS;
const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: d.threads.join(',') },
    seq: { type: 'string', default: d.seq.join(',') },
    'kv-length': { type: 'string', default: String(d.kvLength) },
    repeat: { type: 'string', default: String(d.repeat) },
    warmup: { type: 'string', default: String(d.warmup) },
    concurrency: { type: 'string', default: String(d.concurrency) },
    'mix-duration': { type: 'string', default: `${d.mixDurationMs}ms` },
    streams: { type: 'string', default: String(d.streams) },
    'kv-dtype': { type: 'string', default: d.kvDtype },
    kernel: { type: 'string', default: 'auto' },
    'wasm-build': { type: 'string', default: 'auto' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});

const settings = dispatchSettings({
  threads: positiveIntList('threads')(values.threads), seq: positiveIntList('seq')(values.seq), causal: false,
  batch: 1, heads: 8, kvHeads: 8, headDim: 64,
  kvLength: positiveInt('kv-length')(values['kv-length']), repeat: positiveInt('repeat')(values.repeat),
  warmup: nonNegativeInt('warmup')(values.warmup), concurrency: positiveInt('concurrency')(values.concurrency),
  mixDurationMs: durationMs('mix-duration')(values['mix-duration']), streams: positiveInt('streams')(values.streams),
  kvDtype: kvDtypeOf(values['kv-dtype']),
  kernel: values.kernel as KernelChoice, wasmBuild: values['wasm-build'] as WasmBuildChoice, seed: nonNegativeInt('seed')(values.seed),
});
checkDispatchFits(settings);
await benchDispatch(settings, values.json);
