// Whether a benchmark's tensors can exist at all, checked before any is allocated: a size no machine
// can hold (bench --seq 1e9) is a usage error naming the options that multiply into it and the bytes it
// needs, not V8's "Array buffer allocation failed" after the fact.

import { constants } from 'node:buffer';
import { totalmem } from 'node:os';
import { UsageError } from '../errors.js';
import type { BenchShape } from './workload.js';

const FLOAT32_BYTES = 4;

/** One tensor the benchmark allocates, and the options its dimensions come from. */
interface SizedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly options: readonly string[];
}

/** The inputs ./workload.ts makes and the output of one call: a lower bound on what a run needs. */
function benchTensors(s: BenchShape): SizedTensor[] {
  const { batch: B, heads: H, kvHeads: Hkv, seq: S, headDim: D } = s;
  const opts = (...names: (keyof typeof OPTION)[]) => names.map((n) => `${OPTION[n]} ${s[n]}`);
  if (s.mode === 'attention') {
    const qLike = { shape: [B, H, S, D], options: opts('batch', 'heads', 'seq', 'headDim') };
    const kvLike = { shape: [B, Hkv, S, D], options: opts('batch', 'kvHeads', 'seq', 'headDim') };
    return [{ name: 'q', ...qLike }, { name: 'k', ...kvLike }, { name: 'v', ...kvLike }, { name: 'the output', ...qLike }];
  }
  const E = H * D;
  const xLike = { shape: [B, S, E], options: opts('batch', 'seq', 'heads', 'headDim') };
  return [
    { name: 'x', ...xLike },
    { name: 'in_proj_weight', shape: [E + 2 * Hkv * D, E], options: opts('heads', 'kvHeads', 'headDim') },
    { name: 'out_proj_weight', shape: [E, E], options: opts('heads', 'headDim') },
    { name: 'the output', ...xLike },
  ];
}

const OPTION = { batch: '--batch', heads: '--heads', kvHeads: '--kv-heads', seq: '--seq', headDim: '--head-dim' } as const;

const elements = (t: SizedTensor) => t.shape.reduce((n, d) => n * d, 1);

/** Throws a UsageError when the largest tensor is more than a typed array holds, or all of them together
 *  more than the machine's memory. */
export function checkBenchFits(shape: BenchShape): void {
  const tensors = benchTensors(shape);
  const largest = tensors.reduce((a, b) => (elements(b) > elements(a) ? b : a));
  const totalBytes = tensors.reduce((n, t) => n + elements(t) * FLOAT32_BYTES, 0);
  const reason = elements(largest) > constants.MAX_LENGTH
    ? `a typed array holds at most ${constants.MAX_LENGTH} elements`
    : totalBytes > totalmem() ? `the inputs and output need ${totalBytes} bytes in all, more than this machine's ${totalmem()} bytes of memory`
    : undefined;
  if (reason === undefined) return;
  throw new UsageError(`too large: ${largest.name} [${largest.shape.join(', ')}] (${largest.options.join(', ')}) ` +
    `has ${elements(largest)} elements and needs ${elements(largest) * FLOAT32_BYTES} bytes as float32; ${reason}`);
}
