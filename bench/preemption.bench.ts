// node dist/bench/preemption.bench.js — how soon a long call lets go of the threads.
//
// The long call: q [1, 8, 128, 64] against Sk = 2^20 keys of one kv head (k and v 256 MiB each), about
// 137 G multiply-adds, seconds per tile on this kind of machine. The small call: q [1, 8, 64, 64]
// over 256 keys, large enough to go to the workers (not the calling thread). Three timings:
//   abort → small:  the long call runs for a moment, is aborted, and a small call is issued at once:
//                   its latency is how long the aborted call kept the threads;
//   contention:     the latency of small calls issued while the long call keeps running;
//   close:          how long close() takes with the long call in flight.
// Options: --threads N --kernel auto|wasm|js --keys N (default 1048576) --repeat N (default 3).

import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { AttentionPool, type KernelChoice } from '../src/index.js';
import { randomTensor } from './support/random-tensors.js';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    kernel: { type: 'string', default: 'auto' },
    keys: { type: 'string', default: String(1 << 20) },
    repeat: { type: 'string', default: '3' },
  },
});
const threads = Number(values.threads);
const kernel = values.kernel as KernelChoice;
const Sk = Number(values.keys);
const repeat = Number(values.repeat);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Long enough that every thread is inside a tile of the long call. */
const RUN_BEFORE_MS = 300;

const longQ = randomTensor([1, 8, 128, 64], 1);
const longK = randomTensor([1, 1, Sk, 64], 2);
const longV = randomTensor([1, 1, Sk, 64], 3);
const small = { q: randomTensor([1, 8, 64, 64], 4), k: randomTensor([1, 8, 256, 64], 5), v: randomTensor([1, 8, 256, 64], 6) };

function startLong(pool: AttentionPool, signal?: AbortSignal): Promise<unknown> {
  return pool.attention(longQ, longK, longV, { signal }).catch((err: unknown) => err);
}

async function timeSmall(pool: AttentionPool): Promise<number> {
  const t0 = performance.now();
  await pool.attention(small.q, small.k, small.v);
  return performance.now() - t0;
}

const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');

console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'}; threads ${threads}, kernel ${kernel}, Sk ${Sk}, node ${process.version}`);

const pool = new AttentionPool({ threads, kernel });
const alone: number[] = [];
for (let r = 0; r < repeat + 1; r++) alone.push(await timeSmall(pool)); // the first warms the threads up
console.log(`small call alone (ms):              ${fmt(alone.slice(1))}`);

const afterAbort: number[] = [];
for (let r = 0; r < repeat; r++) {
  const controller = new AbortController();
  const long = startLong(pool, controller.signal);
  await sleep(RUN_BEFORE_MS);
  controller.abort();
  afterAbort.push(await timeSmall(pool));
  await long;
}
console.log(`abort -> small call done (ms):      ${fmt(afterAbort)}`);

const contended: number[] = [];
{
  const controller = new AbortController();
  const long = startLong(pool, controller.signal);
  await sleep(RUN_BEFORE_MS);
  for (let r = 0; r < repeat; r++) contended.push(await timeSmall(pool));
  controller.abort();
  await long;
}
console.log(`small call beside the long (ms):    ${fmt(contended)}`);
await pool.close();

const closing: number[] = [];
for (let r = 0; r < repeat; r++) {
  const p = new AttentionPool({ threads, kernel });
  await timeSmall(p);
  const long = startLong(p);
  await sleep(RUN_BEFORE_MS);
  const t0 = performance.now();
  await p.close();
  closing.push(performance.now() - t0);
  await long;
}
console.log(`close() with the long call (ms):    ${fmt(closing)}`);
