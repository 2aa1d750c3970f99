// Issue #12, item 2: an output that overlaps an input (out = k, a view into v's buffer, lse inside q
// or inside out) would be written while other threads still read it, so results would change with the
// thread count. Such a call is a RangeError naming both arguments and their byte ranges, before any
// work; views of one buffer that do not overlap work as separate buffers do.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool } from '../dist/src/index.js';
import { caught, expectAttentionClose, expectSameBits } from './support/compare.js';
import { attentionInputs, cloneTensor, product, type TensorLike } from './support/random.js';
import { referenceAttention } from './support/reference.js';

const TIMEOUT_MS = 30_000;

/** A float32 tensor over bytes [byteOffset, byteOffset + 4·product(shape)) of `buffer`. */
const view = (buffer: ArrayBufferLike, byteOffset: number, shape: number[]): TensorLike<Float32Array> =>
  ({ data: new Float32Array(buffer, byteOffset, product(shape)), shape });

async function expectOverlapError(call: () => Promise<unknown>, message: RegExp): Promise<void> {
  const err = await caught(call);
  expect(err, String(err)).toBeInstanceOf(RangeError);
  expect((err as Error).message).toMatch(message);
}

describe('outputs overlapping inputs', () => {
  let pool: AttentionPool;
  beforeAll(() => {
    pool = new AttentionPool({ threads: 2 });
  });
  afterAll(async () => {
    await pool?.close();
  });

  // H = Hkv, Sq = Sk and D = Dv: out has exactly k's and v's shape.
  const inputs = attentionInputs({ seed: 1401, B: 1, H: 2, Hkv: 2, Sq: 96, Sk: 96, D: 16, Dv: 16 });
  const bytes = 2 * 96 * 16 * 4; // of q, k, v and out: 12288

  it('out = k, out inside v, out over non-shared k: a RangeError naming both, and k and v untouched', async () => {
    const k = cloneTensor(inputs.k), v = cloneTensor(inputs.v);
    const kBefore = k.data.slice(), vBefore = v.data.slice();
    await expectOverlapError(() => pool.attention(inputs.q, k, v, { out: k }),
      new RegExp(`^attention: options\\.out overlaps k \\(the same SharedArrayBuffer, bytes \\[0, ${bytes}\\) and \\[0, ${bytes}\\)\\)`));
    // v sits at bytes [4096, 4096 + 12288) of a larger buffer; out starts 64 bytes before it ends.
    const big = new SharedArrayBuffer(4096 + 2 * bytes);
    const vInside = view(big, 4096, [1, 2, 96, 16]);
    vInside.data.set(v.data);
    await expectOverlapError(() => pool.attention(inputs.q, k, vInside, { out: view(big, 4096 + bytes - 64, [1, 2, 96, 16]) }),
      new RegExp(`options\\.out overlaps v \\(the same SharedArrayBuffer, bytes \\[${4096 + bytes - 64}, ${4096 + 2 * bytes - 64}\\) and \\[4096, ${4096 + bytes}\\)\\)`));
    const plainK = cloneTensor(inputs.k, { shared: false });
    await expectOverlapError(() => pool.attention(inputs.q, plainK, v, { out: plainK }), /options\.out overlaps k \(the same ArrayBuffer,/);
    expectSameBits(k.data, kBefore, 'k after the refused calls');
    expectSameBits(v.data, vBefore, 'v after the refused calls');
    expectSameBits(vInside.data, vBefore, 'v inside the larger buffer after the refused call');
  }, TIMEOUT_MS);

  it('lse inside q, lse inside out, out over the mask: RangeErrors naming both', async () => {
    const q = cloneTensor(inputs.q);
    await expectOverlapError(() => pool.attention(q, inputs.k, inputs.v, { lse: view(q.data.buffer, 0, [1, 2, 96]) }), /options\.lse overlaps q \(/);
    const out = cloneTensor(inputs.q);
    await expectOverlapError(() => pool.attention(inputs.q, inputs.k, inputs.v, { out, lse: view(out.data.buffer, 256, [1, 2, 96]) }),
      /options\.lse overlaps options\.out \(the same SharedArrayBuffer, bytes \[256, 1024\) and \[0, 12288\)\)/);
    const maskBuffer = new SharedArrayBuffer(bytes);
    const mask = { data: new Uint8Array(maskBuffer, 0, 96 * 96).fill(1), shape: [96, 96] };
    await expectOverlapError(() => pool.attention(inputs.q, inputs.k, inputs.v, { mask, out: view(maskBuffer, 0, [1, 2, 96, 16]) }), /options\.out overlaps options\.mask \(/);
  }, TIMEOUT_MS);

  it('attention over a KvCache: out over q is refused as well', async () => {
    const cache = pool.createKvCache({ batch: 1, kvHeads: 2, headDim: 16, capacity: 128 });
    cache.append(inputs.k, inputs.v);
    const q = cloneTensor(inputs.q);
    await expectOverlapError(() => pool.attention(q, cache, { out: q }), /^attention: options\.out overlaps q \(the same SharedArrayBuffer/);
  }, TIMEOUT_MS);

  it('q, k, v, out and lse as disjoint views of one buffer give the bits of separate buffers', async () => {
    const separateLse = { data: new Float32Array(new SharedArrayBuffer(2 * 96 * 4)), shape: [1, 2, 96] };
    const separate = await pool.attention(inputs.q, inputs.k, inputs.v, { causal: true, lse: separateLse });
    const one = new SharedArrayBuffer(4 * bytes + 2 * 96 * 4);
    const [q, k, v, out] = [0, 1, 2, 3].map((i) => view(one, i * bytes, [1, 2, 96, 16]));
    q.data.set(inputs.q.data); k.data.set(inputs.k.data); v.data.set(inputs.v.data);
    const lse = view(one, 4 * bytes, [1, 2, 96]);
    // Inputs may overlap each other: k and v are the same view here in a second call.
    const result = await pool.attention(q, k, v, { causal: true, out, lse });
    expect(result).toBe(out);
    expectSameBits(out.data, separate.data, 'out in the shared buffer');
    expectSameBits(lse.data, separateLse.data, 'lse in the shared buffer');
    const kAsV = await pool.attention(q, k, k, { causal: true });
    expectAttentionClose(kAsV.data, undefined, referenceAttention(inputs.q, inputs.k, inputs.k, { causal: true }), 'v = k');
  }, TIMEOUT_MS);
});
