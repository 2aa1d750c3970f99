// Outputs must not share memory with anything else the call reads or writes: kernels write a row of
// `out` while other threads still read the inputs, so an `out` over `k` would make results depend on
// the thread count. Inputs may overlap each other freely (they are only read), and two views of one
// buffer that cover different bytes are as good as two buffers.

import type { TensorData } from '../tensor.js';
import type { StoredArray } from '../../workers/dtypes.js';
import { byteRange } from './typed-array.js';

export interface NamedData {
  readonly name: string;
  readonly data: TensorData | Int32Array | StoredArray;
}

/** A RangeError naming both arguments for the first output that overlaps an input or an earlier output. */
export function checkOutputsApart(op: string, outputs: readonly NamedData[], inputs: readonly NamedData[]): void {
  outputs.forEach((output, i) => {
    for (const other of [...inputs, ...outputs.slice(0, i)]) {
      const a = byteRange(output.data), b = byteRange(other.data);
      if (a.buffer !== b.buffer || a.start >= b.end || b.start >= a.end) continue;
      const kind = a.buffer instanceof SharedArrayBuffer ? 'SharedArrayBuffer' : 'ArrayBuffer';
      throw new RangeError(`${op}: ${output.name} overlaps ${other.name} (the same ${kind}, bytes [${a.start}, ${a.end}) and [${b.start}, ${b.end})); ` +
        `an output must not share memory with the call's inputs or its other output`);
    }
  });
}

/** checkOutputsApart for many calls at once (attentionBatch): every output against every input and
 *  every other output, in O(n log n) — a sweep over each buffer's byte ranges in order — since a batch
 *  may hold tens of thousands of arguments. */
export function checkAllApart(op: string, outputs: readonly NamedData[], inputs: readonly NamedData[]): void {
  if (outputs.length === 0) return;
  interface Range { readonly name: string; readonly output: boolean; readonly start: number; readonly end: number }
  const byBuffer = new Map<ArrayBufferLike, Range[]>();
  const add = (named: NamedData, output: boolean) => {
    const { buffer, start, end } = byteRange(named.data);
    if (start === end) return; // an empty view overlaps nothing
    let ranges = byBuffer.get(buffer);
    if (!ranges) byBuffer.set(buffer, (ranges = []));
    ranges.push({ name: named.name, output, start, end });
  };
  outputs.forEach((named) => add(named, true));
  const written = new Set(byBuffer.keys());
  for (const named of inputs) if (written.has(byteRange(named.data).buffer)) add(named, false);
  for (const [buffer, ranges] of byBuffer) {
    ranges.sort((a, b) => a.start - b.start);
    let furthest: Range | undefined, furthestOutput: Range | undefined;
    for (const range of ranges) {
      const other = range.output && furthest && furthest.end > range.start ? furthest
        : furthestOutput && furthestOutput.end > range.start ? furthestOutput : undefined;
      if (other) {
        const [output, with_] = other.output ? [other, range] : [range, other];
        const kind = buffer instanceof SharedArrayBuffer ? 'SharedArrayBuffer' : 'ArrayBuffer';
        throw new RangeError(`${op}: ${output.name} overlaps ${with_.name} (the same ${kind}, bytes [${output.start}, ${output.end}) and ` +
          `[${with_.start}, ${with_.end})); an output must not share memory with any input or other output of the call`);
      }
      if (!furthest || range.end > furthest.end) furthest = range;
      if (range.output && (!furthestOutput || range.end > furthestOutput.end)) furthestOutput = range;
    }
  }
}
