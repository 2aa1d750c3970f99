// Issue #12: sizes that travel as 32-bit integers. Tile lists are Int32Array records (batch, head,
// row and column indices) and the wasm kernel takes key positions, row counts and head dims as i32,
// so a dimension of 2^31 or more, an MHA projection of 2^31 or more rows (B·Sq, B·Sk), or — since the
// wasm kernel steps through keys in 64-key blocks — more than 2^31 − 64 keys would wrap silently.
// Such calls are refused up front with a RangeError naming the dimension, the limit and the value,
// before anything is allocated or touched; the sizes just inside the limits are accepted.
//
// Memory: the big tensors are views over lazily allocated SharedArrayBuffers (8 GiB of address space,
// pages mapped only when written or read). A refused call touches none of it (RSS checked); the one
// computed call at Sk = 2^31 − 64 reads only the span of keys around its sliding window (a few MiB).

import { describe, expect, it } from 'vitest';
import { AttentionPool, type Tensor } from '../dist/src/index.js';
import { expectAttentionClose, expectSameBits } from './support/compare.js';
import { KERNELS } from './support/kernels.js';
import { randomTensor, Rng } from './support/random.js';
import { referenceAttention } from './support/reference.js';
import { expectRefused } from './support/refusal.js';

const TIMEOUT_MS = 60_000;
const MiB = 2 ** 20;

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
const LIMIT = 2 ** 31;
const MAX_KEYS = 2 ** 31 - 64;
const BELOW_2_31 = escape('must be below 2^31 = 2147483648');
const KEYS_TEXT = escape('must be at most 2^31 − 64 = 2147483584 (the wasm kernel counts keys in 64-key blocks as int32)');

/** A float32 tensor of `shape` over a fresh, untouched SharedArrayBuffer. */
function lazyTensor(shape: number[]): Tensor {
  const length = shape.reduce((n, d) => n * d, 1);
  return { data: new Float32Array(new SharedArrayBuffer(length * 4)), shape };
}

const empty = (shape: number[]): Tensor => ({ data: new Float32Array(0), shape });


describe('attention: dimensions at 2^31 and keys past 2^31 − 64', () => {
  // Zero-size tensors make every dimension cheap to test: before the limit, these calls ran (no tiles).
  const one = empty([1, 1, 0, 1]);
  it.each([
    ['q.shape[0] (B)', [LIMIT, 1, 0, 1], 'q'],
    ['q.shape[1] (H)', [1, LIMIT, 0, 1], 'q'],
    ['q.shape[2] (Sq)', [1, 1, LIMIT, 0], 'q'],
    ['q.shape[3] (D)', [1, 1, 0, LIMIT], 'q'],
    ['v.shape[3] (Dv)', [1, 1, 0, LIMIT], 'v'],
  ] as const)('%s = 2^31 is refused', async (what, shape, arg) => {
    const pool = new AttentionPool({ threads: 1 });
    try {
      const t = empty([...shape]);
      const call = arg === 'q' ? () => pool.attention(t, one, one) : () => pool.attention(empty([1, 1, 0, 1]), empty([1, 1, 0, 1]), t);
      await expectRefused(call, new RegExp(`^attention: ${escape(what)} ${BELOW_2_31}, got 2147483648$`));
    } finally {
      await pool.close();
    }
  });

  it('k of 2^31 keys (8 GiB, untouched) is refused before anything is read or allocated', async () => {
    const pool = new AttentionPool({ threads: 2 });
    try {
      const k = lazyTensor([1, 1, LIMIT, 1]);
      await expectRefused(() => pool.attention(lazyTensor([1, 1, 1, 1]), k, k),
        new RegExp(`^attention: k\\.shape\\[2\\] \\(Sk\\) ${BELOW_2_31}, got 2147483648$`));
    } finally {
      await pool.close();
    }
  }, TIMEOUT_MS);

  it('Sk = 2^31 − 63 is refused: the last 64-key block would end past 2^31 − 1', async () => {
    const pool = new AttentionPool({ threads: 2 });
    try {
      const k = lazyTensor([1, 1, MAX_KEYS + 1, 1]);
      await expectRefused(() => pool.attention(lazyTensor([1, 1, 1, 1]), k, k, { causal: true, window: 64 }),
        new RegExp(`^attention: k\\.shape\\[2\\] \\(Sk\\) ${KEYS_TEXT}, got 2147483585$`));
    } finally {
      await pool.close();
    }
  }, TIMEOUT_MS);

  for (const kernel of KERNELS) {
    it(`${kernel}: Sk = 2^31 − 64 is computed, with the bits of the same 64 keys in a small call`, async () => {
      // causal + window 64 with one query: the row sees exactly the last 64 keys, [2^31 − 128, 2^31 − 64),
      // one whole block at its global position, so the small call over those keys gives the same bits.
      const rng = new Rng(2031);
      const q = randomTensor(rng, [1, 1, 1, 1]);
      const last = randomTensor(rng, [1, 1, 64, 1]);
      const k = lazyTensor([1, 1, MAX_KEYS, 1]);
      k.data.set(last.data, MAX_KEYS - 64); // k doubles as v: inputs may share memory
      const pool = new AttentionPool({ threads: 2, kernel });
      try {
        const big = await pool.attention(q, k, k, { causal: true, window: 64 });
        const small = await pool.attention(q, last, last, { causal: true, window: 64 });
        expectSameBits(big.data, small.data, 'Sk = 2^31 − 64 vs the 64 keys alone');
        expectAttentionClose(big.data, undefined, referenceAttention(q, last, last, { causal: true }), 'Sk = 2^31 − 64');
      } finally {
        await pool.close();
      }
    }, TIMEOUT_MS);
  }
});

describe('multiHeadAttention: projection rows B·Sq, B·Sk below 2^31, Sk at most 2^31 − 64', () => {
  const weights = { inProjWeight: lazyTensor([3, 1]), outProjWeight: lazyTensor([1, 1]) };
  const options = { numHeads: 1 };

  it('B·Sq = 2^31 (query [65536, 32768, 1], 8 GiB untouched) is refused', async () => {
    const pool = new AttentionPool({ threads: 1 });
    try {
      const query = lazyTensor([2 ** 16, 2 ** 15, 1]);
      const key = lazyTensor([2 ** 16, 1, 1]);
      await expectRefused(() => pool.multiHeadAttention(query, key, key, weights, options),
        new RegExp(`^multiHeadAttention: B·Sq = 65536·32768 \\(rows of the Q projection\\) ${BELOW_2_31}, got 2147483648$`));
    } finally {
      await pool.close();
    }
  }, TIMEOUT_MS);

  it('B·Sk = 2^31 (key [65536, 32768, 1]) is refused', async () => {
    const pool = new AttentionPool({ threads: 1 });
    try {
      const key = lazyTensor([2 ** 16, 2 ** 15, 1]);
      await expectRefused(() => pool.multiHeadAttention(lazyTensor([2 ** 16, 1, 1]), key, key, weights, options),
        new RegExp(`^multiHeadAttention: B·Sk = 65536·32768 \\(rows of the K and V projections\\) ${BELOW_2_31}, got 2147483648$`));
    } finally {
      await pool.close();
    }
  }, TIMEOUT_MS);

  it('Sk = 2^31 − 63 is refused, in either layout', async () => {
    const pool = new AttentionPool({ threads: 1 });
    try {
      const batchFirst = lazyTensor([1, MAX_KEYS + 1, 1]);
      await expectRefused(() => pool.multiHeadAttention(lazyTensor([1, 1, 1]), batchFirst, batchFirst, weights, options),
        new RegExp(`^multiHeadAttention: key\\.shape\\[1\\] \\(Sk\\) ${KEYS_TEXT}, got 2147483585$`));
      const seqFirst = lazyTensor([MAX_KEYS + 1, 1, 1]);
      await expectRefused(() => pool.multiHeadAttention(lazyTensor([1, 1, 1]), seqFirst, seqFirst, weights, { ...options, batchFirst: false }),
        new RegExp(`^multiHeadAttention: key\\.shape\\[0\\] \\(Sk\\) ${KEYS_TEXT}, got 2147483585$`));
    } finally {
      await pool.close();
    }
  }, TIMEOUT_MS);

  it('B·Sq = 2^31 − 1 and Sk = 2^31 − 64 pass the index limits (then maxCallBytes refuses them)', async () => {
    // Computing them would project 2^31 rows; a 1 MiB bound shows validation let them through.
    const pool = new AttentionPool({ threads: 1, maxCallBytes: MiB });
    try {
      const query = lazyTensor([1, LIMIT - 1, 1]);
      const small = lazyTensor([1, 1, 1]);
      await expectRefused(() => pool.multiHeadAttention(query, small, small, weights, options),
        /^multiHeadAttention: the Q projection \[1, 2147483647, 1\] float32 would take 8 GiB, more than maxCallBytes = 1 MiB$/);
      const key = lazyTensor([1, MAX_KEYS, 1]);
      await expectRefused(() => pool.multiHeadAttention(small, key, key, weights, options),
        /^multiHeadAttention: the K and V projections \[1, 2147483584, 2\] float32 would take 16 GiB, more than maxCallBytes = 1 MiB$/);
    } finally {
      await pool.close();
    }
  }, TIMEOUT_MS);
});

describe('KvCache: capacity at most 2^31 − 64, dimensions below 2^31', () => {
  it.each([
    ['options.capacity', { batch: 1, kvHeads: 1, headDim: 1, capacity: MAX_KEYS + 1 }, `${KEYS_TEXT}, got 2147483585`],
    ['options.batch', { batch: LIMIT, kvHeads: 1, headDim: 1, capacity: 1 }, `${BELOW_2_31}, got 2147483648`],
    ['options.kvHeads', { batch: 1, kvHeads: LIMIT, headDim: 1, capacity: 1 }, `${BELOW_2_31}, got 2147483648`],
    ['options.headDim', { batch: 1, kvHeads: 1, headDim: LIMIT, capacity: 1 }, `${BELOW_2_31}, got 2147483648`],
    ['options.valueDim', { batch: 1, kvHeads: 1, headDim: 1, valueDim: LIMIT, capacity: 1 }, `${BELOW_2_31}, got 2147483648`],
  ] as const)('createKvCache refuses %s past its limit', async (what, kvOptions, message) => {
    const pool = new AttentionPool({ threads: 1 });
    try {
      await expectRefused(() => pool.createKvCache(kvOptions), new RegExp(`^createKvCache: ${escape(what)} ${message}$`));
    } finally {
      await pool.close();
    }
  });

  it('capacity 2^31 − 64 is accepted (8 GiB each for keys and values, untouched); reserve() past it is refused', async () => {
    const pool = new AttentionPool({ threads: 1 });
    try {
      const cache = pool.createKvCache({ batch: 1, kvHeads: 1, headDim: 1, capacity: MAX_KEYS });
      expect(cache.capacity).toBe(MAX_KEYS);
      await expectRefused(() => cache.reserve(MAX_KEYS + 1), new RegExp(`^KvCache\\.reserve: capacity ${KEYS_TEXT}, got 2147483585$`));
      expect(cache.capacity).toBe(MAX_KEYS);
    } finally {
      await pool.close();
    }
  }, TIMEOUT_MS);
});
