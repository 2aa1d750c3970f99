// node dist/bench/decode-split.bench.js — one decoding step against a long KV sequence: split-KV vs not.
//
// q [1, H, 1, D] attends k, v [1, H, Sk, D] (causal; with Sq = 1 the query sees every key). The planner
// splits such calls into 64 (head, key split) tiles whatever the thread count (src/plan/split-kv-plan.ts);
// the "unsplit" rows force the one-tile-per-head plan through the test-only split-KV hook, for
// comparison. Printed: median ms over the runs (after a warm-up run), keys/ms, and speedups against the
// 1-thread split run of the same process.
// Options: --sk 131072 --heads 8 --head-dim 64 --threads 1,2 --iterations 15 --kernel auto|wasm|js.

import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';
import { AttentionPool, type AttentionPoolOptions, type KernelChoice } from '../src/index.js';
import { keysPerSplit } from '../src/plan/split-kv-plan.js';
import { splitKvOption } from '../testkit/hooks-option.js';
import { randomTensor } from './support/random-tensors.js';

const { values } = parseArgs({
  options: {
    sk: { type: 'string', default: '131072' },
    heads: { type: 'string', default: '8' },
    'head-dim': { type: 'string', default: '64' },
    threads: { type: 'string', default: '1,2' },
    iterations: { type: 'string', default: '15' },
    kernel: { type: 'string', default: 'auto' },
  },
});
const Sk = Number(values.sk), H = Number(values.heads), D = Number(values['head-dim']);
const threadCounts = values.threads.split(',').map(Number);
const iterations = Number(values.iterations);
const kernel = values.kernel as KernelChoice;

const q = randomTensor([1, H, 1, D], 1), k = randomTensor([1, H, Sk, D], 2), v = randomTensor([1, H, Sk, D], 3);
const splitKeys = keysPerSplit({ B: 1, H, Sq: 1, Sk, weights: false });

interface Config { readonly label: string; readonly threads: number; readonly pool: AttentionPool }
const configs: Config[] = [];
for (const mode of ['split', 'unsplit'] as const) {
  for (const threads of threadCounts) {
    const options: AttentionPoolOptions = { threads, kernel, ...(mode === 'unsplit' && splitKvOption('off')) };
    configs.push({ label: `${mode} ${threads}`, threads, pool: new AttentionPool(options) });
  }
}

console.log(`attnpool decode step — B1 H${H} Sq1 Sk${Sk} D${D} causal, kernel ${configs[0].pool.kernel}, median of ${iterations} runs`);
console.log(`split-KV plan: ${splitKeys ? `${Math.ceil(Sk / splitKeys)} splits of ${splitKeys} keys` : 'no split'} per head`);
const bench = new Bench({ iterations, time: 0, warmupIterations: 1, warmupTime: 0 });
for (const c of configs) bench.add(c.label, async () => { await c.pool.attention(q, k, v, { causal: true }); });
await bench.run();
const medians = bench.tasks.map((task) => {
  if (!('latency' in task.result)) throw new Error(`decode-split.bench: ${task.name} failed`);
  return task.result.latency.p50;
});
const baseline = medians[0]; // split, first thread count
console.log('plan     threads  median ms   keys/ms  vs split 1st');
configs.forEach((c, n) => {
  const [mode] = c.label.split(' ');
  console.log([mode.padEnd(8), String(c.threads).padEnd(8), medians[n].toFixed(2).padStart(9),
    ((H * Sk) / medians[n]).toFixed(0).padStart(9), (baseline / medians[n]).toFixed(2).padStart(12) + '×'].join(' '));
});
await Promise.all(configs.map((c) => c.pool.close()));
