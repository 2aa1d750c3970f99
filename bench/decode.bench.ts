// Decode throughput with the KV cache: a loop of `--steps` steps (default 1,024), each appending one
// position to the cache and attending one query row per head to everything cached —
// B=1 H=8 Hkv=8 D=64, Sq=1, the cache prefilled with `--start` positions (default 4,096).
// Prints tokens/s for 1 and 2 threads and the ratio 2-thread / 1-thread.
//
// Run: node dist/bench/decode.bench.js [--kernel auto|wasm|js] [--steps N] [--start N] [--repeat N]
// Each configuration runs `--repeat` times (default 3) after one warm-up run of 16 steps; the median
// run is reported. The rows of one step are 8 (batch × heads) tiles, so 2 threads can share a step
// even without splitting the keys (split-KV).
//
// With --kv-dtypes float32,float16,int8 it compares cache storage instead: for Hkv 8 and 2 and each
// --sk (default 4096,8192,16384,32768 cached positions), 1 and 2 threads, the dtypes' decode steps
// alternate call by call, each dtype on its own pool (`--steps` timed per dtype, default 64 here, after 8 warm-up), and
// it prints tokens/s and each dtype's ratio to the first.

import { parseArgs } from 'node:util';
import { AttentionPool, type KernelChoice, type Tensor } from '../src/index.js';
import { randomTensor } from './support/random-tensors.js';
import { decodeTokensPerSecond } from './support/decode-dtypes.js';
import type { KvCacheDType } from '../src/index.js';

const { values } = parseArgs({
  options: {
    kernel: { type: 'string', default: 'auto' },
    steps: { type: 'string', default: '1024' },
    start: { type: 'string', default: '4096' },
    repeat: { type: 'string', default: '3' },
    'kv-dtypes': { type: 'string' },
    sk: { type: 'string', default: '4096,8192,16384,32768' },
  },
});
if (values['kv-dtypes'] !== undefined) {
  await compareDtypes(values['kv-dtypes'].split(',') as KvCacheDType[], values.sk.split(',').map(Number));
  process.exit(0);
}

async function compareDtypes(dtypes: readonly KvCacheDType[], sks: readonly number[]): Promise<void> {
  const timedSteps = values.steps === '1024' ? 64 : Number(values.steps); // 1024 is the loop's own default
  console.log(`decode steps by KV storage — B=1 H=8 D=64 Sq=1, ${dtypes.join(' / ')} alternating call by call, ${timedSteps} steps each after 8 warm-up`);
  console.log(['threads', 'Hkv', 'Sk', ...dtypes.map((d) => `${d} tok/s`), ...dtypes.slice(1).map((d) => `${d}/${dtypes[0]}`)].join('\t'));
  for (const threads of [1, 2]) {
    // One pool per dtype (decode-dtypes.ts says why), alternating call by call all the same.
    const pools = dtypes.map(() => new AttentionPool({ threads, kernel: values.kernel as KernelChoice }));
    try {
      for (const kvHeads of [8, 2]) {
        for (const start of sks) {
          const rates = await decodeTokensPerSecond(pools, { heads: 8, kvHeads, headDim: 64, start }, dtypes, 8, timedSteps);
          console.log([threads, kvHeads, start, ...rates.map((r) => r.toFixed(0)), ...rates.slice(1).map((r) => (r / rates[0]).toFixed(2) + '×')].join('\t'));
        }
      }
    } finally {
      await Promise.all(pools.map((pool) => pool.close()));
    }
  }
}
const kernel = values.kernel as KernelChoice;
const steps = Number(values.steps), start = Number(values.start), repeat = Number(values.repeat);
const B = 1, H = 8, Hkv = 8, D = 64;
const WARMUP_STEPS = 16;

const prefillK = randomTensor([B, Hkv, start, D], 1), prefillV = randomTensor([B, Hkv, start, D], 2);
// Step i's new key, value and query: [1, H, 1, D] slices of [steps, H, D] arrays, without copies.
const stepK = randomTensor([steps, Hkv, D], 3), stepV = randomTensor([steps, Hkv, D], 4), stepQ = randomTensor([steps, H, D], 5);
const token = (t: Tensor, i: number, heads: number): Tensor => ({ data: t.data.subarray(i * heads * D, (i + 1) * heads * D), shape: [B, heads, 1, D] });

/** Seconds for `count` decode steps from a cache holding `start` positions. */
async function decodeRun(pool: AttentionPool, count: number): Promise<number> {
  const cache = pool.createKvCache({ batch: B, kvHeads: Hkv, headDim: D, capacity: start + count });
  cache.append(prefillK, prefillV);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    cache.append(token(stepK, i, Hkv), token(stepV, i, Hkv));
    await pool.attention(token(stepQ, i, H), cache, { causal: true });
  }
  return (performance.now() - t0) / 1000;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const tokensPerSecond: number[] = [];
for (const threads of [1, 2]) {
  const pool = new AttentionPool({ threads, kernel });
  try {
    if (threads === 1) console.log(`attnpool decode with KV cache — B=${B} H=${H} Hkv=${Hkv} D=${D}, Sq=1, Sk ${start} → ${start + steps}, kernel ${pool.kernel}, median of ${repeat} runs`);
    await decodeRun(pool, WARMUP_STEPS);
    const runs: number[] = [];
    for (let r = 0; r < repeat; r++) runs.push(await decodeRun(pool, steps));
    const seconds = median(runs);
    tokensPerSecond.push(steps / seconds);
    console.log(`threads ${threads}: ${(steps / seconds).toFixed(0).padStart(6)} tokens/s  (${((seconds / steps) * 1000).toFixed(3)} ms/step; runs ${runs.map((s) => s.toFixed(2)).join(', ')} s)`);
  } finally {
    await pool.close();
  }
}
console.log(`ratio 2-thread / 1-thread: ${(tokensPerSecond[1] / tokensPerSecond[0]).toFixed(2)}`);
