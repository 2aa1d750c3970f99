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
import { optionInputsOf, outputsOf, validateAttentionArgs, type AttentionArgs } from '../validate/attention-args.js';
import { inRequest, type ReadRequest } from '../validate/batch-args.js';
import { checkAllApart, type NamedData } from '../validate/overlap.js';
import { allocationBytes, checkCallBytes, type Allocation } from '../validate/call-bytes.js';
import { validateCachedAttentionArgs, type KvCacheLayout, type KvHolder } from '../validate/kv-cache-args.js';
import { validateMhaArgs, type MhaArgs } from '../validate/mha-args.js';
import { validateRotaryArgs, type RotaryArgs } from '../validate/rotary-args.js';
import { checkAllocationLengths } from '../validate/typed-array-limit.js';
import type { CachedKv, HeldKv } from './held-kv.js';
import { CallScratch, type ScratchPool } from './scratch-pool.js';

/** Below this many flops a call runs on the calling thread: ~50 µs per message to a worker and back
 *  outweighs spreading a job this small (≈ 1 ms for the js kernel, well under for wasm). */
export const INLINE_MAX_FLOPS = 2_000_000;

/** Nor does a call whose kernels write more than this (results, scratch): with few flops but a large
 *  result (Sk = 0 and a wide Dv, zero-filled) the writes alone would hold the event loop for seconds. */
const INLINE_MAX_BYTES = 1 << 20;

/** Up to this many flops a call on the threads is small enough for its phases to be coalesced with
 *  other small calls' (dispatch.ts): ~3 ms of one core, so that no call in a coalesced phase waits long
 *  behind the others — a longer call keeps a phase of its own, where the fairness slices of
 *  workers/board/serve.ts apply. Decode steps and short prefills are below it. */
export const COALESCE_MAX_FLOPS = 64_000_000;

/** Where a call's phases run. */
export interface Placement {
  /** Small enough to run on the calling thread. */
  readonly inline: boolean;
  /** On the threads, in phases shared with other small calls' (dispatch.ts). */
  readonly coalesce: boolean;
}

export interface Admitted<A> extends Placement {
  /** The checked arguments, inputs on shared memory. */
  readonly args: A;
  /** Where the copies of non-shared inputs lie, to release once the call no longer reads them. */
  readonly copies: CallScratch | undefined;
}

export class CallAdmission {
  /** `scratch`: where copies of non-shared inputs go (the pool's, reused); without it, new buffers. */
  constructor(private readonly maxCallBytes: number, readonly splitKv: SplitKvSetting, private readonly scratch?: ScratchPool) {}

  attention(q: unknown, k: unknown, v: unknown, options: unknown): Admitted<AttentionArgs> {
    const checked = validateAttentionArgs(q, k, v, options);
    return this.#admit(checked, this.#bound('attention', attentionFlops(checked), attentionAllocations(checked, this.splitKv, false)), shareAttentionInputs);
  }

  /** `holder`: a paged sequence's names and buffers (src/ops/paged-call.ts); by default a KvCache's. */
  cachedAttention(layout: KvCacheLayout, kv: CachedKv, q: unknown, options: unknown, extra: unknown, holder?: KvHolder): Admitted<AttentionArgs> {
    const checked = validateCachedAttentionArgs(layout, kv.keys, kv.values, kv.length, kv.gap, q, options, extra, holder);
    return this.#admit(checked, this.#bound('attention', attentionFlops(checked), attentionAllocations(checked, this.splitKv, true)), shareAttentionInputs);
  }

  /** attentionBatch's requests, each checked as attention() checks a call (errors name the request),
   *  then all of them against each other's outputs, and bounded together: a batch is one call.
   *  `held[i]`: request i's KvCache or paged sequence as of the call, when it has one (held-kv.ts). */
  attentionBatch(requests: readonly ReadRequest[], held: readonly (Pick<HeldKv, 'layout' | 'kv' | 'holder' | 'buffersAs'> | undefined)[]): Admitted<readonly AttentionArgs[]> {
    const checked: AttentionArgs[] = [];
    const allocations: Allocation[] = [];
    const outputs: NamedData[] = [], inputs: NamedData[] = [];
    let flops = 0;
    requests.forEach((request, i) => {
      const kv = held[i];
      let args: AttentionArgs;
      try {
        args = kv
          ? validateCachedAttentionArgs(kv.layout, kv.kv.keys, kv.kv.values, kv.kv.length, kv.kv.gap, request.q, request.options, undefined, kv.holder)
          : validateAttentionArgs(request.q, request.k, request.v, request.options);
      } catch (err) {
        throw inRequest(err, i);
      }
      checked.push(args);
      flops += attentionFlops(args);
      const named = (list: readonly NamedData[]) => list.map(({ name, data }) => ({ name: `requests[${i}].${name}`, data }));
      for (const a of attentionAllocations(args, this.splitKv, kv !== undefined)) allocations.push({ ...a, name: `requests[${i}]: ${a.name}` });
      outputs.push(...named(outputsOf(args)));
      inputs.push(...named(optionInputsOf(args)), ...named(kv ? kv.buffersAs("kv's") : [{ name: 'k', data: args.k.data }, { name: 'v', data: args.v.data }]));
    });
    checkAllApart('attentionBatch', outputs, inputs);
    return this.#admit<readonly AttentionArgs[]>(checked, this.#bound('attentionBatch', flops, allocations),
      (all, copies) => all.map((args) => shareAttentionInputs(args, copies)));
  }

  multiHeadAttention(query: unknown, key: unknown, value: unknown, weights: unknown, options: unknown): Admitted<MhaArgs> {
    const checked = validateMhaArgs(query, key, value, weights, options);
    return this.#admit(checked, this.#bound('multiHeadAttention', mhaFlops(checked), mhaAllocations(checked, this.splitKv)), shareMhaInputs);
  }

  rotary(x: unknown, options: unknown): Admitted<RotaryArgs> {
    const checked = validateRotaryArgs(x, options);
    return this.#admit(checked, this.#bound('rotary', rotaryFlops(checked), rotaryAllocations(checked)), shareRotaryInputs);
  }

  /** The call placed, its non-shared inputs copied by `share`. Calls on the calling thread send no
   *  buffer to the threads: their copies need not be reused. */
  #admit<A>(checked: A, placement: Placement, share: (args: A, copies: CallScratch | undefined) => A): Admitted<A> {
    const copies = placement.inline || !this.scratch ? undefined : new CallScratch(this.scratch);
    // Fields, not `...placement`: a spread into this literal cost ~70 ns of every call (micro-benchmark).
    return { args: share(checked, copies), copies, inline: placement.inline, coalesce: placement.coalesce };
  }

  /** Throws when the call would allocate too much; else where it runs. */
  #bound(op: string, flops: number, allocations: readonly Allocation[]): Placement {
    checkCallBytes(op, allocations, this.maxCallBytes);
    checkAllocationLengths(op, allocations);
    return placementOf(flops, allocations);
  }
}

/** Where a call of `flops` that allocates `allocations` runs. */
export function placementOf(flops: number, allocations: readonly Allocation[]): Placement {
  const written = allocations.reduce((sum, a) => (a.inputCopy ? sum : sum + allocationBytes(a)), 0);
  const inline = flops <= INLINE_MAX_FLOPS && written <= INLINE_MAX_BYTES;
  return { inline, coalesce: !inline && flops <= COALESCE_MAX_FLOPS };
}
