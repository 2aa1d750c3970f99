// What every call does synchronously, before any work starts, in AttentionPool and RemoteEngine
// alike: its arguments are read and checked once, what it would allocate is bounded (maxCallBytes and
// the runtime's typed-array length: a RangeError before anything is allocated), and its non-shared
// inputs are copied to shared memory. What a call allocates depends on whether it splits its keys
// (the partial states), so the admission applies the pool's split-KV setting too.

import { attentionFlops } from '../ops/attention-op.js';
import { attentionAllocations, mhaAllocations, rotaryAllocations } from '../ops/call-allocations.js';
import { mhaFlops } from '../ops/mha-op.js';
import { rotaryFlops } from '../ops/rotary-op.js';
import { shareAttentionInputs, shareMhaInputs, shareRotaryInputs } from '../ops/shared-inputs.js';
import type { SplitKvSetting } from '../plan/split-kv-setting.js';
import type { KvSnapshot } from '../kv-cache.js';
import { validateAttentionArgs, type AttentionArgs } from '../validate/attention-args.js';
import { allocationBytes, checkCallBytes, type Allocation } from '../validate/call-bytes.js';
import { validateCachedAttentionArgs, type KvCacheLayout } from '../validate/kv-cache-args.js';
import { validateMhaArgs, type MhaArgs } from '../validate/mha-args.js';
import { validateRotaryArgs, type RotaryArgs } from '../validate/rotary-args.js';
import { checkAllocationLengths } from '../validate/typed-array-limit.js';

/** Below this many flops a call runs on the calling thread: ~50 µs per message to a worker and back
 *  outweighs spreading a job this small (≈ 1 ms for the js kernel, well under for wasm). */
export const INLINE_MAX_FLOPS = 2_000_000;

/** Nor does a call whose kernels write more than this (results, scratch): with few flops but a large
 *  result (Sk = 0 and a wide Dv, zero-filled) the writes alone would hold the event loop for seconds. */
const INLINE_MAX_BYTES = 1 << 20;

export interface Admitted<A> {
  /** The checked arguments, inputs on shared memory. */
  readonly args: A;
  /** Small enough to run on the calling thread. */
  readonly inline: boolean;
}

/** What a call over a KvCache reads: its snapshot's buffers and length (kv-cache.ts). */
type CachedKv = Pick<KvSnapshot, 'keys' | 'values' | 'length' | 'gap'>;

export class CallAdmission {
  constructor(private readonly maxCallBytes: number, readonly splitKv: SplitKvSetting) {}

  attention(q: unknown, k: unknown, v: unknown, options: unknown): Admitted<AttentionArgs> {
    const checked = validateAttentionArgs(q, k, v, options);
    const inline = this.#bound('attention', attentionFlops(checked), attentionAllocations(checked, this.splitKv, false));
    return { args: shareAttentionInputs(checked), inline };
  }

  cachedAttention(layout: KvCacheLayout, kv: CachedKv, q: unknown, options: unknown, extra: unknown): Admitted<AttentionArgs> {
    const checked = validateCachedAttentionArgs(layout, kv.keys, kv.values, kv.length, kv.gap, q, options, extra);
    const inline = this.#bound('attention', attentionFlops(checked), attentionAllocations(checked, this.splitKv, true));
    return { args: shareAttentionInputs(checked), inline };
  }

  multiHeadAttention(query: unknown, key: unknown, value: unknown, weights: unknown, options: unknown): Admitted<MhaArgs> {
    const checked = validateMhaArgs(query, key, value, weights, options);
    const inline = this.#bound('multiHeadAttention', mhaFlops(checked), mhaAllocations(checked, this.splitKv));
    return { args: shareMhaInputs(checked), inline };
  }

  rotary(x: unknown, options: unknown): Admitted<RotaryArgs> {
    const checked = validateRotaryArgs(x, options);
    const inline = this.#bound('rotary', rotaryFlops(checked), rotaryAllocations(checked));
    return { args: shareRotaryInputs(checked), inline };
  }

  /** Throws when the call would allocate too much; else whether it is small enough for this thread. */
  #bound(op: string, flops: number, allocations: readonly Allocation[]): boolean {
    checkCallBytes(op, allocations, this.maxCallBytes);
    checkAllocationLengths(op, allocations);
    const written = allocations.reduce((sum, a) => (a.inputCopy ? sum : sum + allocationBytes(a)), 0);
    return flops <= INLINE_MAX_FLOPS && written <= INLINE_MAX_BYTES;
  }
}
