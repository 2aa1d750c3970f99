// Cancellation through `signal`: an aborted call rejects with err.name === 'AbortError'; before
// dispatch nothing is computed, mid-call the rejection comes promptly (measured against how long the
// same call takes when it runs to the end), no other call is disturbed and the pool keeps computing
// correct results afterwards (no thread lost, no abort flag left behind).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool } from '../dist/src/index.js';
import { caught, expectAttentionClose, expectSameBits } from './support/compare.js';
import { attentionInputs, filledTensor, mhaInputs, type TensorLike } from './support/random.js';
import { referenceAttention } from './support/reference.js';

const TIMEOUT_MS = 120_000;

// B1 H8 S1024 D64: 2.1 GFLOP, for the checks that need no timing.
const big = attentionInputs({ seed: 501, B: 1, H: 8, Hkv: 8, Sq: 1024, Sk: 1024, D: 64, Dv: 64 });
/** A call long enough to time an abort against: the full run must last at least this long, so that
 *  timer and scheduling jitter (a few ms) are small against a tenth of it. */
const MIN_TIMED_MS = 400;
// B1 H4 S384 D32: 75 MFLOP, large enough to be split across the workers; its reference is computed once.
const medium = attentionInputs({ seed: 502, B: 1, H: 4, Hkv: 4, Sq: 384, Sk: 384, D: 32, Dv: 32 });
const mediumReference = referenceAttention(medium.q, medium.k, medium.v, { causal: true });
const layer = mhaInputs({ seed: 503, B: 1, Sq: 1024, Sk: 1024, E: 256, selfAttention: true });

let pool: AttentionPool;
beforeAll(async () => {
  pool = new AttentionPool({ threads: 2 });
  await pool.attention(medium.q, medium.k, medium.v, { causal: true }); // start the workers before anything is timed
}, TIMEOUT_MS);
afterAll(async () => {
  await pool?.close();
});

function expectAbortError(err: unknown): void {
  expect(err).toBeInstanceOf(Error);
  expect((err as Error).name, `rejected with ${String(err)}`).toBe('AbortError');
}

/** The given query rows of every head: rows of non-causal attention are independent, so the
 *  reference of the cut-down query equals those rows of the full result. */
function someRows(q: TensorLike, rows: readonly number[]): TensorLike {
  const [B, H, Sq, D] = q.shape;
  const data = new Float32Array(B * H * rows.length * D);
  for (let bh = 0; bh < B * H; bh++) {
    rows.forEach((i, n) => data.set(q.data.subarray((bh * Sq + i) * D, (bh * Sq + i + 1) * D), (bh * rows.length + n) * D));
  }
  return { data, shape: [B, H, rows.length, D] };
}

function pickRows(out: Float32Array | Float64Array, shape: readonly number[], rows: readonly number[]): Float32Array {
  const [B, H, Sq, Dv] = shape;
  const picked = new Float32Array(B * H * rows.length * Dv);
  for (let bh = 0; bh < B * H; bh++) {
    rows.forEach((i, n) => picked.set(out.subarray((bh * Sq + i) * Dv, (bh * Sq + i + 1) * Dv), (bh * rows.length + n) * Dv));
  }
  return picked;
}

describe('abort', () => {
  it('an already-aborted signal rejects with AbortError and computes nothing', async () => {
    const out = filledTensor([1, 8, 1024, 64], 7);
    for (const signal of [AbortSignal.abort(), AbortSignal.abort(new Error('a reason of the caller'))]) {
      expectAbortError(await caught(() => pool.attention(big.q, big.k, big.v, { out, signal })));
    }
    expect(Array.from(out.data).every((x) => x === 7), 'out untouched').toBe(true);
    expectAbortError(await caught(() => pool.multiHeadAttention(layer.query, layer.key, layer.value, layer.weights, { numHeads: 8, signal: AbortSignal.abort() })));
  });

  it('an abort mid-call rejects promptly, and the pool then computes the same results as before', async () => {
    const mediumBefore = await pool.attention(medium.q, medium.k, medium.v, { causal: true });
    // B1 H8 D64 at the first S whose full run lasts MIN_TIMED_MS: S1024 (2.1 GFLOP) takes seconds on
    // the js kernel; the wasm kernel is ~10× faster and goes on to S2048 (8.6 GFLOP).
    const fullRun = async (S: number) => {
      const inputs = S === 1024 ? big : attentionInputs({ seed: 504, B: 1, H: 8, Hkv: 8, Sq: S, Sk: S, D: 64, Dv: 64 });
      const began = performance.now();
      const out = await pool.attention(inputs.q, inputs.k, inputs.v);
      return { inputs, out, ms: performance.now() - began };
    };
    let run = await fullRun(1024);
    for (const S of [2048, 4096]) if (run.ms < MIN_TIMED_MS) run = await fullRun(S);
    const { inputs: timed, out: full, ms: fullMs } = run;
    const S = timed.q.shape[2];
    const rows = [0, 1, 2, 3, S - 4, S - 3, S - 2, S - 1];
    expectAttentionClose(pickRows(full.data, full.shape, rows), undefined, referenceAttention(someRows(timed.q, rows), timed.k, timed.v), 'rows of the full result');

    const controller = new AbortController();
    let abortedAt = 0;
    const start = performance.now();
    const call = pool.attention(timed.q, timed.k, timed.v, { signal: controller.signal });
    setTimeout(() => {
      abortedAt = performance.now();
      controller.abort();
    }, fullMs / 10);
    const err = await caught(() => call);
    const rejectedAt = performance.now();
    expectAbortError(err);
    const latency = rejectedAt - abortedAt;
    expect(latency, `rejected ${latency.toFixed(1)} ms after abort(); the whole call takes ${fullMs.toFixed(1)} ms`).toBeLessThan(fullMs / 4);
    expect(rejectedAt - start).toBeLessThan(fullMs / 2);

    // Both threads still work (the medium call is split between them) and nothing of the aborted
    // call leaks into later ones.
    const mediumAfter = await pool.attention(medium.q, medium.k, medium.v, { causal: true });
    expectSameBits(mediumAfter.data, mediumBefore.data, 'after an aborted call');
  }, TIMEOUT_MS);

  it('aborting one call does not disturb another running at the same time', async () => {
    const alone = await pool.attention(medium.q, medium.k, medium.v, { causal: true });
    const controller = new AbortController();
    const doomed = pool.attention(big.q, big.k, big.v, { signal: controller.signal });
    const other = pool.attention(medium.q, medium.k, medium.v, { causal: true });
    setTimeout(() => controller.abort(), 10);
    const [d, o] = await Promise.allSettled([doomed, other]);
    expect(d.status).toBe('rejected');
    expectAbortError((d as PromiseRejectedResult).reason);
    expect(o.status).toBe('fulfilled');
    expectSameBits((o as PromiseFulfilledResult<typeof alone>).value.data, alone.data, 'the concurrent call');
    expectAttentionClose(alone.data, undefined, mediumReference, 'medium causal');
  }, TIMEOUT_MS);

  it('multiHeadAttention aborts mid-call too, and the pool keeps working', async () => {
    const controller = new AbortController();
    const call = pool.multiHeadAttention(layer.query, layer.key, layer.value, layer.weights, { numHeads: 8, causal: true, signal: controller.signal });
    setTimeout(() => controller.abort(), 10);
    expectAbortError(await caught(() => call));
    const out = await pool.attention(medium.q, medium.k, medium.v, { causal: true });
    expectAttentionClose(out.data, undefined, mediumReference, 'after an aborted layer');
  }, TIMEOUT_MS);
});
