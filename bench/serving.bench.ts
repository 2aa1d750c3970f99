// node dist/bench/serving.bench.js — many streams decoding together: the same benchmark as
// `attnpool bench --mode serve` (cli/bench/serve/), with its defaults: 32 streams B1 H8 D64 (Hkv = H),
// initial lengths spread over 1,024–4,096, 20 timed steps after 40 warm-up (V8 tiers the code up over a
// server's first steps) at os.availableParallelism() threads, a KvCache per stream and one paged store for all (--store cache,paged); a step is one decode
// call per stream (one attentionBatch) then one append each; every side's
// first step checked against a float64 reference; the machine's streaming-read bandwidth in the header.
// With --vs ort, onnxruntime's GroupQueryAttention steps in turn with attnpool over the same streams.
//
// Options: --streams N  --heads H  --kv-heads H  --head-dim D  --min-len N  --max-len N  --steps N  --warmup N
//          --threads 1,2  --kv-dtype float32,float16,int8  --store cache,paged  --no-attention-batch  --no-bandwidth  --vs ort
//          --kernel auto|wasm|js  --wasm-build auto|simd|relaxed-simd  --seed N  --json

import { parseArgs } from 'node:util';
import { kvDtypeList } from '../cli/bench/dispatch/command.js';
import { storeList } from '../cli/bench/serve/backends.js';
import { benchServe, checkServeFits, SERVE_DEFAULTS } from '../cli/bench/serve/command.js';
import { nonNegativeInt, positiveInt, positiveIntList } from '../cli/options.js';
import { loadOrtRuntime, ORT_PEER_MISSING } from '../cli/ort/ort-peer.js';
import type { KernelChoice, WasmBuildChoice } from '../src/index.js';

const d = SERVE_DEFAULTS;
const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: String(d.streams) },
    heads: { type: 'string', default: '8' },
    'kv-heads': { type: 'string' },
    'head-dim': { type: 'string', default: '64' },
    'min-len': { type: 'string', default: String(d.minLength) },
    'max-len': { type: 'string', default: String(d.maxLength) },
    steps: { type: 'string', default: String(d.steps) },
    warmup: { type: 'string', default: String(d.warmup) },
    threads: { type: 'string', default: d.threads.join(',') },
    'kv-dtype': { type: 'string', default: d.kvDtypes.join(',') },
    store: { type: 'string', default: d.stores.join(',') },
    'no-attention-batch': { type: 'boolean', default: false },
    'no-bandwidth': { type: 'boolean', default: false },
    vs: { type: 'string' },
    kernel: { type: 'string', default: 'auto' },
    'wasm-build': { type: 'string', default: 'auto' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
if (values.vs !== undefined && values.vs !== 'ort') throw new Error(`--vs must be ort, got ${JSON.stringify(values.vs)}`);

const heads = positiveInt('heads')(values.heads);
const settings = {
  streams: positiveInt('streams')(values.streams), heads, kvHeads: values['kv-heads'] === undefined ? heads : positiveInt('kv-heads')(values['kv-heads']),
  headDim: positiveInt('head-dim')(values['head-dim']), minLength: positiveInt('min-len')(values['min-len']), maxLength: positiveInt('max-len')(values['max-len']),
  steps: positiveInt('steps')(values.steps), warmupSteps: nonNegativeInt('warmup')(values.warmup), seed: nonNegativeInt('seed')(values.seed),
  threads: positiveIntList('threads')(values.threads), dtypes: kvDtypeList('kv-dtype')(values['kv-dtype']), stores: storeList('store')(values.store),
  batched: !values['no-attention-batch'], bandwidth: !values['no-bandwidth'],
  pool: { kernel: values.kernel as KernelChoice, wasmBuild: values['wasm-build'] as WasmBuildChoice },
};
if (settings.heads % settings.kvHeads !== 0) throw new Error(`--kv-heads (${settings.kvHeads}) must divide --heads (${settings.heads})`);
checkServeFits(settings, values.vs === 'ort');
const ort = values.vs === 'ort' ? await loadOrtRuntime() : null;
if (values.vs === 'ort' && ort === null) throw new Error(ORT_PEER_MISSING);
await benchServe(settings, ort, values.json);
