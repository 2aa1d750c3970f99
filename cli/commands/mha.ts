// attnpool mha: a full multi-head attention layer (torch.nn.MultiheadAttention, batch_first, or
// torch's default [S, B, E] layout with --seq-first) on .npy files, with the weights read from a
// folder in PyTorch's names.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import type { FloatArray, MultiHeadAttentionWeights } from '../../src/index.js';
import { blameFile } from '../blame-file.js';
import { commandHandler } from '../command-handler.js';
import { checkDistinctPaths } from '../distinct-paths.js';
import { UsageError } from '../errors.js';
import { ms, threadCount } from '../format.js';
import { readFloatTensor, readMaskTensor } from '../npy/read.js';
import { describeOutput, writeNpyFilesAtomically, type NpyOutput } from '../npy/write.js';
import { pathOption, positiveInt } from '../options.js';
import { kernelOption, threadsOption, wasmBuildOption, withPool, type KernelChoice, type WasmBuildChoice } from '../pool-options.js';
import { checkWeightsFolder } from '../weights-folder.js';

interface MhaArgs {
  query: string;
  key?: string;
  value?: string;
  weights: string;
  numHeads: number;
  numKvHeads?: number;
  causal: boolean;
  keyPaddingMask?: string;
  out: string;
  weightsOut?: string;
  perHeadWeights: boolean;
  seqFirst: boolean;
  threads: number;
  kernel: KernelChoice;
  wasmBuild: WasmBuildChoice;
}

/** torch.nn.MultiheadAttention's parameter names, '.' replaced by '_' (out_proj.weight → out_proj_weight.npy). */
const WEIGHT_FILES = {
  inProjWeight: 'in_proj_weight.npy',
  inProjBias: 'in_proj_bias.npy',
  outProjWeight: 'out_proj_weight.npy',
  outProjBias: 'out_proj_bias.npy',
} as const;

function builder(yargs: Argv): Argv<MhaArgs> {
  return yargs
    .usage('$0 mha --query x.npy [--key k.npy --value v.npy] --weights DIR --num-heads H --out out.npy [options]\n\n' +
      'torch.nn.MultiheadAttention (batch_first=True; see --seq-first) on numpy .npy files.\n' +
      'DIR holds in_proj_weight.npy [3E, E], in_proj_bias.npy [3E], out_proj_weight.npy [E, E] and out_proj_bias.npy [E]\n' +
      '(the biases may be absent). With --num-kv-heads Hkv (grouped-query attention) the in-projection has\n' +
      'E + 2·Hkv·(E/H) rows instead of 3E: the Q rows, then the K rows and the V rows of Hkv heads each.\n' +
      'Any other .npy file in DIR fails the command (bias_k.npy, q_proj_weight.npy, ...: layer features attnpool\n' +
      'does not have); other files are ignored.\n' +
      'With --seq-first the query, key, value and output files are [S, B, E] (PyTorch\'s default batch_first=False).')
    .options({
      query: { ...pathOption('query [B, Sq, E], float32 or float64'), demandOption: true },
      key: pathOption('key [B, Sk, E] (cross-attention; give --value too) [default: the query]'),
      value: pathOption('value [B, Sk, E] [default: the query]'),
      weights: { ...pathOption('folder with the layer weights in PyTorch names'), demandOption: true },
      'num-heads': { requiresArg: true, demandOption: true, describe: 'heads; E % heads == 0', coerce: positiveInt('num-heads') },
      'num-kv-heads': { requiresArg: true, describe: 'key/value heads (grouped-query attention; must divide --num-heads) [default: --num-heads]',
        coerce: positiveInt('num-kv-heads') },
      causal: { type: 'boolean', default: false, describe: 'query i sees keys j <= i + (Sk - Sq)' },
      'key-padding-mask': pathOption('bool/uint8 [B, Sk]; 1 = padding, ignored (PyTorch convention)'),
      out: { ...pathOption('output file [B, Sq, E]'), demandOption: true },
      'weights-out': pathOption('also write the attention weights, averaged over heads [B, Sq, Sk]'),
      'per-head-weights': { type: 'boolean', default: false, describe: 'write --weights-out per head [B, H, Sq, Sk] instead' },
      'seq-first': { type: 'boolean', default: false,
        describe: 'query, key, value and output are [S, B, E] (torch batch_first=False); the mask and weights keep their shapes' },
      threads: threadsOption,
      kernel: kernelOption,
      'wasm-build': wasmBuildOption,
    })
    .check((args) => {
      if ((args.key === undefined) !== (args.value === undefined)) throw new UsageError('--key and --value go together (neither means self-attention)');
      if (args['per-head-weights'] && args['weights-out'] === undefined) throw new UsageError('--per-head-weights needs --weights-out');
      const kvHeads = args['num-kv-heads'];
      if (kvHeads !== undefined && args['num-heads'] % kvHeads !== 0) {
        throw new UsageError(`--num-kv-heads (${kvHeads}) must divide --num-heads (${args['num-heads']})`);
      }
      const weightFiles = Object.fromEntries(Object.values(WEIGHT_FILES).map((f) => [`--weights (${f})`, join(args.weights, f)]));
      checkDistinctPaths({ '--out': args.out, '--weights-out': args['weights-out'] },
        { '--query': args.query, '--key': args.key, '--value': args.value, '--key-padding-mask': args['key-padding-mask'], ...weightFiles });
      return true;
    })
    .example('$0 mha --query x.npy --weights layer/ --num-heads 8 --out y.npy', 'self-attention')
    .example('$0 mha --query x.npy --weights gqa-layer/ --num-heads 8 --num-kv-heads 2 --out y.npy', 'a grouped-query layer')
    .example('$0 mha --query x.npy --weights layer/ --num-heads 8 --seq-first --out y.npy', 'self-attention on [S, B, E] files (torch\'s default layout)')
    .example('$0 mha --query x.npy --key mem.npy --value mem.npy --weights layer/ --num-heads 8 --causal --out y.npy --weights-out w.npy',
      'causal cross-attention, also writing the head-averaged weights') as unknown as Argv<MhaArgs>;
}

/** The layer weights from DIR; the two biases may be absent (a layer built with bias=False). */
async function readWeights(dir: string): Promise<{ weights: MultiHeadAttentionWeights<FloatArray>; files: Record<string, string> }> {
  const path = (name: keyof typeof WEIGHT_FILES) => join(dir, WEIGHT_FILES[name]);
  const optional = (name: keyof typeof WEIGHT_FILES) => (existsSync(path(name)) ? readFloatTensor(path(name)) : undefined);
  const [inProjWeight, inProjBias, outProjWeight, outProjBias] = await Promise.all([
    readFloatTensor(path('inProjWeight')), optional('inProjBias'), readFloatTensor(path('outProjWeight')), optional('outProjBias'),
  ]);
  const files = Object.fromEntries(Object.keys(WEIGHT_FILES).map((name) => [`weights.${name}`, path(name as keyof typeof WEIGHT_FILES)]));
  return { weights: { inProjWeight, inProjBias, outProjWeight, outProjBias }, files };
}

async function mha(args: MhaArgs): Promise<void> {
  await checkWeightsFolder(args.weights, Object.values(WEIGHT_FILES));
  const needWeights = args.weightsOut === undefined ? false : args.perHeadWeights ? 'per-head' as const : 'average' as const;
  const { inputs, result, elapsed, threads } = await withPool(args.threads, args, async (pool) => {
    const inputs = await readInputs(args);
    const { query, key, value, keyPaddingMask, weights } = inputs;
    const started = performance.now();
    const result = await pool.multiHeadAttention(query, key, value, weights, {
      numHeads: args.numHeads, numKvHeads: args.numKvHeads, causal: args.causal, keyPaddingMask, needWeights,
      batchFirst: !args.seqFirst,
    }).catch((err: unknown) => {
      throw blameFile(err, {
        query: args.query, key: args.key ?? args.query, value: args.value ?? args.query,
        keyPaddingMask: args.keyPaddingMask, ...inputs.weightFiles,
      });
    });
    return { inputs, result, elapsed: performance.now() - started, threads: pool.threads };
  });

  const outputs: NpyOutput[] = [{ file: args.out, data: result.output.data, shape: result.output.shape }];
  if (args.weightsOut !== undefined && result.attnWeights) {
    outputs.push({ file: args.weightsOut, data: result.attnWeights.data, shape: result.attnWeights.shape });
  }
  await writeNpyFilesAtomically(outputs);

  const [batchAxis, seqAxis] = args.seqFirst ? [1, 0] : [0, 1];
  const { query, key } = inputs;
  console.log(`multi-head attention B=${query.shape[batchAxis]} Sq=${query.shape[seqAxis]} Sk=${key.shape[seqAxis]} E=${query.shape[2]} heads=${args.numHeads}` +
    `${args.numKvHeads === undefined ? '' : ` kv-heads=${args.numKvHeads}`}` +
    `${args.key === undefined ? ' self' : ' cross'}${args.causal ? ' causal' : ''}${inputs.keyPaddingMask ? ' padded' : ''}` +
    `${args.seqFirst ? ' seq-first' : ''}: ` +
    `${ms(elapsed)} ms on ${threadCount(threads)}`);
  for (const o of outputs) console.log(describeOutput(o));
}

async function readInputs(args: MhaArgs) {
  const [query, key, value, keyPaddingMask, { weights, files: weightFiles }] = await Promise.all([
    readFloatTensor(args.query),
    args.key === undefined ? undefined : readFloatTensor(args.key),
    args.value === undefined ? undefined : readFloatTensor(args.value),
    args.keyPaddingMask === undefined ? undefined : readMaskTensor(args.keyPaddingMask),
    readWeights(args.weights),
  ]);
  // Without --key and --value the layer is self-attention: the query stands in for both.
  return { query, key: key ?? query, value: value ?? query, keyPaddingMask, weights, weightFiles };
}

export const mhaCommand: CommandModule<object, MhaArgs> = {
  command: 'mha',
  describe: 'a multi-head attention layer (PyTorch weights) on .npy files',
  builder,
  handler: commandHandler('mha', mha),
};
