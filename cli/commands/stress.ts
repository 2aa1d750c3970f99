// attnpool stress: concurrent random calls at several pool sizes, every result checked bit for bit
// against a 1-thread pool's result of the same call.

import { totalmem } from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import type { TensorData } from '../../src/index.js';
import { commandHandler } from '../command-handler.js';
import { CliFailure } from '../errors.js';
import { formatTable, mib, ms, threadCount } from '../format.js';
import { durationMs, nonNegativeInt, positiveInt, positiveIntList } from '../options.js';
import { kernelOption, maxCallBytesOption, wasmBuildOption, withPool, type KernelChoice, type PoolArgs, type WasmBuildChoice } from '../pool-options.js';
import { progressBar } from '../progress.js';
import { Random } from '../random.js';
import { randomValidCalls, warmUpCall, type ValidCall } from '../stress/calls.js';
import { firePhase, type PhaseResult } from '../stress/fire.js';
import { buildHostileRun, honestBits, type HonestBits, type HostileRun, type HostileSettings } from '../stress/hostile/hostile-run.js';
import { referenceBits } from '../stress/reference.js';
import { formatHostile } from '../stress/hostile/report.js';

interface StressArgs {
  threads: number[];
  duration: number;
  concurrency: number;
  seed?: number;
  calls: number;
  kernel: KernelChoice;
  wasmBuild: WasmBuildChoice;
  maxCallBytes?: number;
  hostile: boolean;
  slowMs: number;
  'past-4gib': boolean;
  json: boolean;
}

/** Each lane in flight holds a call's inputs and result: beyond this many, a run measures memory
 *  pressure rather than the pool (and 1024 is already 32 lanes per thread of the largest default pool). */
const MAX_CONCURRENCY = 1024;

function builder(yargs: Argv): Argv<StressArgs> {
  return yargs
    .usage('$0 stress [options]\n\n' +
      'Fires concurrent random calls (shapes, masks, bias, causal, grouped-query, float64, whole layers; some aborted,\n' +
      'some invalid) at a pool of each size and checks every result bit for bit against a 1-thread pool. Prints per\n' +
      'pool size: calls, calls/s, p50/p99 latency, wrong results, unexpected errors, peak RSS and event-loop delay p99.\n' +
      'Exits 1 if any result was wrong or any error unexpected.')
    .options({
      threads: { requiresArg: true, describe: 'comma-separated pool sizes', default: [1, 2, 8, 32],
        defaultDescription: '1,2,8,32', coerce: positiveIntList('threads') },
      duration: { requiresArg: true, describe: 'total time, split evenly across the pool sizes (30s, 500ms, 2m)', default: 30_000,
        defaultDescription: '30s', coerce: durationMs('duration') },
      concurrency: { requiresArg: true, describe: `calls in flight at once (at most ${MAX_CONCURRENCY})`, default: 16,
        coerce: positiveInt('concurrency', MAX_CONCURRENCY) },
      seed: { requiresArg: true, describe: 'seed of the random calls [default: random, printed]', coerce: nonNegativeInt('seed') },
      calls: { requiresArg: true, describe: 'distinct valid calls to draw from', default: 32, coerce: positiveInt('calls') },
      kernel: kernelOption,
      'wasm-build': wasmBuildOption,
      'max-call-bytes': maxCallBytesOption,
      hostile: { type: 'boolean', default: false, describe: 'also fire hostile calls (oversized requests, outputs over inputs, arguments that change ' +
        'under the call, huge scales, views past 4 GiB) and probe aborts of long calls; each misbehaviour is a finding' },
      'slow-ms': { requiresArg: true, describe: 'with --hostile: a refusal, or a small call after an abort, slower than this is a finding',
        default: 1000, coerce: positiveInt('slow-ms') },
      'past-4gib': { type: 'boolean', default: true, describe: 'with --hostile: tensors at byteOffset ≥ 4 GiB of a lazily mapped buffer ' +
        '(skipped, and said so, where it cannot be allocated)' },
      json: { type: 'boolean', default: false, describe: 'print one JSON document instead of the table' },
    })
    .example('$0 stress', 'pools of 1, 2, 8 and 32 threads, 30 s in all')
    .example('$0 stress --threads 2,64 --duration 2m --concurrency 64 --seed 7', 'a longer, reproducible run')
    .example('$0 stress --hostile --threads 1,2 --duration 1m', 'the ordinary mix plus hostile calls') as unknown as Argv<StressArgs>;
}

async function stress(args: StressArgs): Promise<void> {
  const seed = args.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = new Random(seed);
  const calls = randomValidCalls(random, args.calls);
  const hostile = args.hostile ? buildHostileRun(random, hostileSettings(args)) : undefined;
  const { references, hostileBits, kernel, wasmVariant } = await referenceResults(calls, hostile, args);
  const progress = progressBar(args.threads.length, !args.json);
  const phases: (PhaseResult & { startupMs: number })[] = [];
  try {
    for (const threads of args.threads) {
      phases.push(await withPool(threads, args, async (pool) => {
        // Thread start-up is timed on its own: it is a one-off cost, not what an operator sizes for.
        const startupStarted = performance.now();
        await warmUpCall(threads).run(pool);
        const startupMs = performance.now() - startupStarted;
        const phase = await firePhase(pool, {
          calls, references, durationMs: args.duration / args.threads.length, concurrency: args.concurrency, random,
          ...(hostile && hostileBits ? { hostile: { run: hostile, bits: hostileBits } } : {}),
        });
        return { ...phase, startupMs };
      }));
      progress.tick(`${threadCount(threads)} done`);
    }
  } finally {
    progress.done();
  }

  const findings = phases.flatMap((p) => p.findings);
  if (args.json) {
    const hostileReport = hostile && { ...hostileJson(hostile.settings), requestBytes: hostile.requestBytes, skipped: hostile.skipped };
    console.log(JSON.stringify({ command: 'stress', settings: { ...pickSettings(args), seed, kernel, wasmVariant, hostile: hostileReport ?? false }, phases }, null, 2));
  } else {
    console.log(`stress: seed ${seed}, ${calls.length} distinct valid calls, concurrency ${args.concurrency}, kernel ${kernel}${wasmVariant ? ` (${wasmVariant} build)` : ''}`);
    console.log(formatPhases(phases));
    if (hostile) console.log(`\n${formatHostile(hostile, phases)}`);
  }
  for (const finding of findings) process.stderr.write(`${finding}\n`);
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const wrong = phases.reduce((n, p) => n + p.wrongResults, 0);
  const unexpected = phases.reduce((n, p) => n + p.unexpectedErrors, 0);
  const hostileFindings = phases.reduce((n, p) => n + Object.values(p.hostile?.classes ?? {}).reduce((m, c) => m + c.findings, 0), 0);
  if (wrong > 0 || unexpected > 0 || hostileFindings > 0) {
    const counts = [count(wrong, 'wrong result'), count(unexpected, 'unexpected error'), ...(hostile ? [count(hostileFindings, 'hostile finding')] : [])];
    throw new CliFailure(`${counts.slice(0, -1).join(', ')} and ${counts.at(-1)} (seed ${seed})`);
  }
}

/** The oversized requests are sized from the pool's bound; unset, it is the library's documented
 *  default (a quarter of os.totalmem()), which the pools then apply themselves. */
function hostileSettings(args: StressArgs): HostileSettings {
  return { maxCallBytes: args.maxCallBytes ?? Math.floor(totalmem() / 4), past4GiB: args['past-4gib'], slowMs: args.slowMs };
}

interface References {
  references: TensorData[][];
  hostileBits?: HonestBits;
  kernel: string;
  wasmVariant: string | null;
}

/** Every valid call (and every hostile call's honest twin) once on a 1-thread pool: the bits every
 *  other pool size must reproduce. */
async function referenceResults(calls: readonly ValidCall[], hostile: HostileRun | undefined, options: PoolArgs): Promise<References> {
  return withPool(1, options, async (pool) => {
    const references: TensorData[][] = [];
    for (const call of calls) references.push(await referenceBits(call, pool));
    const hostileBits = hostile && (await honestBits(hostile, pool));
    return { references, ...(hostileBits ? { hostileBits } : {}), kernel: pool.kernel, wasmVariant: pool.wasmVariant };
  });
}

/** JSON has no Infinity: an unbounded pool's bound is the string "Infinity". */
function hostileJson(settings: HostileSettings) {
  return { ...settings, maxCallBytes: settings.maxCallBytes === Infinity ? 'Infinity' : settings.maxCallBytes };
}

function pickSettings({ threads, duration, concurrency, calls }: StressArgs) {
  return { threads, durationMs: duration, concurrency, calls };
}

function formatPhases(phases: readonly (PhaseResult & { startupMs: number })[]): string {
  const hostile = phases.some((p) => p.hostile);
  return formatTable(
    ['threads', 'start-up ms', 'calls', 'calls/s', 'p50 ms', 'p99 ms', 'aborted', 'invalid rejected', 'wrong', 'unexpected errors', 'peak RSS', 'loop delay p99 ms',
      ...(hostile ? ['abort→free p50 ms', 'abort→free p99 ms'] : [])],
    phases.map((p) => [
      String(p.threads), ms(p.startupMs), String(p.calls), p.callsPerSecond.toFixed(0), ms(p.p50Ms), ms(p.p99Ms), String(p.aborted),
      String(p.invalidRejected), String(p.wrongResults), String(p.unexpectedErrors), mib(p.peakRssBytes), ms(p.eventLoopDelayP99Ms),
      ...(p.hostile ? [ms(p.hostile.abortToFreeP50Ms), ms(p.hostile.abortToFreeP99Ms)] : []),
    ]),
  );
}

export const stressCommand: CommandModule<object, StressArgs> = {
  command: 'stress',
  describe: 'concurrent random calls at several pool sizes, checked bit for bit',
  builder,
  handler: commandHandler('stress', stress),
};
