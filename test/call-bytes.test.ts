// Issue #12, item 8: a per-call memory bound. A call whose outputs, attention weights, scratch or
// copies of non-shared inputs would exceed AttentionPool's maxCallBytes (default: a quarter of
// os.totalmem()) rejects at once with a RangeError naming the tensor and its size — before anything is
// allocated (the process's RSS does not grow) — and the pool then serves valid calls. zeros() of sizes
// no SharedArrayBuffer can have, or this process cannot allocate, throws a RangeError of ours.

import { constants } from 'node:buffer';
import { totalmem } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, tensor, zeros } from '../dist/src/index.js';
import { caught, expectAttentionClose } from './support/compare.js';
import { attentionInputs, cloneTensor } from './support/random.js';
import { referenceAttention } from './support/reference.js';
import { expectRefused, RSS_SLACK } from './support/refusal.js';

const TIMEOUT_MS = 60_000;
const MiB = 2 ** 20, GiB = 2 ** 30;
const MAX_LENGTH = constants.MAX_LENGTH;
const beyondTypedArrays = `more than this runtime's typed arrays can hold \\(buffer\\.constants\\.MAX_LENGTH = ${MAX_LENGTH} on Node ${process.version.replace(/\./g, '\\.')}\\)`;

describe('maxCallBytes', () => {
  const small = attentionInputs({ seed: 1501, B: 1, H: 2, Hkv: 1, Sq: 20, Sk: 30, D: 8, Dv: 8 });
  async function expectServes(pool: AttentionPool): Promise<void> {
    const out = await pool.attention(small.q, small.k, small.v, { causal: true });
    expectAttentionClose(out.data, undefined, referenceAttention(small.q, small.k, small.v, { causal: true }), 'valid call after a refusal');
  }

  let pool: AttentionPool;
  beforeAll(() => {
    pool = new AttentionPool({ threads: 2 });
  });
  afterAll(async () => {
    await pool?.close();
  });

  it('is validated like the other pool options; Infinity lifts it', async () => {
    for (const [value, ErrorClass] of [[-1, RangeError], [1.5, RangeError], [NaN, RangeError], ['1GB', TypeError], [2 ** 60, RangeError]] as const) {
      expect(() => new AttentionPool({ threads: 1, maxCallBytes: value as never }), String(value)).toThrow(ErrorClass);
      expect(() => new AttentionPool({ threads: 1, maxCallBytes: value as never })).toThrow(/^AttentionPool: options\.maxCallBytes must be /);
    }
    const unbounded = new AttentionPool({ threads: 1, maxCallBytes: Infinity });
    try {
      await expectServes(unbounded);
    } finally {
      await unbounded.close();
    }
  }, TIMEOUT_MS);

  it('the default (a quarter of os.totalmem()) refuses per-head weights of 128 GiB from a 2 MiB request', async () => {
    // query [1, 65536, 8] (2 MiB) with 8 heads asks for weights [1, 8, 65536, 65536]: 128 GiB.
    const query = { data: new Float32Array(new SharedArrayBuffer(65536 * 8 * 4)), shape: [1, 65536, 8] };
    const weights = { inProjWeight: { data: new Float32Array(new SharedArrayBuffer(24 * 8 * 4)), shape: [24, 8] }, outProjWeight: { data: new Float32Array(new SharedArrayBuffer(64 * 4)), shape: [8, 8] } };
    const bound = `${Number((Math.floor(totalmem() / 4) / GiB).toPrecision(3))} GiB`;
    await expectRefused(() => pool.multiHeadAttention(query, query, query, weights, { numHeads: 8, needWeights: 'per-head' }),
      new RegExp(`^multiHeadAttention: attention weights \\[1, 8, 65536, 65536\\] float32 would take 128 GiB, more than maxCallBytes = ${bound.replace('.', '\\.')}$`));
    await expectServes(pool);
  }, TIMEOUT_MS);

  it('an explicit bound refuses a 2 GiB output of an Sk = 0 call, and copies of non-shared inputs count', async () => {
    const bounded = new AttentionPool({ threads: 2, maxCallBytes: GiB });
    try {
      const Dv = 2 ** 23;
      const q = { data: new Float32Array(new SharedArrayBuffer(64 * 4)), shape: [1, 1, 64, 1] };
      const k = { data: new Float32Array(0), shape: [1, 1, 0, 1] };
      const v = { data: new Float32Array(0), shape: [1, 1, 0, Dv] };
      await expectRefused(() => bounded.attention(q, k, v),
        /^attention: the output \[1, 1, 64, 8388608\] float32 would take 2 GiB, more than maxCallBytes = 1 GiB$/);
      await expectServes(bounded);
    } finally {
      await bounded.close();
    }
    const tight = new AttentionPool({ threads: 1, maxCallBytes: MiB });
    try {
      const big = attentionInputs({ seed: 1502, B: 1, H: 1, Hkv: 1, Sq: 1, Sk: 4096, D: 64, Dv: 64 }); // k, v: 1 MiB each
      const err = await caught(() => tight.attention(big.q, cloneTensor(big.k, { shared: false }), cloneTensor(big.v, { shared: false })));
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).message).toBe('attention: the call would allocate 2 MiB in all (the largest: a shared copy of k [1, 1, 4096, 64] float32, 1 MiB), more than maxCallBytes = 1 MiB');
      const out = await tight.attention(big.q, big.k, big.v); // shared: nothing to copy, 256 bytes of output
      expectAttentionClose(out.data, undefined, referenceAttention(big.q, big.k, big.v), 'shared inputs under a tight bound');
    } finally {
      await tight.close();
    }
  }, TIMEOUT_MS);

  it('zeros() of impossible sizes throws our RangeError, not V8’s', () => {
    expect(() => zeros([2 ** 30, 2 ** 30, 2 ** 30])).toThrow(
      /^zeros: a float32 tensor of shape \[1073741824, 1073741824, 1073741824\] would take [\d.e+]+ EiB, more than a SharedArrayBuffer can hold \(2\^53 − 1 bytes\)$/);
    expect(() => zeros([2 ** 27, 2 ** 27], 'uint8')).toThrow(/^zeros: a uint8 tensor of shape \[134217728, 134217728\] would take 16 PiB, more than a SharedArrayBuffer can hold/);
    const rssBefore = process.memoryUsage().rss;
    // 8 TiB, 2^40 elements: more than this machine can allocate; on Node 20 also more elements than a
    // typed array may have (2^32), which is checked first.
    expect(() => zeros([2 ** 20, 2 ** 20], 'float64')).toThrow(MAX_LENGTH < 2 ** 40
      ? new RegExp(`^zeros: a float64 tensor of shape \\[1048576, 1048576\\] has 1099511627776 elements, ${beyondTypedArrays}$`)
      : /^zeros: a float64 tensor of shape \[1048576, 1048576\] needs 8 TiB of shared memory, which could not be allocated$/);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(RSS_SLACK);
    expect(zeros([2, 3]).data.length).toBe(6);
  });

  it('tensor() of impossible sizes names tensor, not zeros', () => {
    expect(() => tensor([2 ** 30, 2 ** 30, 2 ** 30])).toThrow(
      /^tensor: a float32 tensor of shape \[1073741824, 1073741824, 1073741824\] would take [\d.e+]+ EiB, more than a SharedArrayBuffer can hold \(2\^53 − 1 bytes\)$/);
    const huge = { length: 2 ** 60 } as ArrayLike<number>; // claims the shape's length; never read
    expect(() => tensor([2 ** 30, 2 ** 30], huge)).toThrow(/^tensor: a float32 tensor of shape \[1073741824, 1073741824\] would take 4 EiB, more than a SharedArrayBuffer can hold/);
  });
});

describe("the runtime's typed-array length (buffer.constants.MAX_LENGTH: 2^32 on Node 20, 2^53 − 1 later)", () => {
  it(`zeros([2^32 + 1], 'uint8'): our RangeError where that is too long, else a tensor of that length (untouched)`, () => {
    const rssBefore = process.memoryUsage().rss;
    if (MAX_LENGTH < 2 ** 32 + 1) {
      // Before: the 4 GiB buffer was allocated, then V8 refused the view ("Invalid typed array length: undefined").
      expect(() => zeros([2 ** 32 + 1], 'uint8')).toThrow(new RegExp(`^zeros: a uint8 tensor of shape \\[4294967297\\] has 4294967297 elements, ${beyondTypedArrays}$`));
    } else {
      expect(zeros([2 ** 32 + 1], 'uint8').data.length).toBe(2 ** 32 + 1);
    }
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(RSS_SLACK);
  });

  it('createKvCache and reserve() of more elements than a typed array may have: our RangeError, nothing allocated', async () => {
    const pool = new AttentionPool({ threads: 1 });
    try {
      // 2^30 · 2^30 · 2^30 keys: past 2^53 − 1 elements on every runtime. Before: "… could not be allocated".
      const err = await caught(() => pool.createKvCache({ batch: 2 ** 30, kvHeads: 2 ** 30, headDim: 2 ** 30, capacity: 1 }));
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).message).toMatch(new RegExp(
        `^createKvCache: the keys of a cache of capacity 1 \\(batch·kvHeads·capacity·headDim\\) has ${String(2 ** 90).replace(/[.+]/g, '\\$&')} elements, ${beyondTypedArrays}$`));
      // 2^24 (b, kv head) pairs of one float: 64 MiB, untouched; growing to 2^31 − 64 positions asks for
      // values of 2^55 − 2^30 elements.
      const cache = pool.createKvCache({ batch: 2 ** 12, kvHeads: 2 ** 12, headDim: 1, capacity: 1 });
      const rssBefore = process.memoryUsage().rss;
      expect(() => cache.reserve(2 ** 31 - 64)).toThrow(new RegExp(
        `^KvCache\\.reserve: the keys of a cache of capacity 2147483584 \\(batch·kvHeads·capacity·headDim\\) has ${2 ** 24 * (2 ** 31 - 64)} elements, ${beyondTypedArrays}$`));
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(RSS_SLACK);
      expect(cache.capacity).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('a call whose output would be longer than a typed array may be is refused at the call (maxCallBytes lifted)', async () => {
    // Sk = 0 makes any Dv free to ask for: out [1, 1, 2^23, 2^31 − 1] has about 2^54 elements.
    const pool = new AttentionPool({ threads: 1, maxCallBytes: Infinity });
    try {
      const Sq = 2 ** 23, Dv = 2 ** 31 - 1;
      const q = { data: new Float32Array(new SharedArrayBuffer(Sq * 4)), shape: [1, 1, Sq, 1] };
      const err = await caught(() => pool.attention(q, { data: new Float32Array(0), shape: [1, 1, 0, 1] }, { data: new Float32Array(0), shape: [1, 1, 0, Dv] }));
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).message).toMatch(new RegExp(
        `^attention: the output \\[1, 1, ${Sq}, ${Dv}\\] float32 has ${Sq * Dv} elements, ${beyondTypedArrays}$`));
    } finally {
      await pool.close();
    }
  });
});
