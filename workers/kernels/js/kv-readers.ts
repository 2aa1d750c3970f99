// How the js kernel reads one kv head's keys and values, element by element, whatever their storage:
// float (q's type) as they are, float16 through the table of binary16 values, int8 as float32(q·scale)
// with its block's scale (workers/storage/). Every value read is the one the storage decodes to, and
// the sums run in the same order for every storage, so a stored cache gives the bits of a float cache
// holding the decoded values. Key j is row j of the head, or for a window cache whose ring has wrapped
// the row ringRow gives (kv-ring.ts); over a paged store, a row of one of the sequence's pages
// (paged-readers.ts), read with these same sums.

import type { AttentionJob } from '../jobs.js';
import type { FloatArray } from '../../dtypes.js';
import { float16Values } from '../../storage/float16.js';
import { INT8_BLOCK } from '../../storage/int8-blocks.js';
import { ringRow } from '../kv-ring.js';
import { dot, dotFloat16, dotInt8 } from './kv-dots.js';
import { pagedReader } from './paged-readers.js';

export interface KvReader {
  /** q·k_j, q the D values of qData from qAt. */
  dotKey(qData: FloatArray, qAt: number, j: number): number;
  /** acc[a + d] += p·v_j[d] for d < Dv. */
  addValue(acc: Float64Array, a: number, p: number, j: number): void;
}

/** The reader of kv head (b, kvHead) of the job. */
export function kvReader(job: AttentionJob, b: number, kvHead: number): KvReader {
  if (job.paged) return pagedReader(job, job.paged, kvHead);
  const { D, Dv, k, v, kvRing } = job;
  const kBase = k.offset + b * k.strideB + kvHead * k.strideH, kStride = k.strideRow;
  const vBase = v.offset + b * v.strideB + kvHead * v.strideH, vStride = v.strideRow;
  const storage = job.kvStorage;
  const rowOf = kvRing ? (j: number) => ringRow(kvRing, j) : (j: number) => j;
  if (storage === undefined) {
    const kData = k.data as FloatArray, vData = v.data as FloatArray;
    return {
      dotKey: (qData, qAt, j) => dot(qData, qAt, kData, kBase + rowOf(j) * kStride, 1, D),
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
