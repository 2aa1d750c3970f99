// attnpool bench: how attention scales with threads on this machine, on built-in random data.

import { availableParallelism, cpus } from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { measure, type Measurement } from '../bench/measure.js';
import { openOrtSide, type OrtSide } from '../bench/ort-side.js';
import { loadOrtRuntime, ORT_PEER_MISSING, type OrtRuntime } from '../ort/ort-peer.js';
import { formatConfig, withSpeedups, type ConfigResult, type RunResult } from '../bench/report.js';
import { checkBenchFits } from '../bench/workload-size.js';
import { makeWorkload, runWorkload, type BenchMode, type BenchShape, type Workload } from '../bench/workload.js';
import { bitIdentical, maxAbsDiff } from '../bitwise.js';
import { commandHandler } from '../command-handler.js';
import { threadCount } from '../format.js';
import { CliFailure, UsageError } from '../errors.js';
import { defaultThreadCounts, nonNegativeInt, positiveInt, positiveIntList } from '../options.js';
import { kernelOption, openPool, wasmBuildOption, type KernelChoice, type WasmBuildChoice } from '../pool-options.js';
import { progressBar } from '../progress.js';

interface BenchArgs {
  threads: number[];
  seq: number[];
  heads: number;
  kvHeads?: number;
  headDim: number;
  batch: number;
  causal: boolean;
  mode: BenchMode;
  kernel: KernelChoice;
  wasmBuild: WasmBuildChoice;
  repeat: number;
  warmup: number;
  vs?: 'ort';
  json: boolean;
  seed: number;
}

// The default configuration is the README's first command: B=1, H=8, D=64 (a common attention benchmark shape), at a length
// where the work per call (8.6 GFLOP) dwarfs the cost of handing it to the workers, and the default
// run (1 and 2 threads, 12 calls each) stays well under a minute on 2 cores.
const DEFAULTS = { seq: 2048, heads: 8, headDim: 64, batch: 1, repeat: 10, warmup: 2 } as const;

function builder(yargs: Argv): Argv<BenchArgs> {
  return yargs
    .usage('$0 bench [options]\n\n' +
      'Times attention on random float32 data at each thread count and prints, per configuration: median and range\n' +
      'of the call time, GFLOP/s (4·B·H·S²·D per call, not halved when causal; the layer adds 4·B·S·E·(E + Hkv·D)\n' +
      'for its projections, 8·B·S·E² without --kv-heads), speedup over 1 thread, parallel efficiency (speedup /\n' +
      'threads), peak RSS of the process, and whether every thread count gave bit-identical output.')
    .options({
      threads: { requiresArg: true, describe: 'comma-separated thread counts', default: defaultThreadCounts(),
        defaultDescription: `${defaultThreadCounts().join(',')}: powers of two up to the core count, and the core count`,
        coerce: positiveIntList('threads') },
      seq: { requiresArg: true, describe: 'sequence length(s), comma-separated: one table each', default: [DEFAULTS.seq],
        defaultDescription: String(DEFAULTS.seq), coerce: positiveIntList('seq') },
      heads: { requiresArg: true, describe: 'query heads H', default: DEFAULTS.heads, coerce: positiveInt('heads') },
      'kv-heads': { requiresArg: true, describe: 'key/value heads (grouped-query attention; must divide --heads) [default: --heads]', coerce: positiveInt('kv-heads') },
      'head-dim': { requiresArg: true, describe: 'head dimension D', default: DEFAULTS.headDim, coerce: positiveInt('head-dim') },
      batch: { requiresArg: true, describe: 'batch size B', default: DEFAULTS.batch, coerce: positiveInt('batch') },
      causal: { type: 'boolean', default: false, describe: 'causal mask' },
      mode: { choices: ['attention', 'mha'] as const, default: 'attention' as BenchMode,
        describe: 'attention core on pre-split heads, or the whole layer with projections (E = heads·head-dim)' },
      kernel: kernelOption,
      'wasm-build': wasmBuildOption,
      repeat: { requiresArg: true, describe: 'timed calls per thread count', default: DEFAULTS.repeat, coerce: positiveInt('repeat') },
      warmup: { requiresArg: true, describe: 'untimed calls first', default: DEFAULTS.warmup, coerce: nonNegativeInt('warmup') },
      vs: { choices: ['ort'] as const, describe: 'also time onnxruntime-node on the same inputs (needs onnxruntime-node and onnx-proto installed)' },
      json: { type: 'boolean', default: false, describe: 'print one JSON document instead of tables (no progress bar)' },
      seed: { requiresArg: true, describe: 'seed of the random inputs', default: 1, coerce: nonNegativeInt('seed') },
    })
    .check((args) => {
      const kvHeads = args['kv-heads'] ?? args.heads;
      if (args.heads % kvHeads !== 0) throw new UsageError(`--kv-heads (${kvHeads}) must divide --heads (${args.heads})`);
      checkBenchFits({ mode: args.mode, batch: args.batch, heads: args.heads, kvHeads, seq: Math.max(...args.seq),
        headDim: args['head-dim'], causal: args.causal });
      return true;
    })
    .example('$0 bench', 'the default: S=2048, H=8, D=64 on 1 and 2 threads (under a minute on 2 cores)')
    .example('$0 bench --threads 1,2,4 --seq 1024,4096 --causal', 'causal attention at two lengths')
    .example('$0 bench --mode mha --seq 1024 --vs ort', 'the whole layer, next to onnxruntime-node')
    .example('$0 bench --mode mha --heads 8 --kv-heads 2', 'a grouped-query layer (onnxruntime has none to compare)')
    .example('$0 bench --seq 256 --repeat 3 --json > bench.json', 'machine-readable results') as unknown as Argv<BenchArgs>;
}

async function bench(args: BenchArgs): Promise<void> {
  // Before anything is measured: a missing onnxruntime must not cost the user a whole attnpool run.
  const ort = args.vs === 'ort' ? await loadOrtRuntime() : null;
  if (args.vs === 'ort' && ort === null) throw new CliFailure(ORT_PEER_MISSING);
  const shapes: BenchShape[] = args.seq.map((seq) => ({
    mode: args.mode, batch: args.batch, heads: args.heads, kvHeads: args.kvHeads ?? args.heads,
    seq, headDim: args.headDim, causal: args.causal,
  }));
  const callsPerRun = args.warmup + args.repeat;
  const progress = progressBar(shapes.length * args.threads.length * callsPerRun * (args.vs ? 2 : 1), !args.json);
  const results: ConfigResult[] = [];
  try {
    for (const shape of shapes) {
      const label = `S=${shape.seq}`;
      results.push(await benchConfig(makeWorkload(shape, args.seed), args, ort, (impl, threads) =>
        () => progress.tick(`${label} ${impl} ${threadCount(threads)}`)));
      if (!args.json) {
        progress.done();
        console.log(`${formatConfig(results.at(-1)!, args)}\n`);
      }
    }
  } finally {
    progress.done();
  }
  if (args.json) console.log(JSON.stringify(benchDocument(args, results), null, 2));
  const differing = results.flatMap((r) => r.runs.filter((run) => run.bitIdentical === false).map((run) => `S=${r.shape.seq} threads=${run.threads}`));
  if (differing.length > 0) {
    throw new CliFailure(`attnpool's output differed between thread counts (${differing.join(', ')}); it must be bit-identical`);
  }
}

type TickFor = (impl: string, threads: number) => () => void;

/** `ort`: the loaded onnxruntime when the run compares against it (--vs ort), else null. */
async function benchConfig(work: Workload, args: BenchArgs, ort: OrtRuntime | null, tickFor: TickFor): Promise<ConfigResult> {
  const settings = { warmup: args.warmup, repeat: args.repeat };
  const runs: Omit<RunResult, 'speedup' | 'efficiency'>[] = [];
  const notes: string[] = [];
  let reference: Float32Array | undefined;
  let kernel = args.kernel as string;
  let wasmVariant: string | null = null;
  let ortRuntime = ort; // null from the first configuration ORT cannot run
  for (const threads of args.threads) {
    const open = async () => {
      const pool = openPool(threads, args);
      kernel = pool.kernel; // 'auto' resolved
      wasmVariant = pool.wasmVariant;
      return pool;
    };
    const mine = await measure(open, (pool) => runWorkload(pool, work),
      (pool) => pool.close(), { ...settings, onCall: tickFor('attnpool', threads) });
    reference ??= mine.output;
    runs.push({ impl: 'attnpool', threads, ...timing(mine, work.flops), bitIdentical: bitIdentical(mine.output, reference) });

    if (ortRuntime === null) continue;
    const side = await openOrtSide(ortRuntime, work, threads);
    if (typeof side === 'string') {
      notes.push(side);
      ortRuntime = null;
      continue;
    }
    const theirs = await measure(async () => side, (s: OrtSide) => s.run(), (s) => s.release(),
      { ...settings, onCall: tickFor('onnxruntime', threads) });
    runs.push({ impl: 'onnxruntime', threads, ...timing(theirs, work.flops), maxAbsDiff: maxAbsDiff(side.toOrtLayout(mine.output), theirs.output) });
  }
  return { shape: work.shape, kernel, wasmVariant, gflopPerCall: work.flops / 1e9, runs: withSpeedups(runs), notes };
}

function timing(m: Measurement, flops: number) {
  return { medianMs: m.medianMs, minMs: m.minMs, maxMs: m.maxMs, gflops: flops / 1e9 / (m.medianMs / 1000), peakRssBytes: m.peakRssBytes };
}

function benchDocument(args: BenchArgs, configurations: ConfigResult[]) {
  return {
    command: 'bench',
    machine: { cpu: cpus()[0]?.model ?? 'unknown', availableParallelism: availableParallelism(), node: process.version, platform: `${process.platform} ${process.arch}` },
    settings: { threads: args.threads, kernel: args.kernel, wasmBuild: args.wasmBuild, repeat: args.repeat, warmup: args.warmup, seed: args.seed, vs: args.vs ?? null },
    configurations,
  };
}

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: 'bench',
  describe: 'measure how attention scales with threads on this machine',
  builder,
  handler: commandHandler('bench', bench),
};
