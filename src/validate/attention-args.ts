// Validation of pool.attention(q, k, v, options): everything is checked before any work starts.

import { rangeError, typeError } from '../errors.js';
import type { FloatArray, Tensor } from '../tensor.js';
import {
  BROADCASTABLE, checkDim, checkFloatTensor, checkSameDtype, checkSignal, checkUint8Tensor, readOptions,
} from './tensor-arg.js';
import { broadcastTo4 } from './broadcast.js';
import { checkKeyCount } from './index-limits.js';
import { checkOutputsApart, type NamedData } from './overlap.js';
import type { PositionGap } from '../../workers/kernels/key-range.js';
import { readScoreVariants, type CausalOption, type ScoreVariants } from './variant-args.js';

const OP = 'attention';
/** The largest finite float32, (2 − 2^-23)·2^127. */
const FLOAT32_MAX = 3.4028234663852886e38;
const OPTION_NAMES = ['causal', 'window', 'mask', 'bias', 'scale', 'softcap', 'alibiSlopes', 'sinks', 'out', 'lse', 'signal'] as const;

export interface AttentionOptions<A extends FloatArray = Float32Array> {
  /** true or 'bottom-right': query i may see key j iff j <= i' = i + (Sk - Sq) (as with a KV cache);
   *  'top-left': iff j <= i' = i (torch's is_causal). */
  causal?: CausalOption;
  /** Sliding-window (local) attention, with causal: query i sees keys j with i' − window < j ≤ i',
   *  i.e. its own position and the window − 1 keys before it. A positive integer. */
  window?: number;
  /** Broadcastable to [B, H, Sq, Sk]; 1 = may attend (PyTorch SDPA's bool convention). */
  mask?: Tensor<Uint8Array>;
  /** Broadcastable to [B, H, Sq, Sk], same float type as q; added to the scaled scores. */
  bias?: Tensor<A>;
  /** Default 1 / sqrt(D). */
  scale?: number;
  /** Logit soft-capping (Gemma 2): s = softcap · tanh(s / softcap) on the scaled scores, before the
   *  bias, ALiBi and the mask. A finite number > 0. */
  softcap?: number;
  /** [H] (an array, a Float32Array or Float64Array, or a float tensor [H]): ALiBi adds
   *  slope_h · (j − i') to the scores, i' the row's position as `causal` aligns it (bottom-right
   *  without causal). See alibiSlopes(H) for the paper's slopes. */
  alibiSlopes?: ArrayLike<number> | Tensor<Float32Array | Float64Array>;
  /** Float [H] (float32 or float64 whatever q's type): one logit per query head that joins each row's
   *  softmax denominator and carries no value, so a row's weights sum to less than 1. */
  sinks?: Tensor<Float32Array | Float64Array>;
  /** [B, H, Sq, Dv]: written in place and returned. */
  out?: Tensor<A>;
  /** [B, H, Sq]: receives the log-sum-exp of each row's scaled, masked scores. */
  lse?: Tensor<A>;
  signal?: AbortSignal;
}

export interface AttentionArgs extends ScoreVariants {
  readonly q: Tensor<FloatArray>;
  readonly k: Tensor<FloatArray>;
  readonly v: Tensor<FloatArray>;
  readonly B: number; readonly H: number; readonly Hkv: number;
  readonly Sq: number; readonly Sk: number; readonly D: number; readonly Dv: number;
  readonly scale: number;
  readonly window?: number;
  /** Over a window cache that dropped positions: where its keys sit in the sequence (key-range.ts). */
  readonly gap?: PositionGap;
  /** Checked broadcastable to [B, H, Sq, Sk]; the kernels get broadcastTo4's view of it. */
  readonly mask?: Tensor<Uint8Array>;
  readonly bias?: Tensor<FloatArray>;
  readonly out?: Tensor<FloatArray>;
  /** The caller's own `out` object, which the call returns (it is never read). */
  readonly outGiven?: Tensor<FloatArray>;
  readonly lse?: Tensor<FloatArray>;
  readonly signal?: AbortSignal;
}

export function validateAttentionArgs(qIn: unknown, kIn: unknown, vIn: unknown, optionsIn: unknown): AttentionArgs {
  const args = validateAttentionShapes(qIn, kIn, vIn, optionsIn);
  const outputs = outputsOf(args);
  // Most calls write no buffer of the caller's: nothing to check, and no list of inputs to build.
  if (outputs.length > 0) checkOutputsApart(OP, outputs, [{ name: 'k', data: args.k.data }, { name: 'v', data: args.v.data }, ...optionInputsOf(args)]);
  return args;
}

/** The outputs a call writes, by argument name. */
export function outputsOf(args: AttentionArgs): NamedData[] {
  const outputs: NamedData[] = [];
  if (args.out) outputs.push({ name: 'options.out', data: args.out.data });
  if (args.lse) outputs.push({ name: 'options.lse', data: args.lse.data });
  return outputs;
}

/** q and the options' input tensors, by argument name: everything a call reads besides its keys and values. */
export function optionInputsOf(args: AttentionArgs): NamedData[] {
  const inputs: NamedData[] = [{ name: 'q', data: args.q.data }];
  if (args.mask) inputs.push({ name: 'options.mask', data: args.mask.data });
  if (args.bias) inputs.push({ name: 'options.bias', data: args.bias.data });
  return inputs;
}

/** Every check but the outputs' overlap with k and v, which a KvCache call makes against its own buffers. */
export function validateAttentionShapes(qIn: unknown, kIn: unknown, vIn: unknown, optionsIn: unknown): AttentionArgs {
  const q = checkFloatTensor(OP, 'q', qIn, ['B', 'H', 'Sq', 'D']);
  const k = checkFloatTensor(OP, 'k', kIn, ['B', 'Hkv', 'Sk', 'D']);
  const v = checkFloatTensor(OP, 'v', vIn, ['B', 'Hkv', 'Sk', 'Dv']);
  checkSameDtype(OP, 'k', k.data, 'q', q.data);
  checkSameDtype(OP, 'v', v.data, 'q', q.data);
  return validateAttentionWithKv(q, k, v, optionsIn);
}

/** The checks after q, k and v have been read as tensors of one float type. A KvCache call passes
 *  stand-ins for k and v: only their shapes are read (kv-cache-args.ts). */
export function validateAttentionWithKv(q: Tensor<FloatArray>, k: Tensor<FloatArray>, v: Tensor<FloatArray>, optionsIn: unknown): AttentionArgs {
  const [B, H, Sq, D] = q.shape;
  const [, Hkv, Sk] = k.shape;
  const Dv = v.shape[3];
  if (H < 1) throw rangeError(OP, 'q.shape[1] (H)', 'at least 1', H);
  if (D < 1) throw rangeError(OP, 'q.shape[3] (D)', 'at least 1', D);
  checkDim(OP, 'k.shape[0] (B)', k.shape[0], B, 'q.shape[0] (B)');
  checkDim(OP, 'k.shape[3] (D)', k.shape[3], D, 'q.shape[3] (D)');
  if (Hkv < 1 || H % Hkv !== 0) throw rangeError(OP, 'k.shape[1] (Hkv)', `a divisor of q.shape[1] (H = ${H})`, Hkv);
  checkDim(OP, 'v.shape[0] (B)', v.shape[0], B, 'q.shape[0] (B)');
  checkDim(OP, 'v.shape[1] (Hkv)', v.shape[1], Hkv, 'k.shape[1] (Hkv)');
  checkDim(OP, 'v.shape[2] (Sk)', v.shape[2], Sk, 'k.shape[2] (Sk)');
  checkKeyCount(OP, 'k.shape[2] (Sk)', Sk);

  const options = readOptions(OP, optionsIn, OPTION_NAMES);
  const variants = readScoreVariants(OP, options, H, 'H (q.shape[1])');
  const window = checkWindow(options.window, variants.causal);
  const scale = options.scale === undefined ? 1 / Math.sqrt(D) : options.scale;
  if (typeof scale !== 'number') throw typeError(OP, 'options.scale', 'a number', scale);
  if (!Number.isFinite(scale)) throw rangeError(OP, 'options.scale', 'a finite number', scale);
  // Beyond float32's range the float64 js kernel's scores could overflow where the float32 wasm
  // kernel's (kept finite by workers/kernels/wasm/score-scaling.ts) would not; within it, neither does.
  if (Math.abs(scale) > FLOAT32_MAX) throw rangeError(OP, 'options.scale', `within the float32 range (|scale| <= ${FLOAT32_MAX})`, scale);
  const target = [B, H, Sq, Sk] as const;
  let mask: Tensor<Uint8Array> | undefined;
  if (options.mask !== undefined) {
    mask = checkUint8Tensor(OP, 'options.mask', options.mask, BROADCASTABLE);
    broadcastTo4(OP, 'options.mask', mask, target);
  }
  let bias: Tensor<FloatArray> | undefined;
  if (options.bias !== undefined) {
    bias = checkFloatTensor(OP, 'options.bias', options.bias, BROADCASTABLE);
    checkSameDtype(OP, 'options.bias', bias.data, 'q', q.data);
    broadcastTo4(OP, 'options.bias', bias, target);
  }
  let out: Tensor<FloatArray> | undefined;
  if (options.out !== undefined) {
    out = checkFloatTensor(OP, 'options.out', options.out, ['B', 'H', 'Sq', 'Dv']);
    checkSameDtype(OP, 'options.out', out.data, 'q', q.data);
    expectShape('options.out', out.shape, [B, H, Sq, Dv]);
  }
  let lse: Tensor<FloatArray> | undefined;
  if (options.lse !== undefined) {
    lse = checkFloatTensor(OP, 'options.lse', options.lse, ['B', 'H', 'Sq']);
    checkSameDtype(OP, 'options.lse', lse.data, 'q', q.data);
    expectShape('options.lse', lse.shape, [B, H, Sq]);
  }
  const signal = checkSignal(OP, options.signal);
  const outGiven = out && (options.out as Tensor<FloatArray>);
  // The variants written out, those not set as undefined: a spread of them into this literal was the
  // costliest line of validation in the decode loop's profile.
  const { causal, topLeft, softcap, alibiSlopes, sinks } = variants;
  return { q, k, v, B, H, Hkv, Sq, Sk, D, Dv, scale, causal, topLeft, softcap, alibiSlopes, sinks, window, mask, bias, out, outGiven, lse, signal };
}

/** The window is measured back from each query's aligned position i', which only causal attention
 *  defines (without it a query sees keys on both sides and "the last w keys" has no meaning); either
 *  alignment will do. */
function checkWindow(window: unknown, causal: boolean): number | undefined {
  if (window === undefined) return undefined;
  if (typeof window !== 'number') throw typeError(OP, 'options.window', 'a number', window);
  if (!Number.isInteger(window) || window < 1) throw rangeError(OP, 'options.window', 'a positive integer', window);
  if (!causal) {
    throw new RangeError(`${OP}: options.window requires options.causal: true, 'bottom-right' or 'top-left' (the window is the ${window} keys ending at each query's causal position), got causal: false`);
  }
  return window;
}

function expectShape(name: string, shape: readonly number[], expected: readonly number[]): void {
  if (shape.some((d, i) => d !== expected[i])) throw rangeError(OP, `${name}.shape`, `[${expected.join(', ')}]`, shape);
}
