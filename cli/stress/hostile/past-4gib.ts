// Tensors whose views sit at byteOffset ≥ 2^32 of one SharedArrayBuffer: structured cloning keeps a
// view's offset only modulo 2^32, so a pool that trusted it would read other memory, silently. Each
// call must give the bits of the same call on small tensors. The buffer is allocated once per run and
// costs only the pages written (under 1 MiB): the kernel maps a SharedArrayBuffer's pages when touched.

import { zeros, type Tensor } from '../../../src/index.js';
import type { Random } from '../../random.js';
import { randomBits, randomFloats, type ValidCall } from '../calls.js';
import type { HostileCall } from './hostile-call.js';
import { Placer } from './placer.js';

const FOUR_GiB = 2 ** 32;
/** Room past 4 GiB for every tensor below. */
const ROOM = 2 ** 21;

function attentionPast4GiB(random: Random, at: Placer): HostileCall {
  // 64 rows over 128 keys, 4 heads over 2 kv heads, causal, mask and bias: 2 Mflop and more, on the workers.
  const B = 1, H = 4, Hkv = 2, Sq = 64, Sk = 128, D = 64;
  const small = {
    q: randomFloats(random, [B, H, Sq, D]) as Tensor, k: randomFloats(random, [B, Hkv, Sk, D]) as Tensor, v: randomFloats(random, [B, Hkv, Sk, D]) as Tensor,
    mask: randomBits(random, [1, 1, Sq, Sk], 0.75), bias: randomFloats(random, [1, H, Sq, Sk]) as Tensor,
  };
  const big = {
    q: at.place(small.q), k: at.place(small.k), v: at.place(small.v), mask: at.place(small.mask), bias: at.place(small.bias),
    out: at.place(zeros([B, H, Sq, D])), lse: at.place(zeros([B, H, Sq])),
  };
  return {
    kind: 'matching', hostileClass: 'past-4gib', label: 'attention with q, k, v, mask, bias, out and lse past 4 GiB',
    // The views of out and lse are written by every run.
    oneAtATime: true,
    honest: {
      label: 'attention on small tensors',
      async run(pool) {
        const lse = zeros([B, H, Sq]);
        const out = await pool.attention(small.q, small.k, small.v, { causal: true, mask: small.mask, bias: small.bias, lse });
        return [out.data, lse.data];
      },
    },
    hostile: {
      label: 'attention on views past 4 GiB',
      async run(pool) {
        await pool.attention(big.q, big.k, big.v, { causal: true, mask: big.mask, bias: big.bias, out: big.out, lse: big.lse });
        return [big.out.data, big.lse.data];
      },
    },
  };
}

function layerPast4GiB(random: Random, at: Placer): HostileCall {
  const E = 64, heads = 4, S = 256, w = 1 / Math.sqrt(E);
  const small = {
    query: randomFloats(random, [1, S, E]) as Tensor, key: randomFloats(random, [1, S, E]) as Tensor, value: randomFloats(random, [1, S, E]) as Tensor,
    inProjWeight: randomFloats(random, [3 * E, E], 'float32', w) as Tensor, outProjWeight: randomFloats(random, [E, E], 'float32', w) as Tensor,
  };
  const big = Object.fromEntries(Object.entries(small).map(([name, t]) => [name, at.place(t)])) as typeof small;
  const layer = (t: typeof small): ValidCall => ({
    label: 'multiHeadAttention causal',
    run: async (pool) =>
      [(await pool.multiHeadAttention(t.query, t.key, t.value, { inProjWeight: t.inProjWeight, outProjWeight: t.outProjWeight }, { numHeads: heads, causal: true })).output.data],
  });
  return { kind: 'matching', hostileClass: 'past-4gib', label: 'multiHeadAttention with query, key, value and weights past 4 GiB', honest: layer(small), hostile: layer(big) };
}

/** The calls, or why there are none: this process could not reserve a buffer of more than 4 GiB. */
export function past4GiBCalls(random: Random): { readonly calls: HostileCall[] } | { readonly skipped: string } {
  let buffer: SharedArrayBuffer;
  try {
    buffer = new SharedArrayBuffer(FOUR_GiB + ROOM);
  } catch (err) {
    return { skipped: `a SharedArrayBuffer of 4 GiB + 2 MiB could not be allocated (${err instanceof Error ? err.message : String(err)})` };
  }
  const at = new Placer(buffer, FOUR_GiB + 8);
  return { calls: [attentionPast4GiB(random, at), layerPast4GiB(random, at)] };
}
