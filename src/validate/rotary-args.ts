// Validation of pool.rotary(x, options) and of the layer's options.rotary: everything is checked
// before any work starts.

import { rangeError, typeError } from '../errors.js';
import type { FloatArray, Tensor } from '../tensor.js';
import { checkBoolean, checkDim, checkFloatTensor, checkInt32Tensor, checkSameDtype, checkSignal, readOptions } from './tensor-arg.js';
import { checkOutputsApart } from './overlap.js';
import { sameMemory } from './typed-array.js';

const OP = 'rotary';
const SETTING_NAMES = ['base', 'interleaved', 'rotaryDim', 'offset', 'positions'] as const;
const OPTION_NAMES = [...SETTING_NAMES, 'out', 'signal'] as const;

/** How positions are encoded: what pool.rotary and the layer's options.rotary take. */
export interface RotarySettings {
  /** theta_d = base^(-2d / rotaryDim). Default 10000; finite and > 0. */
  base?: number;
  /** Pairs (2d, 2d + 1) (GPT-J, Meta's Llama) instead of (d, d + rotaryDim/2) (rotate_half: GPT-NeoX,
   *  Hugging Face Llama). Default false. */
  interleaved?: boolean;
  /** The leading dimensions rotated: even, 2 ≤ rotaryDim ≤ D; dimensions from rotaryDim on pass
   *  through unchanged. Default D (which must then be even). */
  rotaryDim?: number;
  /** Position of row 0 (row s is at offset + s). Default 0; a non-negative integer; not with positions. */
  offset?: number;
  /** [B, S] int32: the position of each row of each batch, any int32 (negative too), instead of offset. */
  positions?: Tensor<Int32Array>;
}

export interface RotaryOptions<A extends FloatArray = Float32Array> extends RotarySettings {
  /** [B, H, S, D], same element type as x: written in place and returned. It may be x itself (the same
   *  memory exactly: the call rotates x in place); any other overlap with x or positions is refused. */
  out?: Tensor<A>;
  signal?: AbortSignal;
}

/** The settings checked, defaults applied. */
export interface RotaryRule {
  readonly base: number;
  readonly interleaved: boolean;
  readonly rotaryDim: number;
  readonly offset: number;
  readonly positions?: Tensor<Int32Array>;
}

export interface RotaryArgs {
  readonly x: Tensor<FloatArray>;
  readonly B: number; readonly H: number; readonly S: number; readonly D: number;
  readonly rule: RotaryRule;
  readonly out?: Tensor<FloatArray>;
  /** The caller's own `out` object, which the call returns. */
  readonly outGiven?: Tensor<FloatArray>;
  readonly signal?: AbortSignal;
}

export function validateRotaryArgs(xIn: unknown, optionsIn: unknown): RotaryArgs {
  const x = checkFloatTensor(OP, 'x', xIn, ['B', 'H', 'S', 'D']);
  const [B, H, S, D] = x.shape;
  const options = readOptions(OP, optionsIn, OPTION_NAMES);
  const rule = checkRotaryRule(OP, 'options', options, { B, S, D, dName: 'x.shape[3] (D)', sName: 'x.shape[2] (S)' });
  if (rule.offset + S - 1 > Number.MAX_SAFE_INTEGER) throw rangeError(OP, 'options.offset + S − 1 (the last position)', 'a safe integer', rule.offset + S - 1);
  let out: Tensor<FloatArray> | undefined;
  if (options.out !== undefined) {
    out = checkFloatTensor(OP, 'options.out', options.out, ['B', 'H', 'S', 'D']);
    checkSameDtype(OP, 'options.out', out.data, 'x', x.data);
    if (out.shape.some((d, i) => d !== x.shape[i])) throw rangeError(OP, 'options.out.shape', `[${x.shape.join(', ')}] (x.shape)`, out.shape);
    // In place is exact aliasing: each tile reads a pair and writes it back, no other tile touches it.
    // A shifted overlap would have tiles read what others already wrote.
    const inputs = [...(sameMemory(out.data, x.data) ? [] : [{ name: 'x', data: x.data }]),
      ...(rule.positions ? [{ name: 'options.positions', data: rule.positions.data }] : [])];
    checkOutputsApart(OP, [{ name: 'options.out', data: out.data }], inputs);
  }
  const signal = checkSignal(OP, options.signal);
  return { x, B, H, S, D, rule, out, outGiven: out && (options.out as Tensor<FloatArray>), signal };
}

interface RuleDims {
  readonly B: number;
  /** Rows positions must cover. */
  readonly S: number;
  readonly D: number;
  /** How the messages name D and S. */
  readonly dName: string;
  readonly sName: string;
}

/** The layer's options.rotary: an object of RotarySettings, named `name` in messages. */
export function readRotarySettings(op: string, name: string, value: unknown, dims: RuleDims): RotaryRule {
  if (value === null || typeof value !== 'object') throw typeError(op, name, 'an object { base?, interleaved?, rotaryDim?, offset?, positions? }', value);
  for (const key of Object.keys(value)) {
    if (!(SETTING_NAMES as readonly string[]).includes(key)) throw new RangeError(`${op}: ${name}.${key} is not an option (known: ${SETTING_NAMES.join(', ')})`);
  }
  const read: Partial<Record<typeof SETTING_NAMES[number], unknown>> = {};
  for (const key of SETTING_NAMES) read[key] = (value as Record<string, unknown>)[key];
  return checkRotaryRule(op, name, Object.freeze(read), dims);
}

function checkRotaryRule(op: string, prefix: string, o: Readonly<Partial<Record<typeof SETTING_NAMES[number], unknown>>>, dims: RuleDims): RotaryRule {
  const base = o.base ?? 10000;
  if (typeof base !== 'number') throw typeError(op, `${prefix}.base`, 'a number', base);
  if (!Number.isFinite(base) || base <= 0) throw rangeError(op, `${prefix}.base`, 'a finite number > 0', base);
  const interleaved = checkBoolean(op, `${prefix}.interleaved`, o.interleaved);
  const rotaryDim = o.rotaryDim ?? dims.D;
  if (typeof rotaryDim !== 'number') throw typeError(op, `${prefix}.rotaryDim`, 'a number', rotaryDim);
  if (!Number.isInteger(rotaryDim) || rotaryDim < 2 || rotaryDim % 2 !== 0 || rotaryDim > dims.D) {
    const given = o.rotaryDim === undefined ? ` (its default, ${dims.dName}; pass an even ${prefix}.rotaryDim to rotate fewer dimensions)` : '';
    throw new RangeError(`${op}: ${prefix}.rotaryDim must be an even integer from 2 to ${dims.dName} = ${dims.D}, got ${rotaryDim}${given}`);
  }
  let positions: Tensor<Int32Array> | undefined;
  if (o.positions !== undefined) {
    if (o.offset !== undefined) throw new RangeError(`${op}: ${prefix}.offset cannot be combined with ${prefix}.positions (positions give every row's position), got offset ${String(o.offset)}`);
    positions = checkInt32Tensor(op, `${prefix}.positions`, o.positions, ['B', 'S']);
    checkDim(op, `${prefix}.positions.shape[0] (B)`, positions.shape[0], dims.B, 'B');
    checkDim(op, `${prefix}.positions.shape[1] (S)`, positions.shape[1], dims.S, dims.sName);
  }
  const offset = o.offset ?? 0;
  if (typeof offset !== 'number') throw typeError(op, `${prefix}.offset`, 'a number', offset);
  if (!Number.isSafeInteger(offset) || offset < 0) throw rangeError(op, `${prefix}.offset`, 'a non-negative integer', offset);
  return { base, interleaved, rotaryDim, offset, positions };
}
