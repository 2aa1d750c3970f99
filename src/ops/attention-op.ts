// pool.attention: one phase of (batch, head, query-row block) tiles, or split-KV's two phases
// (attention-phases.ts).

import type { KvSource, KvStorage, PagedKv, View4 } from '../../workers/kernels/jobs.js';
import type { KvRing } from '../../workers/kernels/kv-ring.js';
import type { StoredArray } from '../../workers/dtypes.js';
import type { FloatArray, Tensor } from '../tensor.js';
import type { AttentionArgs } from '../validate/attention-args.js';
import { broadcastTo4 } from '../validate/broadcast.js';
import { runAttentionJob, type AttentionJobBody, type AttentionRun } from './attention-phases.js';
import { jobVariants } from './job-variants.js';
import { contiguous4, outputBuffer } from './views.js';

/** Query–key pairs a call scores: Sq·Sk, or under causal the keys each row sees. Bottom-right aligned,
 *  the last n = min(Sq, Sk) rows see Sk − n + 1 … Sk keys and rows above them none; top-left, the first
 *  n rows see 1 … n keys and rows below them all Sk. A decode step (Sq = 1, bottom-right) sees all its
 *  keys: halving, right only for Sq = Sk, sent 1–2 MFLOP decode steps to the calling thread, where they
 *  held it 250 µs each. */
export function scoredPairs(Sq: number, Sk: number, causal: boolean, topLeft = false): number {
  if (!causal) return Sq * Sk;
  const n = Math.min(Sq, Sk);
  return topLeft ? (n * (n + 1)) / 2 + (Sq - n) * Sk : n * (Sk - n + 1) + (n * (n - 1)) / 2;
}

/** Multiply-adds of the call ×2: what the inline threshold and the benchmarks count. A sliding window
 *  caps each row at `window` keys. */
export function attentionFlops(a: Pick<AttentionArgs, 'B' | 'H' | 'Sq' | 'Sk' | 'D' | 'Dv' | 'causal' | 'topLeft' | 'window'>): number {
  const perPair = 2 * a.B * a.H * (a.D + a.Dv);
  if (a.window !== undefined) return perPair * a.Sq * Math.min(a.Sk, a.window);
  return perPair * scoredPairs(a.Sq, a.Sk, a.causal, a.topLeft);
}

/** Where a job reads K and V (see runAttention). */
export interface AttentionKv {
  readonly k: View4<FloatArray | StoredArray>;
  readonly v: View4<FloatArray | StoredArray>;
  readonly kvSource?: KvSource;
  readonly kvStorage?: KvStorage;
  readonly kvRing?: KvRing;
  readonly paged?: PagedKv;
}

/** `args`' inputs are on shared memory (shared-inputs.ts). `kv`: where the kernels read K and V — by
 *  default args.k and args.v; a KvCache passes strided views over its own buffers instead, the
 *  identity of those buffers, for float16 / int8 caches how they are stored, and for a wrapped window
 *  cache its ring (kv-cache.ts); a paged sequence its snapshot's pages (paged-call.ts). */
export async function runAttention(
  args: AttentionArgs, run: AttentionRun,
  kv: AttentionKv = {
    k: contiguous4(args.k.data, args.Hkv, args.Sk, args.D),
    v: contiguous4(args.v.data, args.Hkv, args.Sk, args.Dv),
  },
): Promise<Tensor<FloatArray>> {
  const { B, H, Hkv, Sq, Sk, D, Dv } = args;
  const scores = [B, H, Sq, Sk] as const; // what a mask or bias broadcasts to (checked by validation)
  const { scratch } = run.ctx;
  const out = outputBuffer(args.out, args.q.data, [B, H, Sq, Dv], B * H * Sq * Dv, scratch);
  const lse = args.lse ? outputBuffer(args.lse, args.q.data, [B, H, Sq], B * H * Sq, scratch) : undefined;
  // Field by field, those a call does not use undefined (the board's descriptor leaves them out): built
  // with spreads of the optional ones, this literal took ~140 ns instead of ~35 (micro-benchmark).
  const { causal, topLeft, softcap, alibiSlopes, sinks } = jobVariants(args);
  const job: AttentionJobBody = {
    kind: 'attention', B, H, Hkv, Sq, Sk, D, Dv, scale: args.scale, causal, topLeft, softcap, alibiSlopes, sinks, window: args.window,
    q: contiguous4(args.q.data, H, Sq, D),
    k: kv.k,
    v: kv.v,
    kvSource: kv.kvSource,
    kvRing: kv.kvRing,
    gap: args.gap,
    kvStorage: kv.kvStorage,
    paged: kv.paged,
    out: contiguous4(out.data, H, Sq, Dv),
    lse: lse ? contiguous4(lse.data, H, Sq, 1) : undefined,
    mask: args.mask && broadcastTo4('attention', 'options.mask', args.mask, scores),
    bias: args.bias && broadcastTo4('attention', 'options.bias', args.bias, scores),
  };
  await runAttentionJob(job, run);
  lse?.finish();
  const result = out.finish();
  return args.outGiven ?? result; // a given out is returned as the caller's own object
}
