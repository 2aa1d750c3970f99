// npm run bench — thread scaling of pool.attention (issue 2's table).
//
// B=1 H=8 D=64, S ∈ {512, 2048, 4096}, causal and not. For each shape: median ms over the runs (after
// a warm-up run), attention GFLOP/s = 4·B·H·Sq·Sk·D / t (halved for causal: masked blocks are
// skipped, not computed), and the speedup of all cores over 1 thread, measured side by side in this
// process. Options: --kernel auto|wasm|js, --wasm-build auto|simd|relaxed-simd (the table's pools),
// --seq 512,2048, --iterations N.
//
// Under each shape, the relaxed-SIMD build (fused multiply-add) against the plain-SIMD build: two
// 1-thread pools, one pinned to each build, alternating call by call as the thread counts do; the line
// gives simd time / relaxed time for the medians and for the fastest runs. One thread each: the builds
// differ only in the kernel's arithmetic, which threads multiply alike, and a 1-thread run is the one
// least disturbed by other load on the machine. On a runtime without
// relaxed SIMD (Node 20 without --experimental-wasm-relaxed-simd) one line says it was skipped and why.
//
// The pools take turns call by call (round r: 1 thread, then all threads), not tinybench's task after
// task: this VM's speed drifts by up to 2× over tens of seconds (other tenants on the host; measured
// 1-thread S=2048 at 368 and 651 ms a minute apart), and a drift during one task's block of runs
// would show up as a false speedup or slowdown. Interleaved, both sides see the same conditions.
// The table also gives each side's fastest run and the speedup between those: interference only ever
// adds time, and it hits a 2-thread run harder than a 1-thread one (a neighbour on either core slows
// it, and a 1-thread run can sit on the quiet core), so the medians' ratio understates the scaling
// in a noisy spell; the fastest runs show what the pool does when the cores are its own.

import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { AttentionPool, type KernelChoice, type WasmBuildChoice } from '../src/index.js';
import { median } from './peer/timing.js';
import { timeInterleaved } from './support/interleaved.js';
import { randomTensor } from './support/random-tensors.js';
import { openBuildPools } from './support/wasm-builds.js';

const { values } = parseArgs({
  options: {
    kernel: { type: 'string', default: 'auto' },
    'wasm-build': { type: 'string', default: 'auto' },
    seq: { type: 'string', default: '512,2048,4096' },
    iterations: { type: 'string', default: '5' },
  },
});
const kernel = values.kernel as KernelChoice;
const wasmBuild = values['wasm-build'] as WasmBuildChoice;
const seqs = values.seq.split(',').map(Number);
const iterations = Number(values.iterations);
const B = 1, H = 8, D = 64;
const threadCounts = [...new Set([1, availableParallelism()])];
const pools = threadCounts.map((threads) => new AttentionPool({ threads, kernel, wasmBuild }));
const builds = openBuildPools(1, kernel);

console.log(`attnpool attention — B=${B} H=${H} D=${D}, kernel ${pools[0].kernel}${pools[0].wasmVariant ? ` (${pools[0].wasmVariant})` : ''}, threads ${threadCounts.join(' vs ')}, median of ${iterations} runs`);
console.log('S      causal  threads  median ms    GFLOP/s  speedup   best ms  best speedup');
for (const S of seqs) {
  const q = randomTensor([B, H, S, D], 1), k = randomTensor([B, H, S, D], 2), v = randomTensor([B, H, S, D], 3);
  for (const causal of [false, true]) {
    const calls = pools.map((pool) => async () => { await pool.attention(q, k, v, { causal }); });
    const times = await timeInterleaved(calls, 1, iterations);
    const medians = times.map(median), bests = times.map((runs) => Math.min(...runs));
    const flops = (4 * B * H * S * S * D) / (causal ? 2 : 1);
    medians.forEach((ms, i) => {
      const row = [String(S).padEnd(6), String(causal).padEnd(7), String(threadCounts[i]).padEnd(8),
        ms.toFixed(1).padStart(9), (flops / ms / 1e6).toFixed(2).padStart(10), (medians[0] / ms).toFixed(2).padStart(8),
        bests[i].toFixed(1).padStart(9), (bests[0] / bests[i]).toFixed(2).padStart(13)];
      console.log(row.join(' '));
    });
    if (typeof builds === 'string') continue;
    const [simd, relaxed] = await timeInterleaved([builds.simd, builds.relaxed].map((pool) =>
      async () => { await pool.attention(q, k, v, { causal }); }), 1, iterations);
    console.log(`${''.padEnd(15)}relaxed-simd vs simd, 1 thread: median ${median(relaxed).toFixed(1)} vs ${median(simd).toFixed(1)} ms` +
      ` = ${(median(simd) / median(relaxed)).toFixed(2)}× faster, best ${(Math.min(...simd) / Math.min(...relaxed)).toFixed(2)}×`);
  }
}
if (typeof builds === 'string') console.log(`relaxed-simd vs simd: skipped (${builds})`);
await Promise.all([...pools, ...(typeof builds === 'string' ? [] : [builds.simd, builds.relaxed])].map((pool) => pool.close()));
