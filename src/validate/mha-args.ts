// Validation of pool.multiHeadAttention(query, key, value, weights, options) — torch.nn.MultiheadAttention
// with PyTorch's weight layout, batch_first=True unless options.batchFirst is false (./mha-layout.ts),
// generalised to grouped-query attention: with numKvHeads < numHeads the K and V projections have
// numKvHeads·headDim rows each instead of E.

import { rangeError, typeError } from '../errors.js';
import type { FloatArray, Tensor } from '../tensor.js';
import { checkIndexLimit, checkKeyCount } from './index-limits.js';
import { layoutDimNames, mhaLayout, seqFirstHint } from './mha-layout.js';
import {
  checkBoolean, checkDim, checkFloatTensor, checkSameDtype, checkSignal, checkUint8Tensor, readOptions,
} from './tensor-arg.js';
import { readRotarySettings, type RotaryRule, type RotarySettings } from './rotary-args.js';
import { readScoreVariants, type CausalOption, type ScoreVariants } from './variant-args.js';

const OP = 'multiHeadAttention';
const OPTION_NAMES = ['numHeads', 'numKvHeads', 'causal', 'softcap', 'alibiSlopes', 'sinks', 'keyPaddingMask', 'needWeights', 'batchFirst', 'rotary', 'signal'] as const;
const WEIGHT_NAMES = ['inProjWeight', 'inProjBias', 'outProjWeight', 'outProjBias'] as const;

export type NeedWeights = false | 'average' | 'per-head';

export interface MultiHeadAttentionWeights<A extends FloatArray = Float32Array> {
  /** [E + 2·kvDim, E] with kvDim = numKvHeads·(E / numHeads): rows [0, E) are Wq, [E, E + kvDim) Wk,
   *  [E + kvDim, E + 2·kvDim) Wv (y = x·Wᵀ + b). Without numKvHeads that is PyTorch's [3E, E]. */
  inProjWeight: Tensor<A>;
  /** [E + 2·kvDim] ([3E] without numKvHeads), in the same row order. */
  inProjBias?: Tensor<A>;
  /** [E, E] */
  outProjWeight: Tensor<A>;
  /** [E] */
  outProjBias?: Tensor<A>;
}

export interface MultiHeadAttentionOptions {
  /** E % numHeads === 0. */
  numHeads: number;
  /** Key/value heads for grouped-query attention: numHeads % numKvHeads === 0, and query head h reads
   *  key/value head floor(h / (numHeads / numKvHeads)); 1 is multi-query attention. Default numHeads
   *  (ordinary multi-head attention, PyTorch's layout). Sets the first dimension of inProjWeight. */
  numKvHeads?: number;
  /** As pool.attention's: true or 'bottom-right' (aligned to the end of the keys), or 'top-left'. */
  causal?: CausalOption;
  /** As pool.attention's options of these names, per query head (numHeads). */
  softcap?: number;
  alibiSlopes?: ArrayLike<number> | Tensor<Float32Array | Float64Array>;
  sinks?: Tensor<Float32Array | Float64Array>;
  /** [B, Sk]; 1 = padding, ignored (PyTorch's key_padding_mask convention). */
  keyPaddingMask?: Tensor<Uint8Array>;
  /** Attention probabilities: [B, Sq, Sk] (mean over heads) or [B, H, Sq, Sk], whatever batchFirst says
   *  (as torch returns them). Default false. */
  needWeights?: NeedWeights;
  /** true (default): query [B, Sq, E], key and value [B, Sk, E], output [B, Sq, E] (batch_first=True).
   *  false: PyTorch's default layout, query [Sq, B, E], key and value [Sk, B, E], output [Sq, B, E];
   *  keyPaddingMask and the attention weights keep their shapes. */
  batchFirst?: boolean;
  /** Rotary position embedding of the projected queries and keys, per head, before attention (as
   *  pool.rotary does; rotaryDim ≤ headDim). Key j is at position offset + j, query i at
   *  offset + i + (Sk − Sq) — aligned to the end like `causal`, so with Sq = Sk both are 0..S−1 plus
   *  offset. `positions` is [B, Sk]: the keys' positions; query i takes key i + Sk − Sq's (Sq ≤ Sk). */
  rotary?: RotarySettings;
  signal?: AbortSignal;
}

export interface MhaArgs extends ScoreVariants {
  readonly query: Tensor<FloatArray>;
  readonly key: Tensor<FloatArray>;
  readonly value: Tensor<FloatArray>;
  readonly inProjWeight: FloatArray;
  readonly inProjBias?: FloatArray;
  readonly outProjWeight: FloatArray;
  readonly outProjBias?: FloatArray;
  readonly B: number; readonly Sq: number; readonly Sk: number; readonly E: number;
  readonly batchFirst: boolean;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly keyPaddingMask?: Uint8Array;
  readonly needWeights: NeedWeights;
  readonly rotary?: RotaryRule;
  readonly signal?: AbortSignal;
}

export function validateMhaArgs(queryIn: unknown, keyIn: unknown, valueIn: unknown, weightsIn: unknown, optionsIn: unknown): MhaArgs {
  // The options come first: batchFirst sets which axis of query, key and value is the batch.
  if (optionsIn === null || typeof optionsIn !== 'object') throw typeError(OP, 'options', 'an object with numHeads', optionsIn);
  const options = readOptions(OP, optionsIn, OPTION_NAMES);
  const batchFirst = options.batchFirst === undefined || checkBoolean(OP, 'options.batchFirst', options.batchFirst);
  const layout = mhaLayout(batchFirst);
  const { batchAxis: b, seqAxis: s } = layout;

  const query = checkFloatTensor(OP, 'query', queryIn, layoutDimNames(layout, 'Sq'));
  const key = checkFloatTensor(OP, 'key', keyIn, layoutDimNames(layout, 'Sk'));
  const value = checkFloatTensor(OP, 'value', valueIn, layoutDimNames(layout, 'Sk'));
  checkSameDtype(OP, 'key', key.data, 'query', query.data);
  checkSameDtype(OP, 'value', value.data, 'query', query.data);
  const [B, Sq, E] = [query.shape[b], query.shape[s], query.shape[2]];
  const Sk = key.shape[s];
  if (E < 1) throw rangeError(OP, 'query.shape[2] (E)', 'at least 1', E);
  // A batch mismatch where the second axes agree is what [S, B, E] tensors (same B, Sq ≠ Sk) look like.
  checkDim(OP, `key.shape[${b}] (B)`, key.shape[b], B, `query.shape[${b}] (B)`, seqFirstHint(layout, key.shape[1] === query.shape[1]));
  checkDim(OP, 'key.shape[2] (E)', key.shape[2], E, 'query.shape[2] (E)');
  checkDim(OP, `value.shape[${b}] (B)`, value.shape[b], B, `query.shape[${b}] (B)`, seqFirstHint(layout, value.shape[1] === query.shape[1]));
  checkDim(OP, `value.shape[${s}] (Sk)`, value.shape[s], Sk, `key.shape[${s}] (Sk)`);
  checkDim(OP, 'value.shape[2] (E)', value.shape[2], E, 'query.shape[2] (E)');
  checkKeyCount(OP, `key.shape[${s}] (Sk)`, Sk);
  // The projections are GEMMs over B·Sq and B·Sk rows, whose tiles hold row indices as int32.
  checkIndexLimit(OP, `B·Sq = ${B}·${Sq} (rows of the Q projection)`, B * Sq);
  checkIndexLimit(OP, `B·Sk = ${B}·${Sk} (rows of the K and V projections)`, B * Sk);

  // The head counts come before the weights: they set inProjWeight's shape.
  const numHeads = options.numHeads;
  if (typeof numHeads !== 'number') throw typeError(OP, 'options.numHeads', 'a number', numHeads);
  if (!Number.isInteger(numHeads) || numHeads < 1 || E % numHeads !== 0) {
    throw rangeError(OP, 'options.numHeads', `a positive divisor of E = ${E}`, numHeads);
  }
  const numKvHeads = options.numKvHeads === undefined ? numHeads : options.numKvHeads;
  if (typeof numKvHeads !== 'number') throw typeError(OP, 'options.numKvHeads', 'a number', numKvHeads);
  if (!Number.isInteger(numKvHeads) || numKvHeads < 1 || numHeads % numKvHeads !== 0) {
    throw rangeError(OP, 'options.numKvHeads', `a positive divisor of options.numHeads = ${numHeads}`, numKvHeads);
  }

  if (weightsIn === null || typeof weightsIn !== 'object') throw typeError(OP, 'weights', 'an object { inProjWeight, inProjBias?, outProjWeight, outProjBias? }', weightsIn);
  const w = readFields(weightsIn as Record<string, unknown>, WEIGHT_NAMES);
  const weight = (name: typeof WEIGHT_NAMES[number], names: string[], dims: number[]) => {
    const t = checkFloatTensor(OP, `weights.${name}`, w[name], names);
    checkSameDtype(OP, `weights.${name}`, t.data, 'query', query.data);
    dims.forEach((d, i) => checkDim(OP, `weights.${name}.shape[${i}]`, t.shape[i], d, names[i]));
    return t.data;
  };
  const optionalWeight = (name: typeof WEIGHT_NAMES[number], names: string[], dims: number[]) => (w[name] === undefined ? undefined : weight(name, names, dims));
  // The in-projection's rows: E for Q, then kvDim each for K and V. The default layout keeps PyTorch's name.
  const inRows = E + 2 * numKvHeads * (E / numHeads);
  const inRowsName = numKvHeads === numHeads ? '3E' : 'E + 2·numKvHeads·headDim';
  const inProjWeight = weight('inProjWeight', [inRowsName, 'E'], [inRows, E]);
  const inProjBias = optionalWeight('inProjBias', [inRowsName], [inRows]);
  const outProjWeight = weight('outProjWeight', ['E', 'E'], [E, E]);
  const outProjBias = optionalWeight('outProjBias', ['E'], [E]);

  const variants = readScoreVariants(OP, options, numHeads, 'options.numHeads');
  let keyPaddingMask: Uint8Array | undefined;
  if (options.keyPaddingMask !== undefined) {
    const m = checkUint8Tensor(OP, 'options.keyPaddingMask', options.keyPaddingMask, ['B', 'Sk']);
    // [B, Sk] in both layouts. A mask fitting [S, B, E] tensors' B and Sk (query.shape[1], key.shape[0])
    // fails its first check; one passing that check cannot fail the second with such tensors.
    const hint = seqFirstHint(layout, m.shape[0] === query.shape[1] && m.shape[1] === key.shape[0]);
    checkDim(OP, 'options.keyPaddingMask.shape[0]', m.shape[0], B, 'B', hint);
    checkDim(OP, 'options.keyPaddingMask.shape[1]', m.shape[1], Sk, 'Sk');
    keyPaddingMask = m.data;
  }
  const needWeights = options.needWeights ?? false;
  if (needWeights !== false && needWeights !== 'average' && needWeights !== 'per-head') {
    throw rangeError(OP, 'options.needWeights', "false, 'average' or 'per-head'", needWeights);
  }
  const rotary = options.rotary === undefined ? undefined
    : readRotarySettings(OP, 'options.rotary', options.rotary, { B, S: Sk, D: E / numHeads, dName: 'headDim (E / numHeads)', sName: 'Sk' });
  if (rotary?.positions && Sq > Sk) {
    throw new RangeError(`${OP}: options.rotary.positions gives the keys' positions, which the queries share from the end (query i takes key i + Sk − Sq's), so Sq must be at most Sk = ${Sk}, got Sq = ${Sq}`);
  }
  const signal = checkSignal(OP, options.signal);
  return {
    query, key, value, inProjWeight, inProjBias, outProjWeight, outProjBias,
    B, Sq, Sk, E, batchFirst, numHeads, numKvHeads, ...variants, keyPaddingMask, needWeights, rotary, signal,
  };
}

/** Each of `names` read once from `object` (a getter answering differently later changes nothing). */
function readFields<N extends string>(object: Record<string, unknown>, names: readonly N[]): Readonly<Partial<Record<N, unknown>>> {
  const fields: Partial<Record<N, unknown>> = {};
  for (const name of names) fields[name] = object[name];
  return Object.freeze(fields);
}
