// Parsers for option values that yargs hands over as strings or numbers. Each throws a UsageError
// naming the option, so a bad value ends the command with exit code 2 and a one-line reason.

import { availableParallelism } from 'node:os';
import { UsageError } from './errors.js';

/** A file or folder path option (normalized, value required). */
export function pathOption(describe: string) {
  return { type: 'string', requiresArg: true, normalize: true, describe } as const;
}

/** A positive integer, at most `max` when the option has a documented bound. */
export function positiveInt(option: string, max = Number.MAX_SAFE_INTEGER): (value: unknown) => number {
  const expected = max === Number.MAX_SAFE_INTEGER ? 'a positive integer' : `a positive integer up to ${max}`;
  return (value) => {
    const n = typeof value === 'number' ? value : Number(String(value).trim());
    if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new UsageError(`--${option} must be ${expected}, got ${show(value)}`);
    return n;
  };
}

export function nonNegativeInt(option: string): (value: unknown) => number {
  return (value) => {
    const n = typeof value === 'number' ? value : Number(String(value).trim());
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${option} must be a non-negative integer, got ${show(value)}`);
    return n;
  };
}

/** --causal's value: the bare flag, true or bottom-right → 'bottom-right'; top-left; false. */
export function causalValue(option: string): (value: unknown) => false | 'bottom-right' | 'top-left' {
  return (value) => {
    const text = String(value).trim();
    if (text === '' || text === 'true' || text === 'bottom-right') return 'bottom-right';
    if (text === 'top-left') return 'top-left';
    if (text === 'false') return false;
    throw new UsageError(`--${option} must be top-left, bottom-right, true or false (or the bare flag), got ${show(value)}`);
  };
}

export function finiteNumber(option: string): (value: unknown) => number {
  return (value) => {
    const n = typeof value === 'number' ? value : Number(String(value).trim());
    if (!Number.isFinite(n) || String(value).trim() === '') throw new UsageError(`--${option} must be a finite number, got ${show(value)}`);
    return n;
  };
}

/** "1,2,8" → [1, 2, 8]: positive integers, duplicates dropped, in ascending order. */
export function positiveIntList(option: string): (value: unknown) => number[] {
  const one = positiveInt(option);
  return (value) => {
    const text = Array.isArray(value) ? value.join(',') : String(value);
    const items = text.split(',').map((s) => s.trim());
    if (items.some((s) => s === '')) throw new UsageError(`--${option} must be a comma-separated list of positive integers, got ${show(text)}`);
    return [...new Set(items.map(one))].sort((a, b) => a - b);
  };
}

/** "a,b" → ['a', 'b'], each one of `names` (duplicates dropped, order kept). */
export function nameList<T extends string>(option: string, names: readonly T[]): (value: unknown) => T[] {
  return (value) => {
    const items = String(value).split(',').map((item) => item.trim());
    const bad = items.find((item) => !names.includes(item as T));
    if (bad !== undefined) throw new UsageError(`--${option} must be ${names.join(', ')} or a comma-separated list of them, got ${JSON.stringify(String(value))}`);
    return [...new Set(items as T[])];
  };
}

const BYTE_UNITS: Record<string, number> = { '': 1, B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };

/** "64MiB", "1.5GiB", "1048576" → bytes (a whole number); "Infinity" stays Infinity (no bound). */
export function byteCount(option: string): (value: unknown) => number {
  return (value) => {
    const text = String(value).trim();
    if (text === 'Infinity') return Infinity;
    const match = /^(\d+(?:\.\d+)?) ?(B|KiB|MiB|GiB|TiB)?$/.exec(text);
    const bytes = match ? Number(match[1]) * BYTE_UNITS[match[2] ?? '']! : NaN;
    if (!Number.isSafeInteger(bytes)) {
      throw new UsageError(`--${option} must be a whole number of bytes like 1048576, 64MiB or 1.5GiB, or Infinity, got ${show(value)}`);
    }
    return bytes;
  };
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** "30s", "500ms", "2m" or a bare number of seconds → milliseconds. */
export function durationMs(option: string): (value: unknown) => number {
  return (value) => {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(String(value).trim());
    const ms = match ? Number(match[1]) * DURATION_UNITS[match[2] ?? 's']! : NaN;
    if (!(ms > 0)) throw new UsageError(`--${option} must be a duration like 30s, 500ms or 2m, got ${show(value)}`);
    return ms;
  };
}

/** 1, 2, 4, … up to the machine's parallelism, plus the parallelism itself when it is not a power of two. */
export function defaultThreadCounts(): number[] {
  const max = availableParallelism();
  const counts: number[] = [];
  for (let t = 1; t < max; t *= 2) counts.push(t);
  counts.push(max);
  return counts;
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
