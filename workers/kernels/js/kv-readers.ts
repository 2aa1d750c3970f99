// How the js kernel reads one kv head's keys and values, element by element, whatever their storage:
// float (q's type) as they are, float16 through the table of binary16 values, int8 as float32(q·scale)
// with its block's scale (workers/storage/). Every value read is the one the storage decodes to, and
// the sums run in the same order for every storage, so a stored cache gives the bits of a float cache
// holding the decoded values. Key j is row j of the head, or for a window cache whose ring has wrapped
// the row ringRow gives (kv-ring.ts).

import type { AttentionJob } from '../jobs.js';
import type { FloatArray } from '../../dtypes.js';
import { float16Values } from '../../storage/float16.js';
import { INT8_BLOCK } from '../../storage/int8-blocks.js';
import { ringRow } from '../kv-ring.js';

export interface KvReader {
  /** q·k_j, q the D values of qData from qAt. */
  dotKey(qData: FloatArray, qAt: number, j: number): number;
  /** acc[a + d] += p·v_j[d] for d < Dv. */
  addValue(acc: Float64Array, a: number, p: number, j: number): void;
}

/** The reader of kv head (b, kvHead) of the job. */
export function kvReader(job: AttentionJob, b: number, kvHead: number): KvReader {
  const { D, Dv, k, v, kvRing } = job;
  const kBase = k.offset + b * k.strideB + kvHead * k.strideH, kStride = k.strideRow;
  const vBase = v.offset + b * v.strideB + kvHead * v.strideH, vStride = v.strideRow;
  const storage = job.kvStorage;
  const rowOf = kvRing ? (j: number) => ringRow(kvRing, j) : (j: number) => j;
  if (storage === undefined) {
    const kData = k.data as FloatArray, vData = v.data as FloatArray;
    return {
      dotKey: (qData, qAt, j) => dot(qData, qAt, kData, kBase + rowOf(j) * kStride, D),
      addValue: (acc, a, p, j) => {
        const at = vBase + rowOf(j) * vStride;
        for (let d = 0; d < Dv; d++) acc[a + d] += p * vData[at + d];
      },
    };
  }
  if (storage.dtype === 'float16') {
    const values = float16Values();
    const kBits = k.data as Uint16Array, vBits = v.data as Uint16Array;
    return {
      dotKey: (qData, qAt, j) => dotFloat16(qData, qAt, kBits, kBase + rowOf(j) * kStride, values, D),
      addValue: (acc, a, p, j) => {
        const at = vBase + rowOf(j) * vStride;
        for (let d = 0; d < Dv; d++) acc[a + d] += p * values[vBits[at + d]];
      },
    };
  }
  const { kScales, vScales } = storage;
  const kq = k.data as Int8Array, vq = v.data as Int8Array;
  const ksBase = kScales.offset + b * kScales.strideB + kvHead * kScales.strideH, ksStride = kScales.strideRow;
  const vsBase = vScales.offset + b * vScales.strideB + kvHead * vScales.strideH, vsStride = vScales.strideRow;
  return {
    dotKey: (qData, qAt, j) => dotInt8(qData, qAt, kq, kBase + rowOf(j) * kStride, kScales.data, ksBase + rowOf(j) * ksStride, D),
    addValue: (acc, a, p, j) => {
      const at = vBase + rowOf(j) * vStride, sAt = vsBase + rowOf(j) * vsStride, scales = vScales.data;
      for (let d = 0; d < Dv; d++) acc[a + d] += p * Math.fround(vq[at + d] * scales[sAt + Math.floor(d / INT8_BLOCK)]);
    },
  };
}

/** a·b with four independent partial sums: a single chain of float64 adds is bound by the adder's
 *  latency, four chains keep it busy. The order is fixed (and the same in the stored variants below),
 *  so results stay reproducible. */
function dot(a: ArrayLike<number>, aOffset: number, b: ArrayLike<number>, bOffset: number, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let d = 0;
  for (; d + 4 <= n; d += 4) {
    s0 += a[aOffset + d] * b[bOffset + d];
    s1 += a[aOffset + d + 1] * b[bOffset + d + 1];
    s2 += a[aOffset + d + 2] * b[bOffset + d + 2];
    s3 += a[aOffset + d + 3] * b[bOffset + d + 3];
  }
  for (; d < n; d++) s0 += a[aOffset + d] * b[bOffset + d];
  return (s0 + s1) + (s2 + s3);
}

function dotFloat16(a: ArrayLike<number>, aOffset: number, bits: Uint16Array, bOffset: number, values: Float32Array, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let d = 0;
  for (; d + 4 <= n; d += 4) {
    s0 += a[aOffset + d] * values[bits[bOffset + d]];
    s1 += a[aOffset + d + 1] * values[bits[bOffset + d + 1]];
    s2 += a[aOffset + d + 2] * values[bits[bOffset + d + 2]];
    s3 += a[aOffset + d + 3] * values[bits[bOffset + d + 3]];
  }
  for (; d < n; d++) s0 += a[aOffset + d] * values[bits[bOffset + d]];
  return (s0 + s1) + (s2 + s3);
}

function dotInt8(a: ArrayLike<number>, aOffset: number, q: Int8Array, bOffset: number, scales: Float32Array, sOffset: number, n: number): number {
  const value = (d: number) => Math.fround(q[bOffset + d] * scales[sOffset + Math.floor(d / INT8_BLOCK)]);
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let d = 0;
  for (; d + 4 <= n; d += 4) {
    s0 += a[aOffset + d] * value(d);
    s1 += a[aOffset + d + 1] * value(d + 1);
    s2 += a[aOffset + d + 2] * value(d + 2);
    s3 += a[aOffset + d + 3] * value(d + 3);
  }
  for (; d < n; d++) s0 += a[aOffset + d] * value(d);
  return (s0 + s1) + (s2 + s3);
}
