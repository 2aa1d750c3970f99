// Window caches (StreamingLLM sink tokens + the latest `window` positions in a ring written in place):
// golden ring-decode and var-window-sinks (test/golden-variants) on both kernels and 1, 2, 3 threads
// with identical bits; a property test over random append chunk sizes (larger than the window too,
// sinkTokens 0 and beyond N) with random options, against attention over a plain tensor holding
// exactly the held positions, built here from every appended row, with the visibility of
// test/support/window-reference.ts; and split-KV and the wasm kernel's kept K/V across the ring's wrap.

import { describe, expect, it } from 'vitest';
import { zeros, type AttentionPool, type KvCache } from '../dist/src/index.js';
import { expectAttentionClose, expectLseClose, expectRelativeToMax, expectSameBits } from './support/compare.js';
import { loadVariantCase } from './support/golden-ring.js';
import { KERNELS, kernelOptions } from './support/kernels.js';
import { randomMask, randomTensor, Rng, type TensorLike } from './support/random.js';
import { referenceAttention } from './support/reference.js';
import { suitePool } from './support/suite-pools.js';
import { gatherAxis2, heldPositions, sliceAxis2, visibilityMask } from './support/window-reference.js';

const TIMEOUT_MS = 120_000;
const THREADS = [1, 2, 3] as const;
type F32 = TensorLike<Float32Array>;

interface RingFields {
  readonly window: number;
  readonly sink_tokens: number;
  readonly append_chunks: number[];
  readonly held_positions: number[];
  readonly suggested_out_rtol: number;
}

/** Appends rows [N, N + n) of k and v for each n of `chunks`; returns N. */
function appendChunks(cache: KvCache, k: F32, v: F32, chunks: readonly number[], from = 0): number {
  let N = from;
  for (const n of chunks) {
    cache.append(sliceAxis2(k, N, N + n), sliceAxis2(v, N, N + n));
    N += n;
  }
  return N;
}

/** out and lse of a call with a sink logit per head joined to the softmax (the README's sdpa-variant
 *  rule), in float64, from a call without it: lse' = logaddexp(lse, sink), out' = out · exp(lse − lse'). */
function withSinkLogits(out: Float32Array, lse: Float32Array, sinks: Float32Array, H: number, Sq: number, Dv: number) {
  const out2 = new Float64Array(out.length), lse2 = new Float64Array(lse.length);
  for (let row = 0; row < lse.length; row++) {
    const sink = sinks[Math.floor(row / Sq) % H];
    const m = Math.max(lse[row], sink);
    lse2[row] = m + Math.log(Math.exp(lse[row] - m) + Math.exp(sink - m));
    const w = Math.exp(lse[row] - lse2[row]); // 0 for a row that saw nothing
    for (let c = 0; c < Dv; c++) out2[row * Dv + c] = out[row * Dv + c] * w;
  }
  return { out: out2, lse: lse2 };
}

describe.each(KERNELS)('window cache on kernel %s', (kernel) => {
  const pools = THREADS.map((threads) => suitePool({ threads, ...kernelOptions(kernel) }));

  /** The same call on every pool: identical bits, returned from the first. */
  async function onEveryPool(label: string, call: (pool: AttentionPool) => Promise<{ out: Float32Array; lse: Float32Array }>) {
    const results = [];
    for (const pool of pools) results.push(await call(pool));
    for (let t = 1; t < results.length; t++) {
      expectSameBits(results[t].out, results[0].out, `${label}: out, ${THREADS[t]} vs 1 thread`);
      expectSameBits(results[t].lse, results[0].lse, `${label}: lse, ${THREADS[t]} vs 1 thread`);
    }
    return results[0];
  }

  it('golden ring-decode: window 32 + 4 sinks, 100 positions appended in chunks [40, 1, 1, 30, 28]', async () => {
    const c = loadVariantCase('ring-decode');
    const f = c.fields as unknown as RingFields;
    const q = c.f32('q.npy'), k = c.f32('k.npy'), v = c.f32('v.npy');
    const [B, H, Sq, D] = q.shape;
    const Hkv = k.shape[1];
    expect(heldPositions(f.window, f.sink_tokens, k.shape[2])).toEqual(f.held_positions);
    const result = await onEveryPool('ring-decode', async (pool) => {
      const cache = pool.createKvCache({ batch: B, kvHeads: Hkv, headDim: D, window: f.window, sinkTokens: f.sink_tokens });
      const N = appendChunks(cache, k, v, f.append_chunks);
      expect([cache.position, cache.length, cache.capacity]).toEqual([N, f.held_positions.length, f.window + f.sink_tokens]);
      const lse = zeros([B, H, Sq]);
      const out = await pool.attention(q, cache, { causal: true, lse });
      // A plain tensor holding exactly the held positions gives the same bits.
      const plain = await pool.attention(q, gatherAxis2(k, f.held_positions), gatherAxis2(v, f.held_positions), { causal: true });
      expectSameBits(out.data, plain.data, 'ring vs plain tensor of the held positions');
      return { out: out.data, lse: lse.data };
    });
    expectRelativeToMax(result.out, c.f64('out.f64.npy').data, f.suggested_out_rtol, 'ring-decode out');
    expectLseClose(result.lse, c.f32('lse.npy').data, 'ring-decode lse');
  }, TIMEOUT_MS);

  // var-window-sinks is attention with a sliding window of 16 and one sink logit per head. Through a
  // window cache: a ring of 16 is that window for one decoded position at a time; and chunks of 10
  // attended with options.window 16 over 3 sink tokens + a ring of 25 (the ring wraps, and the window
  // is measured in positions, so the sink tokens drop out of a row's view when it is 16 past them).
  // The sink logit is joined here (withSinkLogits): options.sinks is not this suite's subject.
  it('golden var-window-sinks through a ring (decode) and through sinks + ring with options.window (chunks)', async () => {
    const c = loadVariantCase('var-window-sinks');
    const f = c.fields as { window: number; causal: string; suggested_out_rtol: number };
    expect([f.window, f.causal]).toEqual([16, 'bottom-right']);
    const q = c.f32('q.npy'), k = c.f32('k.npy'), v = c.f32('v.npy'), sinks = c.f32('sinks.npy').data;
    const [B, H, S, D] = q.shape;
    const Hkv = k.shape[1], Dv = v.shape[3];
    const ways = {
      decode: { window: 16, sinkTokens: 0, chunk: 1, options: {} },
      chunks: { window: 25, sinkTokens: 3, chunk: 10, options: { window: 16 } },
    };
    for (const [name, way] of Object.entries(ways)) {
      const result = await onEveryPool(name, async (pool) => {
        const cache = pool.createKvCache({ batch: B, kvHeads: Hkv, headDim: D, window: way.window, sinkTokens: way.sinkTokens });
        const out = new Float32Array(B * H * S * Dv), lseAll = new Float32Array(B * H * S);
        for (let N = 0; N < S; N += way.chunk) {
          appendChunks(cache, k, v, [way.chunk], N);
          const lse = zeros([B, H, way.chunk]);
          const rows = await pool.attention(sliceAxis2(q, N, N + way.chunk), cache, { causal: true, lse, ...way.options });
          for (let bh = 0; bh < B * H; bh++) {
            out.set(rows.data.subarray(bh * way.chunk * Dv, (bh + 1) * way.chunk * Dv), (bh * S + N) * Dv);
            lseAll.set(lse.data.subarray(bh * way.chunk, (bh + 1) * way.chunk), bh * S + N);
          }
        }
        return { out, lse: lseAll };
      });
      const joined = withSinkLogits(result.out, result.lse, sinks, H, S, Dv);
      expectRelativeToMax(joined.out, c.f64('out.f64.npy').data, f.suggested_out_rtol, `var-window-sinks (${name}) out`);
      expectLseClose(joined.lse, c.f32('lse.npy').data, `var-window-sinks (${name}) lse`);
    }
  }, TIMEOUT_MS);

  it('property: random append chunks, windows and sink tokens, random options, vs a plain tensor of the held positions', async () => {
    const rng = new Rng(kernel === 'js' ? 7101 : 7102);
    let calls = 0, wrappedCalls = 0, positionalOnly = 0;
    for (let trial = 0; trial < 24; trial++) {
      const Hkv = rng.int(1, 2), H = Hkv * rng.int(1, 2), B = rng.int(1, 2), D = rng.pick([8, 16]), Dv = rng.pick([D, 12]);
      const window = rng.int(1, 70);
      const total = rng.int(1, 260);
      // s = 0, small, or at least N (the cache never drops a position).
      const sinkTokens = rng.pick([0, rng.int(1, 9), total + rng.int(0, 3)]);
      const k = randomTensor(rng, [B, Hkv, total, D]) as F32, v = randomTensor(rng, [B, Hkv, total, Dv]) as F32;
      const cache = pools[0].createKvCache({ batch: B, kvHeads: Hkv, headDim: D, valueDim: Dv, window, sinkTokens });
      for (let N = 0; N < total;) {
        const n = Math.min(total - N, rng.int(1, 2 * window + 5)); // chunks longer than the window too
        N = appendChunks(cache, k, v, [n], N);
        const held = heldPositions(window, sinkTokens, N);
        expect([cache.position, cache.length], `trial ${trial}`).toEqual([N, held.length]);
        if (rng.uniform() < 0.4) continue;
        const Sq = rng.int(1, Math.min(N, window + 8));
        const causal = rng.uniform() < 0.85;
        const options = {
          causal,
          window: causal && rng.uniform() < 0.35 ? rng.int(1, window + sinkTokens + 4) : undefined,
          mask: rng.uniform() < 0.3 ? randomMask(rng, rng.pick([[B, 1, Sq, held.length], [Sq, held.length]]), 0.8) : undefined,
          bias: rng.uniform() < 0.3 ? randomTensor(rng, [1, H, Sq, held.length]) : undefined,
        };
        const q = randomTensor(rng, [B, H, Sq, D]) as F32;
        const lse = zeros([B, H, Sq]);
        const out = await pools[0].attention(q, cache, { ...options, lse });
        const label = `trial ${trial} (w ${window}, s ${sinkTokens}, N ${N}, Sq ${Sq}, ${JSON.stringify({ causal, window: options.window })})`;
        const kHeld = gatherAxis2(k, held), vHeld = gatherAxis2(v, held);
        const seen = visibilityMask({ B, H, Sq, keyPositions: held, N, causal, window: options.window, mask: options.mask });
        expectAttentionClose(out.data, lse.data, referenceAttention(q, kHeld, vHeld, { mask: seen, bias: options.bias }), label);
        // Where the positions' visibility is the plain tensor's causal one, the same call on the plain
        // tensor must give the same bits (the ring changes where rows are read, not the arithmetic).
        const logical = visibilityMask({ B, H, Sq, keyPositions: held.map((_, j) => j), N: held.length, causal, window: options.window, mask: options.mask });
        if (logical.data.every((x, n) => x === seen.data[n])) {
          const plain = await pools[0].attention(q, kHeld, vHeld, options);
          expectSameBits(out.data, plain.data, `${label}: ring vs plain tensor`);
        } else {
          positionalOnly++;
        }
        calls++;
        if (N > window + sinkTokens) wrappedCalls++;
      }
    }
    // The draws covered what they are for.
    expect(calls).toBeGreaterThan(40);
    expect(wrappedCalls).toBeGreaterThan(15);
    expect(positionalOnly).toBeGreaterThan(3);
  }, TIMEOUT_MS);

  // Calls big enough for the workers: split-KV (H = 8, Sq = 1, 3,004 held keys: splits of 64-key
  // multiples cross the ring's seam and the sinks), and a decode loop across the ring's first wraps,
  // where the wasm kernel's K/V kept from the previous call must be dropped as the ring overwrites.
  it('in the workers: split-KV decode and prefill chunks over a wrapped ring, and a decode loop across the wrap', async () => {
    const rng = new Rng(7103);
    const B = 1, H = 8, Hkv = 4, D = 64, window = 3000, sinkTokens = 4, total = 5100;
    const k = randomTensor(rng, [B, Hkv, total, D]) as F32, v = randomTensor(rng, [B, Hkv, total, D]) as F32;
    const check = async (label: string, chunks: number[], Sq: number, options: { window?: number }) => {
      const N = chunks.reduce((a, b) => a + b, 0);
      const held = heldPositions(window, sinkTokens, N);
      const q = randomTensor(rng, [B, H, Sq, D]) as F32;
      const result = await onEveryPool(label, async (pool) => {
        const cache = pool.createKvCache({ batch: B, kvHeads: Hkv, headDim: D, window, sinkTokens });
        appendChunks(cache, k, v, chunks);
        const lse = zeros([B, H, Sq]);
        const out = await pool.attention(q, cache, { causal: true, lse, ...options });
        return { out: out.data, lse: lse.data };
      });
      const seen = visibilityMask({ B, H, Sq, keyPositions: held, N, causal: true, window: options.window });
      expectAttentionClose(result.out, result.lse, referenceAttention(q, gatherAxis2(k, held), gatherAxis2(v, held), { mask: seen }), label);
    };
    await check('split-KV decode', [2500, 1, 2000, 77], 1, {});
    await check('prefill chunk with a window', [4000, 1000], 40, { window: 2000 });

    // Decode 1 position at a time from 2,990 to 3,030 (the ring fills at 3,004), each step vs the plain tensor.
    const q1 = randomTensor(rng, [B, H, 1, D]) as F32;
    for (const pool of pools.slice(0, 2)) {
      const cache = pool.createKvCache({ batch: B, kvHeads: Hkv, headDim: D, window, sinkTokens });
      let N = appendChunks(cache, k, v, [2990]);
      for (; N < 3030; N = appendChunks(cache, k, v, [1], N)) {
        const held = heldPositions(window, sinkTokens, N);
        const out = await pool.attention(q1, cache, { causal: true });
        const plain = await pool.attention(q1, gatherAxis2(k, held), gatherAxis2(v, held), { causal: true });
        expectSameBits(out.data, plain.data, `decode step at N = ${N} (${pool.threads} threads)`);
      }
    }
  }, TIMEOUT_MS);
});
