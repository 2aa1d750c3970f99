// The attention variants' options — causal alignment, logit softcap, ALiBi slopes, attention sinks —
// checked for pool.attention and the multi-head layer alike. Their exact definitions are in the
// golden-variants README; in short, for row i at position i' and key j at position j':
//   s = scale·q·k;  s = softcap·tanh(s / softcap);  s += bias + slope_h·(j' − i');  masked;
//   lse = log(exp(sink_h) + Σ exp(s)),  out = Σ exp(s − lse)·v.
// Slopes and sinks are read once into float64 copies (H numbers): the kernels get those, never the
// caller's arrays, so a change to them after the call has started changes nothing.

import { rangeError, typeError } from '../errors.js';
import { ownView } from './typed-array.js';
import { checkDim, checkFloatTensor } from './tensor-arg.js';

/** true is 'bottom-right' (query i sees keys j ≤ i + Sk − Sq, the KV-cache convention); 'top-left' is
 *  torch's is_causal (j ≤ i). */
export type CausalOption = boolean | 'bottom-right' | 'top-left';

export interface ScoreVariants {
  readonly causal: boolean;
  /** Causal 'top-left': query row i sits at position i rather than among the last Sq positions. */
  readonly topLeft: boolean;
  /** Absent: no cap. */
  readonly softcap?: number;
  /** [H], finite. */
  readonly alibiSlopes?: Float64Array;
  /** [H] sink logits, finite. */
  readonly sinks?: Float64Array;
}

interface VariantOptions {
  readonly causal?: unknown;
  readonly softcap?: unknown;
  readonly alibiSlopes?: unknown;
  readonly sinks?: unknown;
}

/** `H`: the query heads, which the slopes and sinks are per, named `hName` in messages. */
export function readScoreVariants(op: string, options: VariantOptions, H: number, hName: string): ScoreVariants {
  const { causal, topLeft } = checkCausal(op, 'options.causal', options.causal);
  const softcap = checkSoftcap(op, options.softcap);
  const alibiSlopes = options.alibiSlopes === undefined ? undefined : checkSlopes(op, options.alibiSlopes, H, hName);
  const sinks = options.sinks === undefined ? undefined : checkSinks(op, options.sinks, H, hName);
  return { causal, topLeft, ...(softcap !== undefined && { softcap }), ...(alibiSlopes && { alibiSlopes }), ...(sinks && { sinks }) };
}

export function checkCausal(op: string, name: string, value: unknown): { causal: boolean; topLeft: boolean } {
  if (value === undefined || value === false) return { causal: false, topLeft: false };
  if (value === true || value === 'bottom-right') return { causal: true, topLeft: false };
  if (value === 'top-left') return { causal: true, topLeft: true };
  const expected = "true, false, 'bottom-right' or 'top-left'";
  if (typeof value === 'string') throw rangeError(op, name, expected, value);
  throw typeError(op, name, expected, value);
}

/** The variants as options again: what a remote call sends (src/remote/). */
export function variantOptions(v: ScoreVariants): { causal: CausalOption; softcap?: number; alibiSlopes?: Float64Array; sinks?: { data: Float64Array; shape: number[] } } {
  return {
    causal: v.topLeft ? 'top-left' : v.causal,
    ...(v.softcap !== undefined && { softcap: v.softcap }),
    ...(v.alibiSlopes && { alibiSlopes: v.alibiSlopes }),
    ...(v.sinks && { sinks: { data: v.sinks, shape: [v.sinks.length] } }),
  };
}

function checkSoftcap(op: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw typeError(op, 'options.softcap', 'a number', value);
  if (!(value > 0) || !Number.isFinite(value)) throw rangeError(op, 'options.softcap', 'a finite number > 0', value);
  return value;
}

/** An array of numbers, a typed array, or a float tensor of shape [H]. */
function checkSlopes(op: string, value: unknown, H: number, hName: string): Float64Array {
  const name = 'options.alibiSlopes';
  let values: ArrayLike<unknown>;
  if (Array.isArray(value)) {
    values = value.slice(); // read once
  } else if (value !== null && typeof value === 'object' && 'shape' in value) {
    const t = checkFloatTensor(op, name, value, ['H']);
    checkDim(op, `${name}.shape[0]`, t.shape[0], H, hName);
    values = t.data;
  } else {
    const view = ownView(value);
    if (view === undefined || view instanceof Uint8Array) {
      throw typeError(op, name, 'an array of H numbers, a Float32Array or Float64Array, or a float tensor of shape [H]', value);
    }
    values = view;
  }
  if (values.length !== H) throw rangeError(op, `${name}.length`, `${hName} = ${H} (one slope per query head)`, values.length);
  return finiteCopy(op, name, values);
}

function checkSinks(op: string, value: unknown, H: number, hName: string): Float64Array {
  const t = checkFloatTensor(op, 'options.sinks', value, ['H']);
  checkDim(op, 'options.sinks.shape[0]', t.shape[0], H, hName);
  return finiteCopy(op, 'options.sinks', t.data);
}

function finiteCopy(op: string, name: string, values: ArrayLike<unknown>): Float64Array {
  const copy = new Float64Array(values.length);
  for (let h = 0; h < values.length; h++) {
    const x = values[h];
    if (typeof x !== 'number') throw typeError(op, `${name}[${h}]`, 'a number', x);
    if (!Number.isFinite(x)) throw rangeError(op, `${name}[${h}]`, 'finite', x);
    copy[h] = x;
  }
  return copy;
}
