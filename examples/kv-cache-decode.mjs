// Decoding with a KV cache: attend over a 12-token prompt at once (prefill), then generate 4 tokens
// one at a time, each step appending its key and value to the cache and attending over everything
// so far. Each call gives the matching rows of causal attention over the whole sequence.
//   npm run build, then node examples/kv-cache-decode.mjs

import { AttentionPool, tensor } from 'attnpool';
import { check } from './support/check.mjs';
import * as reference from './support/reference.mjs';

const [B, H, Hkv, D] = [1, 8, 2, 64];      // 8 query heads share 2 kv heads (grouped-query)
const [prompt, steps] = [12, 4];
const S = prompt + steps;

// The whole sequence's q, k and v, as a model would produce them token by token (here seeded numbers).
let seed = 3;
const random = (n) => Array.from({ length: n }, () => (seed = (seed * 16807) % 2147483647) / 2147483647 * 2 - 1);
const q = tensor([B, H, S, D], random(B * H * S * D));
const k = tensor([B, Hkv, S, D], random(B * Hkv * S * D));
const v = tensor([B, Hkv, S, D], random(B * Hkv * S * D));

/** Positions [start, end) of a [B, heads, S, C] tensor (axis 2), as a new tensor of the same dtype. */
function positions(t, start, end) {
  const [batch, heads, length, C] = t.shape;
  const data = new t.data.constructor(batch * heads * (end - start) * C);
  for (let bh = 0; bh < batch * heads; bh++) {
    data.set(t.data.subarray((bh * length + start) * C, (bh * length + end) * C), bh * (end - start) * C);
  }
  return tensor([batch, heads, end - start, C], data);
}

const pool = new AttentionPool({ threads: 2 });
const cache = pool.createKvCache({ batch: B, kvHeads: Hkv, headDim: D, capacity: S });
// What the calls must reproduce: causal attention over the whole sequence, [B, H, S, D].
const expected = { data: reference.attention(q, k, v, { causal: true }).out, shape: [B, H, S, D] };

// Prefill: the prompt's keys and values go into the cache, its queries attend causally.
cache.append(positions(k, 0, prompt), positions(v, 0, prompt));
const prefill = await pool.attention(positions(q, 0, prompt), cache, { causal: true });   // [1, 8, 12, 64]
check(`prefill, ${prompt} tokens`, prefill.data, positions(expected, 0, prompt).data, 1e-5);

// Decode: one token per step; its query sees every cached position, its own included.
for (let t = prompt; t < S; t++) {
  cache.append(positions(k, t, t + 1), positions(v, t, t + 1));
  const out = await pool.attention(positions(q, t, t + 1), cache, { causal: true });      // [1, 8, 1, 64]
  check(`decode step at position ${t}, cache.length ${cache.length}`, out.data, positions(expected, t, t + 1).data, 1e-5);
}
await pool.close();
