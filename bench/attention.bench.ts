// npm run bench — thread scaling of pool.attention (issue 2's table).
//
// B=1 H=8 D=64, S ∈ {512, 2048, 4096}, causal and not. For each shape: median ms over the runs (after
// a warm-up run), attention GFLOP/s = 4·B·H·Sq·Sk·D / t (halved for causal: masked blocks are
// skipped, not computed), and the speedup of all cores over 1 thread, measured side by side in this
// process. Options: --kernel auto|wasm|js, --seq 512,2048, --iterations N.

import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';
import { AttentionPool, type KernelChoice } from '../src/index.js';
import { randomTensor } from './support/random-tensors.js';

const { values } = parseArgs({
  options: {
    kernel: { type: 'string', default: 'auto' },
    seq: { type: 'string', default: '512,2048,4096' },
    iterations: { type: 'string', default: '5' },
  },
});
const kernel = values.kernel as KernelChoice;
const seqs = values.seq.split(',').map(Number);
const iterations = Number(values.iterations);
const B = 1, H = 8, D = 64;
const threadCounts = [...new Set([1, availableParallelism()])];
const pools = threadCounts.map((threads) => new AttentionPool({ threads, kernel }));

console.log(`attnpool attention — B=${B} H=${H} D=${D}, kernel ${pools[0].kernel}, threads ${threadCounts.join(' vs ')}, median of ${iterations} runs`);
console.log('S      causal  threads  median ms    GFLOP/s  speedup');
for (const S of seqs) {
  const q = randomTensor([B, H, S, D], 1), k = randomTensor([B, H, S, D], 2), v = randomTensor([B, H, S, D], 3);
  for (const causal of [false, true]) {
    const bench = new Bench({ iterations, time: 0, warmupIterations: 1, warmupTime: 0 });
    for (const pool of pools) bench.add(String(pool.threads), async () => { await pool.attention(q, k, v, { causal }); });
    await bench.run();
    const flops = (4 * B * H * S * S * D) / (causal ? 2 : 1);
    const medians = bench.tasks.map((task) => {
      const result = task.result;
      if (!('latency' in result)) throw new Error(`benchmark task ${task.name} failed`);
      return result.latency.p50;
    });
    medians.forEach((ms, i) => {
      const row = [String(S).padEnd(6), String(causal).padEnd(7), String(threadCounts[i]).padEnd(8),
        ms.toFixed(1).padStart(9), (flops / ms / 1e6).toFixed(2).padStart(10), (medians[0] / ms).toFixed(2).padStart(8)];
      console.log(row.join(' '));
    });
  }
}
await Promise.all(pools.map((pool) => pool.close()));
