// node dist/bench/variants.bench.js — what each attention variant costs the kernel: pool.attention
// B1 H8 S1024 D64 on one thread, without and with each option, the calls alternating one by one in
// this process (so a busy neighbour slows every variant alike), on the wasm and js kernels.
//   plain           no option                       softcap       softcap: 30
//   alibi           the paper's slopes for 8 heads   sinks         one sink logit per head
//   all four        softcap + alibi + sinks + top-left causal, against causal bottom-right
//   causal top-left against causal bottom-right (the same number of keys per row at Sq = Sk)
// Prints the median ms of each and its ratio to its baseline. Options: --rounds N (wasm, default 15),
// --js-rounds N (default 3), --threads N (default 1), --seq N (default 1024).

import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { AttentionPool, alibiSlopes, tensor, type AttentionOptions, type KernelName } from '../src/index.js';
import { randomTensor } from './support/random-tensors.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '15' }, 'js-rounds': { type: 'string', default: '3' },
    threads: { type: 'string', default: '1' }, seq: { type: 'string', default: '1024' },
  },
});
const B = 1, H = 8, S = Number(values.seq), D = 64;
const q = randomTensor([B, H, S, D], 1), k = randomTensor([B, H, S, D], 2), v = randomTensor([B, H, S, D], 3);
const sinks = tensor([H], new Array<number>(H).fill(0));
const VARIANTS: readonly { name: string; options: AttentionOptions; baseline: string }[] = [
  { name: 'plain', options: {}, baseline: 'plain' },
  { name: 'softcap', options: { softcap: 30 }, baseline: 'plain' },
  { name: 'alibi', options: { alibiSlopes: alibiSlopes(H) }, baseline: 'plain' },
  { name: 'sinks', options: { sinks }, baseline: 'plain' },
  { name: 'causal bottom-right', options: { causal: true }, baseline: 'causal bottom-right' },
  { name: 'causal top-left', options: { causal: 'top-left' }, baseline: 'causal bottom-right' },
  { name: 'all four (top-left)', options: { causal: 'top-left', softcap: 30, alibiSlopes: alibiSlopes(H), sinks }, baseline: 'causal bottom-right' },
];

async function measure(kernel: KernelName, rounds: number): Promise<void> {
  const pool = new AttentionPool({ threads: Number(values.threads), kernel });
  try {
    const times = new Map(VARIANTS.map((x) => [x.name, [] as number[]]));
    for (const x of VARIANTS) await pool.attention(q, k, v, x.options); // warm-up
    for (let r = 0; r < rounds; r++) {
      for (const x of VARIANTS) {
        const t0 = performance.now();
        await pool.attention(q, k, v, x.options);
        times.get(x.name)!.push(performance.now() - t0);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(`\n${kernel} kernel, ${pool.threads} thread(s), B${B} H${H} S${S} D${D}, median of ${rounds} alternating rounds:`);
    for (const x of VARIANTS) {
      const t = median(times.get(x.name)!), base = median(times.get(x.baseline)!);
      console.log(`  ${x.name.padEnd(22)} ${t.toFixed(2).padStart(9)} ms   ×${(t / base).toFixed(3)} vs ${x.baseline}`);
    }
  } finally {
    await pool.close();
  }
}

console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'}`);
await measure('wasm', Number(values.rounds));
await measure('js', Number(values['js-rounds']));
