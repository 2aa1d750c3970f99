// The per-call memory bound (AttentionPool's maxCallBytes): a call lists what it would allocate —
// outputs, attention weights, scratch, shared copies of its inputs — and is refused with a RangeError
// naming the largest of them before anything is allocated or computed. Without it a small request
// can ask for tens of GiB (needWeights over long sequences) and take the process down mid-call.

import { DTYPES, type DType } from '../../workers/dtypes.js';

export interface Allocation {
  /** What the buffer is, as the message names it: "attention weights", "a shared copy of q", … */
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** A shared copy of a non-shared input, made on the calling thread when the call is made; the
   *  others are written by the kernels. */
  readonly inputCopy?: true;
}

/** Bytes of a `dtype` tensor of `shape`: a double, exact up to 2^53 and still far above any limit
 *  when it is not. */
export function bytesOf(shape: readonly number[], dtype: DType): number {
  return shape.reduce((n, d) => n * d, DTYPES[dtype].bytes);
}

export function allocationBytes(allocation: Allocation): number {
  return bytesOf(allocation.shape, allocation.dtype);
}

/** "512 bytes", "1.5 KiB", "128 GiB": three significant digits at most. */
export function formatBytes(bytes: number): string {
  if (bytes === Infinity) return 'Infinity';
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : Number(value.toPrecision(3))} ${units[unit]}`;
}

/** "the output [1, 8, 64, 64] float32": an allocation as messages name it. */
export function describeAllocation(a: Allocation): string {
  return `${a.name} [${a.shape.join(', ')}] ${a.dtype}`;
}

export function checkCallBytes(op: string, allocations: readonly Allocation[], maxCallBytes: number): void {
  let total = 0;
  let largest: Allocation | undefined, largestBytes = -1;
  for (const allocation of allocations) {
    const bytes = allocationBytes(allocation);
    total += bytes;
    if (bytes > largestBytes) {
      largest = allocation;
      largestBytes = bytes;
    }
  }
  if (total <= maxCallBytes || !largest) return;
  const bound = `maxCallBytes = ${formatBytes(maxCallBytes)}`;
  if (largestBytes > maxCallBytes) {
    throw new RangeError(`${op}: ${describeAllocation(largest)} would take ${formatBytes(largestBytes)}, more than ${bound}`);
  }
  throw new RangeError(`${op}: the call would allocate ${formatBytes(total)} in all (the largest: ${describeAllocation(largest)}, ` +
    `${formatBytes(largestBytes)}), more than ${bound}`);
}
