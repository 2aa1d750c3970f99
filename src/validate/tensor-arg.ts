// Checks that a value is a tensor of the expected kind and rank. Shape rules specific to one
// operation live beside that operation's validator.

import { rangeError, typeError } from '../errors.js';
import { product, type FloatArray, type Tensor } from '../tensor.js';

export type DimNames = readonly string[];

/** `names` gives the expected rank and the dimensions' names; BROADCASTABLE accepts rank 1 to 4 (a
 *  mask or bias broadcast against [B, H, Sq, Sk], checked by broadcast.ts). */
export const BROADCASTABLE: DimNames = [];
const BROADCAST_NAMES = ['B', 'H', 'Sq', 'Sk'];

function checkTensorLike(op: string, name: string, value: unknown, expectedNames: DimNames): { data: unknown; shape: number[] } {
  if (value === null || typeof value !== 'object' || !('data' in value) || !('shape' in value)) {
    throw typeError(op, name, 'a tensor ({ data, shape })', value);
  }
  const { data, shape } = value as { data: unknown; shape: unknown };
  if (!Array.isArray(shape)) throw typeError(op, `${name}.shape`, 'an array of non-negative integers', shape);
  let names = expectedNames;
  if (expectedNames === BROADCASTABLE) {
    if (shape.length < 1 || shape.length > 4) throw rangeError(op, `${name}.shape`, 'of rank 1 to 4, broadcastable to [B, H, Sq, Sk]', shape);
    names = BROADCAST_NAMES.slice(4 - shape.length);
  } else if (shape.length !== names.length) {
    throw rangeError(op, `${name}.shape`, `of rank ${names.length} ([${names.join(', ')}])`, shape);
  }
  shape.forEach((d: unknown, i) => {
    if (typeof d !== 'number') throw typeError(op, `${name}.shape[${i}] (${names[i]})`, 'a number', d);
    if (!Number.isSafeInteger(d) || d < 0) throw rangeError(op, `${name}.shape[${i}] (${names[i]})`, 'a non-negative integer', d);
  });
  return { data, shape: shape as number[] };
}

function checkLength(op: string, name: string, data: ArrayLike<number>, shape: number[]): void {
  const expected = product(shape);
  if (data.length !== expected) {
    throw rangeError(op, `${name}.data.length`, `product(${name}.shape) = ${expected} for shape [${shape.join(', ')}]`, data.length);
  }
}

export function checkFloatTensor(op: string, name: string, value: unknown, names: DimNames): Tensor<FloatArray> {
  const { data, shape } = checkTensorLike(op, name, value, names);
  if (!(data instanceof Float32Array || data instanceof Float64Array)) {
    throw typeError(op, `${name}.data`, 'a Float32Array or Float64Array', data);
  }
  checkLength(op, name, data, shape);
  return { data, shape };
}

export function checkUint8Tensor(op: string, name: string, value: unknown, names: DimNames): Tensor<Uint8Array> {
  const { data, shape } = checkTensorLike(op, name, value, names);
  if (!(data instanceof Uint8Array)) throw typeError(op, `${name}.data`, 'a Uint8Array (1 byte per element, 0 or 1)', data);
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
