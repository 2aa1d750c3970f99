// pool.attention: one phase of (batch, head, query-row block) tiles.

import type { AttentionJob, KernelName, View4 } from '../../workers/kernels/jobs.js';
import { planAttentionTiles } from '../plan/attention-plan.js';
import type { FloatArray, Tensor } from '../tensor.js';
import type { AttentionArgs } from '../validate/attention-args.js';
import type { CallContext } from '../pool/call-context.js';
import type { Dispatcher } from '../pool/dispatch.js';
import { toShared } from '../tensor.js';
import { contiguous4, outputBuffer } from './views.js';

/** Multiply-adds of the call ×2: what the inline threshold and the benchmarks count. Causal halves it. */
export function attentionFlops(a: Pick<AttentionArgs, 'B' | 'H' | 'Sq' | 'Sk' | 'D' | 'Dv' | 'causal'>): number {
  const full = 2 * a.B * a.H * a.Sq * a.Sk * (a.D + a.Dv);
  return a.causal ? full / 2 : full;
}

/** `kv`: where the kernels read K and V — by default args.k and args.v; a KvCache passes strided views
 *  over its own buffers instead (kv-cache.ts). */
export async function runAttention(
  args: AttentionArgs, ctx: CallContext, dispatcher: Dispatcher, threads: number, kernel: KernelName,
  kv: { readonly k: View4; readonly v: View4 } = {
    k: contiguous4(toShared(args.k.data), args.Hkv, args.Sk, args.D),
    v: contiguous4(toShared(args.v.data), args.Hkv, args.Sk, args.Dv),
  },
): Promise<Tensor<FloatArray>> {
  const { B, H, Hkv, Sq, Sk, D, Dv } = args;
  const out = outputBuffer(args.out, args.q.data, [B, H, Sq, Dv], B * H * Sq * Dv);
  const lse = args.lse ? outputBuffer(args.lse, args.q.data, [B, H, Sq], B * H * Sq) : undefined;
  const job: AttentionJob = {
    kind: 'attention', B, H, Hkv, Sq, Sk, D, Dv, scale: args.scale, causal: args.causal,
    q: contiguous4(toShared(args.q.data), H, Sq, D),
    k: kv.k,
    v: kv.v,
    out: contiguous4(out.data, H, Sq, Dv),
    lse: lse ? contiguous4(lse.data, H, Sq, 1) : undefined,
    mask: args.mask ? { ...args.mask, data: toShared(args.mask.data) } : undefined,
    bias: args.bias ? { ...args.bias, data: toShared(args.bias.data) } : undefined,
    tiles: planAttentionTiles({ B, H, Sq, Sk, causal: args.causal }, threads),
  };
  await dispatcher.runPhase(ctx, job, kernel);
  lse?.finish();
  return out.finish();
}
