// workers/packed-views.ts: what crosses to another thread comes back with every typed array intact —
// offset, length and memory — however large the buffer, and one array sent twice is one array there.
// A real worker echoes what it receives; the buffers are lazily allocated (only a few pages touched).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { packViews, unpackViews, type Packed } from '../dist/workers/packed-views.js';

const FOUR_GiB = 2 ** 32;

/** Unpacks in the worker, reports what it sees, and echoes the value packed again. */
const ECHO = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData).then(({ packViews, unpackViews }) => parentPort.on('message', (message) => {
  const value = unpackViews(message);
  const seen = Object.entries(value.arrays).map(([name, a]) => ({ name, byteOffset: a.byteOffset, length: a.length, last: a[a.length - 1] }));
  parentPort.postMessage({ seen, sameArray: value.arrays.f32 === value.again, echo: packViews(value) });
}));`;

interface Sent {
  readonly arrays: Record<string, Float32Array | Float64Array | Uint8Array | Int32Array>;
  readonly again: Float32Array;
  readonly plain: { readonly n: number; readonly list: readonly (string | undefined)[] };
}
interface Reply {
  readonly seen: readonly { name: string; byteOffset: number; length: number; last: number }[];
  readonly sameArray: boolean;
  readonly echo: Packed<Sent>;
}

describe('packViews / unpackViews across a worker', () => {
  let worker: Worker;
  beforeAll(() => {
    worker = new Worker(ECHO, { eval: true, workerData: new URL('../dist/workers/packed-views.js', import.meta.url).href });
  });
  afterAll(() => worker.terminate());

  function roundTrip(value: Sent): Promise<Reply> {
    return new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.postMessage(packViews(value));
    });
  }

  it('keeps offsets and lengths past 4 GiB, and the memory is shared', async () => {
    const buffer = new SharedArrayBuffer(FOUR_GiB + 2 ** 16);
    const arrays = {
      f64: new Float64Array(buffer, 0, 2 ** 29 + 8), // 4 GiB + 64 bytes: arrived with length 8 unpacked
      f32: new Float32Array(buffer, FOUR_GiB + 64, 16), // arrived at byteOffset 64 unpacked
      u8: new Uint8Array(buffer, FOUR_GiB + 8, 8),
      i32: new Int32Array(new SharedArrayBuffer(16)),
    };
    arrays.f64[arrays.f64.length - 1] = 2.5;
    arrays.f32[15] = 7;
    arrays.u8[7] = 1;
    arrays.i32[3] = -3;
    const reply = await roundTrip({ arrays, again: arrays.f32, plain: { n: 1, list: ['a', undefined] } });
    expect(reply.seen).toEqual([
      { name: 'f64', byteOffset: 0, length: 2 ** 29 + 8, last: 2.5 },
      { name: 'f32', byteOffset: FOUR_GiB + 64, length: 16, last: 7 },
      { name: 'u8', byteOffset: FOUR_GiB + 8, length: 8, last: 1 },
      { name: 'i32', byteOffset: 0, length: 4, last: -3 },
    ]);
    expect(reply.sameArray).toBe(true);
    const back = unpackViews(reply.echo);
    back.arrays.f32[0] = 9; // the same memory, not a copy
    expect(arrays.f32[0]).toBe(9);
    expect(back.arrays.f32).toBe(back.again);
    expect(back.plain).toEqual({ n: 1, list: ['a', undefined] });
  });

  it('refuses element types attnpool never sends, naming the type', () => {
    expect(() => packViews({ data: new Int16Array(2) })).toThrow(/cannot send a typed array of type Int16Array/);
  });
});
