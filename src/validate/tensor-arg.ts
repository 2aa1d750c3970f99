// Checks that a value is a tensor of the expected kind and rank. Shape rules specific to one
// operation live beside that operation's validator.
//
// Each argument is read exactly once, here: a tensor's `data` and `shape` (its length, then each
// element) and each option's value. What the checks return — a frozen copy of the shape, a fresh
// fixed-length view of the data (typed-array.ts), a frozen copy of the options — is all the call uses
// afterwards, so a getter or Proxy that answers differently on a later read cannot change what was
// validated.

import { alternatives, rangeError, typeError } from '../errors.js';
import { product, type FloatArray, type Tensor } from '../tensor.js';
import { DTYPES, dtypeOf, FLOAT_DTYPES } from '../../workers/dtypes.js';
import { checkIndexLimit, INDEX_LIMIT } from './index-limits.js';
import { ownInt32View, ownView } from './typed-array.js';

export type DimNames = readonly string[];

/** `names` gives the expected rank and the dimensions' names; BROADCASTABLE accepts rank 1 to 4 (a
 *  mask or bias broadcast against [B, H, Sq, Sk], checked by broadcast.ts). */
export const BROADCASTABLE: DimNames = [];
const BROADCAST_NAMES = ['B', 'H', 'Sq', 'Sk'];

function checkTensorLike(op: string, name: string, value: unknown, expectedNames: DimNames): { data: unknown; shape: readonly number[] } {
  if (value === null || typeof value !== 'object' || !('data' in value) || !('shape' in value)) {
    throw typeError(op, name, 'a tensor ({ data, shape })', value);
  }
  const { data, shape } = value as { data: unknown; shape: unknown };
  if (!Array.isArray(shape)) throw typeError(op, `${name}.shape`, 'an array of non-negative integers', shape);
  const rank: number = shape.length;
  let names = expectedNames;
  if (expectedNames === BROADCASTABLE) {
    if (rank < 1 || rank > 4) throw rangeError(op, `${name}.shape`, 'of rank 1 to 4, broadcastable to [B, H, Sq, Sk]', shape);
    names = BROADCAST_NAMES.slice(4 - rank);
  } else if (rank !== names.length) {
    throw rangeError(op, `${name}.shape`, `of rank ${names.length} ([${names.join(', ')}])`, shape);
  }
  const dims: unknown[] = [];
  for (let i = 0; i < rank; i++) dims.push(shape[i]); // every element read before any is checked
  for (let i = 0; i < rank; i++) {
    const d = dims[i];
    // A valid dimension passes without its name being built: the name is for the message only.
    if (typeof d === 'number' && Number.isSafeInteger(d) && d >= 0 && d < INDEX_LIMIT) continue;
    const what = `${name}.shape[${i}] (${names[i]})`;
    if (typeof d !== 'number') throw typeError(op, what, 'a number', d);
    if (!Number.isSafeInteger(d) || d < 0) throw rangeError(op, what, 'a non-negative integer', d);
    checkIndexLimit(op, what, d);
  }
  return { data, shape: Object.freeze(dims) as readonly number[] };
}

function checkLength(op: string, name: string, data: ArrayLike<number>, shape: readonly number[]): void {
  const expected = product(shape);
  if (data.length !== expected) {
    throw rangeError(op, `${name}.data.length`, `product(${name}.shape) = ${expected} for shape [${shape.join(', ')}]`, data.length);
  }
}

export function checkFloatTensor(op: string, name: string, value: unknown, names: DimNames): Tensor<FloatArray> {
  const { data: given, shape } = checkTensorLike(op, name, value, names);
  const data = ownView(given);
  if (data === undefined || DTYPES[dtypeOf(data)].holds !== 'float') {
    throw typeError(op, `${name}.data`, `a ${alternatives(FLOAT_DTYPES.map((d) => DTYPES[d].array.name))}`, given);
  }
  checkLength(op, name, data, shape);
  return { data: data as FloatArray, shape };
}

export function checkUint8Tensor(op: string, name: string, value: unknown, names: DimNames): Tensor<Uint8Array> {
  const { data: given, shape } = checkTensorLike(op, name, value, names);
  const data = ownView(given);
  if (!(data instanceof Uint8Array)) throw typeError(op, `${name}.data`, 'a Uint8Array (1 byte per element, 0 or 1)', given);
  checkLength(op, name, data, shape);
  return { data, shape };
}

export function checkInt32Tensor(op: string, name: string, value: unknown, names: DimNames): Tensor<Int32Array> {
  const { data: given, shape } = checkTensorLike(op, name, value, names);
  const data = ownInt32View(given);
  if (data === undefined) throw typeError(op, `${name}.data`, 'an Int32Array', given);
  checkLength(op, name, data, shape);
  return { data, shape };
}

/** Every float tensor of a call must have the same element type as `reference`. */
export function checkSameDtype(op: string, name: string, data: FloatArray, referenceName: string, reference: FloatArray): void {
  if (data.constructor !== reference.constructor) {
    throw typeError(op, `${name}.data`, `a ${reference.constructor.name} like ${referenceName}.data`, data);
  }
}

/** `hint`, when given, ends the message: a likely cause of the mismatch and its fix. */
export function checkDim(op: string, what: string, given: number, expected: number, expectedText: string, hint?: string): void {
  if (given === expected) return;
  const err = rangeError(op, what, `equal to ${expectedText} = ${expected}`, given);
  if (hint !== undefined) err.message += ` ${hint}`;
  throw err;
}

/** Rejects option names the operation does not know, so a typo (`casual: true`) is not silently ignored. */
export function checkOptionNames(op: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new RangeError(`${op}: options.${key} is not an option (known: ${known.join(', ')})`);
  }
}

export function checkOptionsObject(op: string, options: unknown): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') throw typeError(op, 'options', 'an object', options);
  return options as Record<string, unknown>;
}

/** What readOptions reads from a call without options: one frozen object for all of them. */
const NO_OPTIONS: Readonly<Partial<Record<string, unknown>>> = Object.freeze({});

/** A call's options object checked for unknown names, with each known option's value read once into
 *  a frozen plain object: validation and the call see the same values. */
export function readOptions<N extends string>(op: string, optionsIn: unknown, known: readonly N[]): Readonly<Partial<Record<N, unknown>>> {
  if (optionsIn === undefined) return NO_OPTIONS;
  const options = checkOptionsObject(op, optionsIn);
  checkOptionNames(op, options, known);
  const values: Partial<Record<N, unknown>> = {};
  for (const name of known) {
    const value = options[name];
    if (value !== undefined) values[name] = value;
  }
  return Object.freeze(values);
}

export function checkBoolean(op: string, name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw typeError(op, name, 'a boolean', value);
  return value;
}

export function checkSignal(op: string, value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) throw typeError(op, 'options.signal', 'an AbortSignal', value);
  return value;
}
