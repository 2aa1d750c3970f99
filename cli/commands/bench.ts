// attnpool bench: how attention scales with threads on this machine, on built-in random data.

import type { Argv, CommandModule } from 'yargs';
import { benchDispatch, checkDispatchFits, DISPATCH_DEFAULTS, dispatchOptions, dispatchSettings, type DispatchArgs } from '../bench/dispatch/command.js';
import type { DecodeKvDtype } from '../bench/dispatch/shapes.js';
import { benchServe, checkServeFits, SERVE_DEFAULTS, serveOptions } from '../bench/serve/command.js';
import type { ServeSettings } from '../bench/serve/run.js';
import type { StoreName } from '../bench/serve/backends.js';
import { machineInfo } from '../bench/machine.js';
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

type BenchCommandMode = BenchMode | 'dispatch' | 'serve';

/** As yargs hands them over: the options whose default depends on --mode are still undefined when not
 *  given, and the dispatch-only ones are set only when given. */
interface ParsedBenchArgs {
  threads?: number[];
  seq?: number[];
  heads: number;
  kvHeads?: number;
  headDim: number;
  batch: number;
  causal: boolean;
  mode: BenchCommandMode;
  kernel: KernelChoice;
  wasmBuild: WasmBuildChoice;
  repeat?: number;
  warmup?: number;
  vs?: 'ort';
  json: boolean;
  seed: number;
  kvLength?: number;
  concurrency?: number;
  mixDuration?: number;
  streams?: number;
  kvDtype?: DecodeKvDtype[];
  store?: StoreName[];
  minLen?: number;
  maxLen?: number;
  steps?: number;
  attentionBatch?: boolean;
  bandwidth?: boolean;
}

interface BenchArgs extends Omit<ParsedBenchArgs, 'threads' | 'seq' | 'repeat' | 'warmup' | 'mode'> {
  threads: number[];
  seq: number[];
  repeat: number;
  warmup: number;
  mode: BenchMode;
}

// The default configuration is the README's first command: B=1, H=8, D=64 (a common attention benchmark shape), at a length
// where the work per call (8.6 GFLOP) dwarfs the cost of handing it to the workers, and the default
// run (1 and 2 threads, 12 calls each) stays well under a minute on 2 cores.
const DEFAULTS = { seq: 2048, heads: 8, headDim: 64, batch: 1, repeat: 10, warmup: 2 } as const;

function builder(yargs: Argv): Argv<ParsedBenchArgs> {
  return yargs
    .usage('$0 bench [options]\n\n' +
      'Times attention on random float32 data at each thread count and prints, per configuration: median and range\n' +
      'of the call time, GFLOP/s (4·B·H·S²·D per call, not halved when causal; the layer adds 4·B·S·E·(E + Hkv·D)\n' +
      'for its projections, 8·B·S·E² without --kv-heads), speedup over 1 thread, parallel efficiency (speedup /\n' +
      'threads), peak RSS of the process, and whether every thread count gave bit-identical output.')
    .options({
      threads: { requiresArg: true, describe: 'comma-separated thread counts',
        defaultDescription: `${defaultThreadCounts().join(',')}: powers of two up to the core count, and the core count; ` +
          `--mode dispatch: ${DISPATCH_DEFAULTS.threads.join(',')}`,
        coerce: positiveIntList('threads') },
      seq: { requiresArg: true, describe: 'sequence length(s), comma-separated: one table each (--mode dispatch: one self-attention shape each)',
        defaultDescription: `${DEFAULTS.seq}; --mode dispatch: ${DISPATCH_DEFAULTS.seq.join(',')}`, coerce: positiveIntList('seq') },
      heads: { requiresArg: true, describe: 'query heads H', default: DEFAULTS.heads, coerce: positiveInt('heads') },
      'kv-heads': { requiresArg: true, describe: 'key/value heads (grouped-query attention; must divide --heads) [default: --heads]', coerce: positiveInt('kv-heads') },
      'head-dim': { requiresArg: true, describe: 'head dimension D', default: DEFAULTS.headDim, coerce: positiveInt('head-dim') },
      batch: { requiresArg: true, describe: 'batch size B', default: DEFAULTS.batch, coerce: positiveInt('batch') },
      causal: { type: 'boolean', default: false, describe: 'causal mask' },
      mode: { choices: ['attention', 'mha', 'dispatch', 'serve'] as const, default: 'attention' as BenchCommandMode,
        describe: 'attention core on pre-split heads, the whole layer with projections (E = heads·head-dim), dispatch: ' +
          "the calling thread's CPU and the wall time per small call, and calls per second of many concurrent callers, or serve: " +
          'many streams of different lengths decoding together (tokens/s, K/V GB/s), beside onnxruntime GroupQueryAttention with --vs ort' },
      kernel: kernelOption,
      'wasm-build': wasmBuildOption,
      repeat: { requiresArg: true, describe: 'timed calls per thread count (and shape)',
        defaultDescription: `${DEFAULTS.repeat}; --mode dispatch: ${DISPATCH_DEFAULTS.repeat}`, coerce: positiveInt('repeat') },
      warmup: { requiresArg: true, describe: 'untimed calls first',
        defaultDescription: `${DEFAULTS.warmup}; --mode dispatch: ${DISPATCH_DEFAULTS.warmup}; --mode serve: ${SERVE_DEFAULTS.warmup} steps`, coerce: nonNegativeInt('warmup') },
      vs: { choices: ['ort'] as const, describe: 'also time onnxruntime-node on the same inputs (needs onnxruntime-node and onnx-proto installed)' },
      json: { type: 'boolean', default: false, describe: 'print one JSON document instead of tables (no progress bar)' },
      seed: { requiresArg: true, describe: 'seed of the random inputs', default: 1, coerce: nonNegativeInt('seed') },
      ...dispatchOptions,
      ...serveOptions,
    })
    .check((parsed) => {
      const args = parsed as unknown as ParsedBenchArgs;
      const kvHeads = args.kvHeads ?? args.heads;
      if (args.heads % kvHeads !== 0) throw new UsageError(`--kv-heads (${kvHeads}) must divide --heads (${args.heads})`);
      const mode = withModeDefaults(args);
      if (mode.mode === 'dispatch') checkDispatchFits(dispatchSettings(mode.args));
      else if (mode.mode === 'serve') checkServeFits(mode.settings, mode.vsOrt);
      else checkBenchFits({ mode: mode.mode, batch: args.batch, heads: args.heads, kvHeads, seq: Math.max(...mode.args.seq), headDim: args.headDim, causal: args.causal });
      return true;
    })
    .example('$0 bench', 'the default: S=2048, H=8, D=64 on 1 and 2 threads (under a minute on 2 cores)')
    .example('$0 bench --threads 1,2,4 --seq 1024,4096 --causal', 'causal attention at two lengths')
    .example('$0 bench --mode mha --seq 1024 --vs ort', 'the whole layer, next to onnxruntime-node')
    .example('$0 bench --mode mha --heads 8 --kv-heads 2', 'a grouped-query layer (onnxruntime has none to compare)')
    .example('$0 bench --seq 256 --repeat 3 --json > bench.json', 'machine-readable results')
    .example('$0 bench --mode dispatch --threads 1,2,8,16,32,64', 'per-call cost of small calls against the thread count')
    .example('$0 bench --mode serve --streams 32 --kv-dtype float32,float16,int8 --vs ort', '32 streams decoding together, a KvCache each and one paged store, beside onnxruntime') as unknown as Argv<ParsedBenchArgs>;
}

type ModeArgs =
  | { mode: 'dispatch'; args: DispatchArgs; json: boolean }
  | { mode: 'serve'; settings: ServeSettings; vsOrt: boolean; json: boolean }
  | { mode: BenchMode; args: BenchArgs };

/** Options that only some modes read: given to another mode, they are refused rather than ignored. */
const MODE_ONLY: readonly (readonly [keyof ParsedBenchArgs, string, readonly BenchCommandMode[]])[] = [
  ['kvLength', '--kv-length', ['dispatch']], ['concurrency', '--concurrency', ['dispatch']], ['mixDuration', '--mix-duration', ['dispatch']],
  ['streams', '--streams', ['dispatch', 'serve']], ['kvDtype', '--kv-dtype', ['dispatch', 'serve']], ['store', '--store', ['serve']],
  ['minLen', '--min-len', ['serve']], ['maxLen', '--max-len', ['serve']], ['steps', '--steps', ['serve']],
  ['attentionBatch', '--attention-batch', ['serve']], ['bandwidth', '--bandwidth', ['serve']],
  ['seq', '--seq', ['attention', 'mha', 'dispatch']], ['repeat', '--repeat', ['attention', 'mha', 'dispatch']],
];

function refuseOtherModesOptions(args: ParsedBenchArgs): void {
  const given = MODE_ONLY.find(([key, , modes]) => args[key] !== undefined && !modes.includes(args.mode));
  if (given) throw new UsageError(`${given[1]} is read only with --mode ${given[2].join(' or ')}`);
}

/** --mode serve: its defaults filled in; --batch (the batch size of the other modes) and --causal do not apply. */
function serveModeArgs(args: ParsedBenchArgs): ModeArgs {
  if (args.batch !== 1) throw new UsageError(`--batch ${args.batch}: --mode serve steps streams of B = 1 each (--streams sets how many; --no-attention-batch makes their calls separate)`);
  if (args.causal) throw new UsageError('--causal: --mode serve always decodes causally (one query row at the end of each stream)');
  const d = SERVE_DEFAULTS;
  return {
    mode: 'serve', vsOrt: args.vs === 'ort', json: args.json,
    settings: {
      streams: args.streams ?? d.streams, heads: args.heads, kvHeads: args.kvHeads ?? args.heads, headDim: args.headDim,
      minLength: args.minLen ?? d.minLength, maxLength: args.maxLen ?? d.maxLength, warmupSteps: args.warmup ?? d.warmup,
      steps: args.steps ?? d.steps, seed: args.seed, threads: args.threads ?? [...d.threads], dtypes: args.kvDtype ?? [...d.kvDtypes], stores: args.store ?? [...d.stores],
      batched: args.attentionBatch ?? true, bandwidth: args.bandwidth ?? true, pool: { kernel: args.kernel, wasmBuild: args.wasmBuild },
    },
  };
}

/** Fills in the defaults of the chosen mode and refuses options that mode does not read. */
function withModeDefaults(args: ParsedBenchArgs): ModeArgs {
  refuseOtherModesOptions(args);
  if (args.mode === 'serve') return serveModeArgs(args);
  if (args.mode === 'dispatch') {
    if (args.vs !== undefined) throw new UsageError('--vs ort compares whole calls; --mode dispatch times the hand-off of small ones, and takes no --vs');
    const d = DISPATCH_DEFAULTS;
    return {
      mode: 'dispatch', json: args.json,
      args: {
        ...args, kvHeads: args.kvHeads ?? args.heads, threads: args.threads ?? [...d.threads], seq: args.seq ?? [...d.seq],
        repeat: args.repeat ?? d.repeat, warmup: args.warmup ?? d.warmup, kvLength: args.kvLength ?? d.kvLength,
        concurrency: args.concurrency ?? d.concurrency, mixDurationMs: args.mixDuration ?? d.mixDurationMs,
        streams: args.streams ?? d.streams, kvDtype: oneKvDtype(args.kvDtype) ?? d.kvDtype,
      },
    };
  }
  return {
    mode: args.mode,
    args: {
      ...args, mode: args.mode, threads: args.threads ?? defaultThreadCounts(), seq: args.seq ?? [DEFAULTS.seq],
      repeat: args.repeat ?? DEFAULTS.repeat, warmup: args.warmup ?? DEFAULTS.warmup,
    },
  };
}

function oneKvDtype(dtypes: readonly DecodeKvDtype[] | undefined): DecodeKvDtype | undefined {
  if (dtypes !== undefined && dtypes.length !== 1) throw new UsageError(`--kv-dtype: --mode dispatch takes one storage dtype, got ${dtypes.join(',')}`);
  return dtypes?.[0];
}

async function benchCommandRun(parsed: ParsedBenchArgs): Promise<void> {
  const chosen = withModeDefaults(parsed);
  if (chosen.mode === 'dispatch') return benchDispatch(dispatchSettings(chosen.args), chosen.json);
  if (chosen.mode === 'serve') {
    // Before anything is measured, as in the other modes: a missing onnxruntime must not cost a whole run.
    const ort = chosen.vsOrt ? await loadOrtRuntime() : null;
    if (chosen.vsOrt && ort === null) throw new CliFailure(ORT_PEER_MISSING);
    return benchServe(chosen.settings, ort, chosen.json);
  }
  return bench(chosen.args);
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
    machine: machineInfo(),
    settings: { threads: args.threads, kernel: args.kernel, wasmBuild: args.wasmBuild, repeat: args.repeat, warmup: args.warmup, seed: args.seed, vs: args.vs ?? null },
    configurations,
  };
}

export const benchCommand: CommandModule<object, ParsedBenchArgs> = {
  command: 'bench',
  describe: 'measure how attention scales with threads on this machine',
  builder,
  handler: commandHandler('bench', benchCommandRun),
};
