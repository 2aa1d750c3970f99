// Set-up shared by the KV cache suites (kv-cache*.test.ts): positions of a [B, H, S, C] tensor, a decode
// loop over a cache, the full causal call it must reproduce, and a refused call's class and message.
//
// Why decode rows can be compared bit for bit with the full causal call: both kernels walk the keys in
// blocks at fixed global positions (0, 64, 128, …), keep each query row's softmax state on its own,
// and a row skips blocks past its causal limit (the wasm kernel keeps K/V in one span up to 32,768
// keys at D = 64). Row i of a causal call over the whole sequence therefore does exactly the float
// operations that the decode step with Sk = i + 1 does, whatever rows share its tile.

import { expect } from 'vitest';
import { zeros, type AttentionPool, type KvCache } from '../../dist/src/index.js';
import { caught, expectAttentionClose, expectSameBits } from './compare.js';
import type { AttentionInputs, Shape, TensorLike } from './random.js';
import { referenceAttention } from './reference.js';

export const TIMEOUT_MS = 60_000;
export type ErrorClass = typeof TypeError | typeof RangeError;

/** Positions [start, end) along axis 2 of a [B, H, S, C] tensor, as a new (shared or plain) tensor. */
export function positions<A extends Float32Array | Float64Array>(t: TensorLike<A>, start: number, end: number, shared = true): TensorLike<A> {
  const [B, H, S, C] = t.shape;
  const n = end - start;
  const Ctor = t.data.constructor as new (buffer: ArrayBufferLike) => A;
  const bytes = B * H * n * C * t.data.BYTES_PER_ELEMENT;
  const data = new Ctor(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  for (let bh = 0; bh < B * H; bh++) data.set(t.data.subarray((bh * S + start) * C, (bh * S + end) * C) as never, bh * n * C);
  return { data, shape: [B, H, n, C] };
}

/** Writes a [B, H, n, C] result into positions [start, start + n) of a [B, H, S, C] array. */
function place(dst: Float32Array | Float64Array, dstShape: Shape, part: TensorLike, start: number): void {
  const [B, H, S, C] = dstShape;
  const n = part.shape[2];
  for (let bh = 0; bh < B * H; bh++) dst.set(part.data.subarray(bh * n * C, (bh + 1) * n * C), (bh * S + start) * C);
}

/** lse has no column axis: [B, H, n] into [B, H, S]. */
function placeLse(dst: Float32Array | Float64Array, dstShape: Shape, part: TensorLike, start: number): void {
  place(dst, [...dstShape, 1], { data: part.data, shape: [...part.shape, 1] }, start);
}

export interface DecodeResult {
  readonly out: Float32Array | Float64Array;
  readonly lse: Float32Array | Float64Array;
}

/** Prefills `prefill` positions in one append (and, unless `attendPrefill` is false, one call for their
 *  queries), then appends and attends one position at a time; returns every step's rows assembled as
 *  [B, H, S, Dv] and [B, H, S] (rows of an unattended prefill stay zero). */
export async function decodeLoop(pool: AttentionPool, inputs: AttentionInputs, prefill: number, { shared = true, attendPrefill = true } = {}): Promise<DecodeResult> {
  const { q, k, v } = inputs;
  const [B, H, S] = q.shape;
  const [, Hkv, , D] = k.shape;
  const Dv = v.shape[3];
  const float64 = q.data instanceof Float64Array;
  const cache = (float64
    ? pool.createKvCache({ batch: B, kvHeads: Hkv, headDim: D, valueDim: Dv, capacity: S, dtype: 'float64' })
    : pool.createKvCache({ batch: B, kvHeads: Hkv, headDim: D, valueDim: Dv, capacity: S })) as KvCache<Float32Array | Float64Array>;
  const out = float64 ? new Float64Array(B * H * S * Dv) : new Float32Array(B * H * S * Dv);
  const lseAll = float64 ? new Float64Array(B * H * S) : new Float32Array(B * H * S);
  const step = async (start: number, end: number, attend = true) => {
    cache.append(positions(k, start, end, shared), positions(v, start, end, shared));
    expect(cache.length).toBe(end);
    if (!attend) return;
    const lse = zeros([B, H, end - start], float64 ? 'float64' : 'float32');
    const rows = await pool.attention(positions(q, start, end, shared), cache, { causal: true, lse });
    expect(rows.shape).toEqual([B, H, end - start, Dv]);
    place(out, [B, H, S, Dv], rows, start);
    placeLse(lseAll, [B, H, S], lse, start);
  };
  if (prefill > 0) await step(0, prefill, attendPrefill);
  for (let i = prefill; i < S; i++) await step(i, i + 1);
  return { out, lse: lseAll };
}

export async function fullCausal(pool: AttentionPool, { q, k, v }: AttentionInputs): Promise<DecodeResult> {
  const lse = zeros(q.shape.slice(0, 3), q.data instanceof Float64Array ? 'float64' : 'float32');
  const out = await pool.attention(q, k, v, { causal: true, lse });
  return { out: out.data, lse: lse.data };
}

export function expectDecodeMatches(decoded: DecodeResult, full: DecodeResult, inputs: AttentionInputs, label: string): void {
  expectSameBits(decoded.out, full.out, `${label}: out, decode vs full causal`);
  expectSameBits(decoded.lse, full.lse, `${label}: lse, decode vs full causal`);
  expectAttentionClose(decoded.out, decoded.lse, referenceAttention(inputs.q, inputs.k, inputs.v, { causal: true }), `${label} vs reference`);
}

export async function expectError(call: () => unknown, errorClass: ErrorClass, message: RegExp): Promise<void> {
  const err = await caught(call);
  expect(err, `error class (got: ${String(err)})`).toBeInstanceOf(errorClass);
  expect((err as Error).message).toMatch(message);
}
