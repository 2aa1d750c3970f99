// The longest typed array this runtime can make: 2^32 elements on Node 20, 2^53 − 1 on Node 22 and
// later (buffer.constants.MAX_LENGTH, which V8 applies to every element type). A SharedArrayBuffer of
// more elements' bytes can still be allocated, and then V8 refuses the view with "Invalid typed array
// length: undefined"; checking first gives attnpool's own error, before anything is allocated.

import { constants } from 'node:buffer';
import { DTYPES } from '../../workers/dtypes.js';
import { allocationBytes, describeAllocation, type Allocation } from './call-bytes.js';

export const MAX_TYPED_ARRAY_LENGTH = constants.MAX_LENGTH;

/** The RangeError for `what`, of `elements` elements, when no typed array can be that long here. */
export function checkTypedArrayLength(op: string, what: string, elements: number): void {
  if (elements <= MAX_TYPED_ARRAY_LENGTH) return;
  throw new RangeError(`${op}: ${what} has ${elements} elements, more than this runtime's typed arrays can hold ` +
    `(buffer.constants.MAX_LENGTH = ${MAX_TYPED_ARRAY_LENGTH} on Node ${process.version})`);
}

/** Each buffer a call would allocate must fit one typed array. */
export function checkAllocationLengths(op: string, allocations: readonly Allocation[]): void {
  for (const a of allocations) {
    const elements = allocationBytes(a) / DTYPES[a.dtype].bytes;
    // Described only when refused: every call passes here, and almost none is refused.
    if (elements > MAX_TYPED_ARRAY_LENGTH) checkTypedArrayLength(op, describeAllocation(a), elements);
  }
}
