// attnpool run: scaled dot-product attention on the user's own .npy files.

import type { Argv, CommandModule } from 'yargs';
import { alibiSlopes, zeros, type CausalOption, type Tensor } from '../../src/index.js';
import { blameFile } from '../blame-file.js';
import { commandHandler } from '../command-handler.js';
import { checkDistinctPaths } from '../distinct-paths.js';
import { ms, threadCount } from '../format.js';
import { readFloatTensor, readMaskTensor, type FloatTensor } from '../npy/read.js';
import { describeOutput, writeNpyFilesAtomically, type NpyOutput } from '../npy/write.js';
import { causalValue, finiteNumber, pathOption, positiveInt } from '../options.js';
import { kernelOption, threadsOption, wasmBuildOption, withPool, type KernelChoice, type WasmBuildChoice } from '../pool-options.js';

interface RunArgs {
  q: string;
  k: string;
  v: string;
  mask?: string;
  bias?: string;
  /** Absent: false. */
  causal?: CausalOption;
  window?: number;
  scale?: number;
  softcap?: number;
  /** 'auto' (the paper's slopes for H heads) or a .npy file of H slopes. */
  alibi?: string;
  sinks?: string;
  out: string;
  lse?: string;
  threads: number;
  kernel: KernelChoice;
  wasmBuild: WasmBuildChoice;
}

function builder(yargs: Argv): Argv<RunArgs> {
  return yargs
    .usage('$0 run --q q.npy --k k.npy --v v.npy --out out.npy [options]\n\n' +
      'softmax(q·kᵀ·scale + bias, masked)·v over pre-split heads, from and to numpy .npy files.')
    .options({
      q: { ...pathOption('queries [B, H, Sq, D], float32 or float64'), demandOption: true },
      k: { ...pathOption('keys [B, Hkv, Sk, D]; Hkv divides H (grouped-query attention)'), demandOption: true },
      v: { ...pathOption('values [B, Hkv, Sk, Dv]'), demandOption: true },
      mask: pathOption('bool/uint8 mask broadcastable to [B, H, Sq, Sk]; 1 = may attend'),
      bias: pathOption('float bias broadcastable to [B, H, Sq, Sk], added to the scaled scores'),
      causal: {
        // No default: yargs would hand a bare --causal the default instead of ''.
        type: 'string', coerce: causalValue('causal'),
        describe: "bottom-right (or true, or the bare flag): query i sees keys j <= i + (Sk - Sq); top-left: j <= i (torch's is_causal); false",
      },
      window: { requiresArg: true, describe: "with --causal: each query sees its own position and the window - 1 keys before it", coerce: positiveInt('window') },
      scale: { requiresArg: true, describe: 'score scale [default: 1/sqrt(D)]', coerce: finiteNumber('scale') },
      softcap: { requiresArg: true, describe: 'logit softcap c > 0: scores become c·tanh(s / c), before bias and ALiBi', coerce: finiteNumber('softcap') },
      alibi: { type: 'string', requiresArg: true, describe: "ALiBi: 'auto' for the paper's slopes of H heads, or a .npy file of H float slopes" },
      sinks: pathOption('float [H]: one attention-sink logit per query head in each row\'s softmax denominator'),
      out: { ...pathOption('output file [B, H, Sq, Dv], same dtype as q'), demandOption: true },
      lse: pathOption('also write the log-sum-exp of each row [B, H, Sq]'),
      threads: threadsOption,
      kernel: kernelOption,
      'wasm-build': wasmBuildOption,
    })
    .check((args) => {
      checkDistinctPaths({ '--out': args.out, '--lse': args.lse },
        { '--q': args.q, '--k': args.k, '--v': args.v, '--mask': args.mask, '--bias': args.bias, '--alibi': alibiFile(args.alibi), '--sinks': args.sinks });
      return true;
    })
    .example('$0 run --q q.npy --k k.npy --v v.npy --out out.npy', 'plain attention')
    .example('$0 run --q q.npy --k k.npy --v v.npy --mask m.npy --causal --out out.npy --lse lse.npy',
      'masked, causal, with log-sum-exp')
    .example('$0 run --q q.npy --k k.npy --v v.npy --causal top-left --softcap 50 --alibi auto --sinks s.npy --out out.npy',
      'the attention variants') as unknown as Argv<RunArgs>;
}

/** The slopes file of --alibi, or undefined for 'auto' and no --alibi. */
function alibiFile(alibi: string | undefined): string | undefined {
  return alibi === undefined || alibi === 'auto' ? undefined : alibi;
}

async function run(args: RunArgs): Promise<void> {
  const { inputs, out, elapsed, threads } = await withPool(args.threads, args, async (pool) => {
    const inputs = await readInputs(args);
    const { q, k, v, mask, bias, lse, slopes, sinks } = inputs;
    const started = performance.now();
    const options = { causal: args.causal, window: args.window, mask, bias, scale: args.scale, softcap: args.softcap, alibiSlopes: slopes, sinks, lse };
    const out = await pool.attention(q, k, v, options).catch((err: unknown) => {
      throw blameFile(err, { q: args.q, k: args.k, v: args.v, mask: args.mask, bias: args.bias, lse: args.lse, alibiSlopes: alibiFile(args.alibi), sinks: args.sinks });
    });
    return { inputs, out, elapsed: performance.now() - started, threads: pool.threads };
  });

  const { q, k, v, mask, bias, lse } = inputs;
  const outputs: NpyOutput[] = [{ file: args.out, data: out.data, shape: out.shape }];
  if (args.lse !== undefined && lse !== undefined) outputs.push({ file: args.lse, data: lse.data, shape: lse.shape });
  await writeNpyFilesAtomically(outputs);

  const [B, H, Sq, D] = q.shape;
  const [, Hkv, Sk] = k.shape;
  console.log(`attention B=${B} H=${H} Hkv=${Hkv} Sq=${Sq} Sk=${Sk} D=${D} Dv=${v.shape[3]}` +
    `${!args.causal ? '' : args.causal === 'top-left' ? ' causal top-left' : ' causal'}${args.window === undefined ? '' : ` window ${args.window}`}${mask ? ' masked' : ''}${bias ? ' biased' : ''}` +
    `${args.softcap === undefined ? '' : ` softcap ${args.softcap}`}${args.alibi === undefined ? '' : ' alibi'}${inputs.sinks ? ' sinks' : ''}` +
    `: ${ms(elapsed)} ms on ${threadCount(threads)}`);
  for (const o of outputs) console.log(describeOutput(o));
}

interface AttentionInputs {
  q: FloatTensor;
  k: FloatTensor;
  v: FloatTensor;
  mask?: Tensor<Uint8Array>;
  bias?: FloatTensor;
  /** Allocated for the library to fill when --lse asks for it. */
  lse?: FloatTensor;
  slopes?: ArrayLike<number> | FloatTensor;
  sinks?: FloatTensor;
}

async function readInputs(args: RunArgs): Promise<AttentionInputs> {
  const slopesFile = alibiFile(args.alibi);
  const [q, k, v, mask, bias, slopesTensor, sinks] = await Promise.all([
    readFloatTensor(args.q), readFloatTensor(args.k), readFloatTensor(args.v),
    args.mask === undefined ? undefined : readMaskTensor(args.mask),
    args.bias === undefined ? undefined : readFloatTensor(args.bias),
    slopesFile === undefined ? undefined : readFloatTensor(slopesFile),
    args.sinks === undefined ? undefined : readFloatTensor(args.sinks),
  ]);
  // 'auto': the paper's slopes for q's head count (when q is not 4-D the library reports that first).
  const slopes = args.alibi === 'auto' ? (q.shape.length === 4 && q.shape[1]! >= 1 ? alibiSlopes(q.shape[1]!) : undefined) : slopesTensor;
  // The lse tensor needs q's [B, H, Sq]; when q is not 4-D the library reports that first.
  const lse = args.lse !== undefined && q.shape.length === 4
    ? zeros(q.shape.slice(0, 3), q.data instanceof Float64Array ? 'float64' : 'float32')
    : undefined;
  return { q, k, v, mask, bias, lse, slopes, sinks };
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run',
  describe: 'attention on your own .npy tensors (q, k, v, optional mask/bias, softcap, ALiBi, sinks)',
  builder,
  handler: commandHandler('run', run),
};
