// How fast this machine streams memory into a core: a WebAssembly SIMD loop summing 16-byte loads over
// a buffer far larger than any L3 (512 MiB), on 1 and on 2 worker threads (each reading its own half of
// one shared buffer, released together). It is the ceiling a decode step over K/V cannot pass: the serving
// benchmark prints it in its header and how close each side gets to it.
//
// The module is a few dozen bytes written out here (no build step): one function sum(from, to) that
// adds every v128 in [from, to) — four independent accumulators, 64 bytes a turn — into an i32x4 and
// returns lane 0 (a result, so the loads cannot be dropped). Memory: imported, shared, so both threads
// read the one buffer the main thread filled (a never-written page would read the kernel's one zero page,
// from cache, and flatter the figure).

import { Worker } from 'node:worker_threads';

export const READ_BUFFER_BYTES = 512 * 2 ** 20;
const PAGE = 65536;
const PASSES = 4; // the first warms the TLB; the best of the others counts

const hex = (s: string) => s.trim().split(/\s+/).map((b) => parseInt(b, 16));
/** A section or a function body: its bytes after their length (every length here is under 128: one LEB128 byte). */
const sized = (bytes: number[]) => [bytes.length, ...bytes];
/** acc_n = i32x4.add(acc_n, v128.load offset=`offset` align=16 (from)) */
const accumulate = (acc: number, offset: number) => hex(`20 0${acc} 20 00 fd 00 04 ${offset.toString(16).padStart(2, '0')} fd ae 01 21 0${acc}`);
const SUM_BODY = [
  ...hex('01 04 7b'), // locals 2–5: four v128 accumulators
  ...hex('03 40'), // loop
  ...accumulate(2, 0), ...accumulate(3, 16), ...accumulate(4, 32), ...accumulate(5, 48),
  ...hex('20 00 41 c0 00 6a 22 00 20 01 49 0d 00 0b'), // from += 64; br_if (from < to); end
  ...hex('20 02 20 03 fd ae 01 20 04 fd ae 01 20 05 fd ae 01 fd 1b 00 0b'), // lane 0 of acc2 + acc3 + acc4 + acc5
];
const READ_LOOP_WASM = Uint8Array.from([
  ...hex('00 61 73 6d 01 00 00 00'),
  1, ...sized(hex('01 60 02 7f 7f 01 7f')), // type: (i32 from, i32 to) -> i32
  2, ...sized(hex('01 03 65 6e 76 03 6d 65 6d 02 03 01 80 80 04')), // import env.mem: shared memory, 1 to 65536 pages
  3, ...sized(hex('01 00')), // one function of that type
  7, ...sized(hex('01 03 73 75 6d 00 00')), // export "sum"
  10, ...sized([1, ...sized(SUM_BODY)]),
]);

// CommonJS, run with eval: wait at the gate with the others, then time PASSES sweeps of [from, to).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory, from, to, passes, gate } = workerData;
const sum = new WebAssembly.Instance(module, { env: { mem: memory } }).exports.sum;
const flags = new Int32Array(gate);
Atomics.add(flags, 1, 1);
Atomics.notify(flags, 1);
Atomics.wait(flags, 0, 0);
const times = [];
for (let p = 0; p < passes; p++) {
  const t0 = performance.now();
  sum(from, to);
  times.push(performance.now() - t0);
}
parentPort.postMessage(times);
`;

export interface ReadBandwidth {
  readonly bufferBytes: number;
  /** GB/s (10⁹ bytes) on 1 thread, and summed over 2 threads reading at once. */
  readonly oneThreadGBps: number;
  readonly twoThreadsGBps: number;
}

export async function measureReadBandwidth(bufferBytes = READ_BUFFER_BYTES): Promise<ReadBandwidth> {
  const pages = Math.ceil(bufferBytes / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  new Uint8Array(memory.buffer).fill(1);
  const module = await WebAssembly.compile(READ_LOOP_WASM);
  const bytes = pages * PAGE;
  return { bufferBytes: bytes, oneThreadGBps: await sweep(module, memory, bytes, 1), twoThreadsGBps: await sweep(module, memory, bytes, 2) };
}

/** `threads` workers, each sweeping its share of the buffer; GB/s of the best pass, summed over the workers. */
async function sweep(module: WebAssembly.Module, memory: WebAssembly.Memory, bytes: number, threads: number): Promise<number> {
  const gate = new SharedArrayBuffer(8);
  const flags = new Int32Array(gate);
  const share = Math.floor(bytes / threads / 64) * 64;
  const results = Array.from({ length: threads }, (_, i) => new Promise<number[]>((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, from: i * share, to: (i + 1) * share, passes: PASSES, gate } });
    worker.once('message', (times: number[]) => {
      resolve(times);
      void worker.terminate();
    });
    worker.once('error', reject);
  }));
  while (Atomics.load(flags, 1) < threads) await new Promise((r) => setTimeout(r, 1));
  Atomics.store(flags, 0, 1);
  Atomics.notify(flags, 0);
  const times = await Promise.all(results);
  let best = 0;
  for (let p = 1; p < PASSES; p++) best = Math.max(best, times.reduce((gbps, t) => gbps + share / (t[p]! / 1000) / 1e9, 0));
  return best;
}
