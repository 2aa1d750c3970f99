// attnpool run: scaled dot-product attention on the user's own .npy files.

import type { Argv, CommandModule } from 'yargs';
import { zeros, type Tensor } from '../../src/index.js';
import { blameFile } from '../blame-file.js';
import { commandHandler } from '../command-handler.js';
import { checkDistinctPaths } from '../distinct-paths.js';
import { ms, threadCount } from '../format.js';
import { readFloatTensor, readMaskTensor, type FloatTensor } from '../npy/read.js';
import { describeOutput, writeNpyFilesAtomically, type NpyOutput } from '../npy/write.js';
import { finiteNumber, pathOption } from '../options.js';
import { kernelOption, threadsOption, wasmBuildOption, withPool, type KernelChoice, type WasmBuildChoice } from '../pool-options.js';

interface RunArgs {
  q: string;
  k: string;
  v: string;
  mask?: string;
  bias?: string;
  causal: boolean;
  scale?: number;
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
      causal: { type: 'boolean', default: false, describe: 'query i sees keys j <= i + (Sk - Sq)' },
      scale: { requiresArg: true, describe: 'score scale [default: 1/sqrt(D)]', coerce: finiteNumber('scale') },
      out: { ...pathOption('output file [B, H, Sq, Dv], same dtype as q'), demandOption: true },
      lse: pathOption('also write the log-sum-exp of each row [B, H, Sq]'),
      threads: threadsOption,
      kernel: kernelOption,
      'wasm-build': wasmBuildOption,
    })
    .check((args) => {
      checkDistinctPaths({ '--out': args.out, '--lse': args.lse },
        { '--q': args.q, '--k': args.k, '--v': args.v, '--mask': args.mask, '--bias': args.bias });
      return true;
    })
    .example('$0 run --q q.npy --k k.npy --v v.npy --out out.npy', 'plain attention')
    .example('$0 run --q q.npy --k k.npy --v v.npy --mask m.npy --causal --out out.npy --lse lse.npy',
      'masked, causal, with log-sum-exp') as unknown as Argv<RunArgs>;
}

async function run(args: RunArgs): Promise<void> {
  const { inputs, out, elapsed, threads } = await withPool(args.threads, args, async (pool) => {
    const inputs = await readInputs(args);
    const { q, k, v, mask, bias, lse } = inputs;
    const started = performance.now();
    const out = await pool.attention(q, k, v, { causal: args.causal, mask, bias, scale: args.scale, lse }).catch((err: unknown) => {
      throw blameFile(err, { q: args.q, k: args.k, v: args.v, mask: args.mask, bias: args.bias, lse: args.lse });
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
    `${args.causal ? ' causal' : ''}${mask ? ' masked' : ''}${bias ? ' biased' : ''}: ${ms(elapsed)} ms on ${threadCount(threads)}`);
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
}

async function readInputs(args: RunArgs): Promise<AttentionInputs> {
  const [q, k, v, mask, bias] = await Promise.all([
    readFloatTensor(args.q), readFloatTensor(args.k), readFloatTensor(args.v),
    args.mask === undefined ? undefined : readMaskTensor(args.mask),
    args.bias === undefined ? undefined : readFloatTensor(args.bias),
  ]);
  // The lse tensor needs q's [B, H, Sq]; when q is not 4-D the library reports that first.
  const lse = args.lse !== undefined && q.shape.length === 4
    ? zeros(q.shape.slice(0, 3), q.data instanceof Float64Array ? 'float64' : 'float32')
    : undefined;
  return { q, k, v, mask, bias, lse };
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run',
  describe: 'attention on your own .npy tensors (q, k, v, optional mask/bias)',
  builder,
  handler: commandHandler('run', run),
};
