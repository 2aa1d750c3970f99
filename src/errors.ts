// Every error attnpool throws, in one place (piscina's habit): the message names the operation, the
// argument, what was expected and what was given. TypeError = wrong kind of value; RangeError = wrong
// shape, size or option value.

export class AbortError extends Error {
  override readonly name = 'AbortError';
  constructor(op: string) {
    super(`${op}: the call was aborted`);
  }
}

export class PoolClosedError extends Error {
  override readonly name = 'PoolClosedError';
  constructor(op: string) {
    super(`${op}: the pool is closed`);
  }
}

export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  constructor(op: string, maxQueue: number) {
    super(`${op}: the pool's queue is full (options.maxQueue = ${maxQueue} calls already waiting)`);
  }
}

/** A worker failed while computing a call (it threw, exited or ran out of memory). */
export class WorkerFailedError extends Error {
  override readonly name = 'WorkerFailedError';
  constructor(op: string, cause: unknown) {
    super(`${op}: a worker thread failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Renders a value for an error message: short and unambiguous. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length > 8 ? `an array of length ${value.length}` : `[${value.map(describe).join(', ')}]`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as ArrayLike<number>).length}`;
  switch (typeof value) {
    case 'string': return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
    case 'number': case 'boolean': case 'undefined': case 'bigint': return String(value);
    case 'function': return 'a function';
    default: return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
  }
}

export const typeError = (op: string, what: string, expected: string, given: unknown): TypeError =>
  new TypeError(`${op}: ${what} must be ${expected}, got ${describe(given)}`);

export const rangeError = (op: string, what: string, expected: string, given: unknown): RangeError =>
  new RangeError(`${op}: ${what} must be ${expected}, got ${describe(given)}`);

/** "'a', 'b' or 'c'": the accepted values of an option, for a message. */
export function alternatives(values: readonly string[]): string {
  return values.length < 2 ? values.join('') : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
}
