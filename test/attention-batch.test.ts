// pool.attentionBatch and the coalescing of concurrent calls (src/pool/dispatch.ts): many independent
// calls run as one phase, and every result has exactly the bits of its call made alone — decode steps
// over caches of different lengths and storage dtypes, prefills with masks and bias, GQA, windows,
// split-KV, float64 — on 1, 2 and 3 threads, both kernels; results also against the float64
// reference. Then what can go wrong around a shared phase: one call aborted, a thread that fails
// inside one call's tiles, the pool closed, a long call beside many short ones, and bad requests.

import { afterAll, describe, expect, it } from 'vitest';
import { AbortError, AttentionPool, PoolClosedError, WorkerFailedError, zeros, type KvCache } from '../dist/src/index.js';
import { caught, expectAttentionClose, expectSameBits } from './support/compare.js';
import { hookedPool, untilThreadsInside, VICTIM_SQ } from './support/faults.js';
import { KERNELS } from './support/kernels.js';
import { positions } from './support/kv-decode.js';
import { attentionInputs, type AttentionInputs, type AttentionSpec, type TensorLike } from './support/random.js';
import { referenceAttention } from './support/reference.js';

const TIMEOUT_MS = 120_000;

interface RequestSpec extends AttentionSpec {
  readonly causal?: boolean;
  readonly window?: number;
  readonly withLse?: boolean;
  /** Over a KvCache of this storage dtype holding the keys and values (q is the last Sq positions). */
  readonly cache?: 'float32' | 'float16';
}

const SPECS: readonly RequestSpec[] = [
  { seed: 11, B: 1, H: 8, Hkv: 8, Sq: 1, Sk: 300, D: 64, Dv: 64, causal: true, withLse: true, cache: 'float32' },
  { seed: 12, B: 1, H: 8, Hkv: 2, Sq: 1, Sk: 1500, D: 64, Dv: 64, causal: true, cache: 'float32' },
  { seed: 13, B: 1, H: 4, Hkv: 4, Sq: 1, Sk: 700, D: 32, Dv: 32, causal: true, withLse: true, cache: 'float16' },
  { seed: 14, B: 2, H: 4, Hkv: 2, Sq: 64, Sk: 64, D: 32, Dv: 24, causal: true, maskShape: [2, 1, 64, 64], biasShape: [1, 4, 64, 64] },
  { seed: 15, B: 1, H: 2, Hkv: 1, Sq: 33, Sk: 200, D: 24, Dv: 40, causal: true, window: 50, withLse: true },
  { seed: 16, B: 1, H: 8, Hkv: 8, Sq: 1, Sk: 6000, D: 64, Dv: 64, withLse: true }, // long keys, one query: split-KV
  { seed: 17, B: 1, H: 2, Hkv: 2, Sq: 16, Sk: 100, D: 16, Dv: 16, dtype: 'float64', causal: true, withLse: true },
  { seed: 18, B: 1, H: 1, Hkv: 1, Sq: 1, Sk: 5, D: 4, Dv: 4 }, // tiny: on the threads as part of the batch
];

interface Built {
  readonly spec: RequestSpec;
  readonly inputs: AttentionInputs;
  readonly cache?: KvCache;
}

function build(pool: AttentionPool, specs: readonly RequestSpec[]): Built[] {
  return specs.map((spec) => {
    const inputs = attentionInputs(spec);
    if (!spec.cache) return { spec, inputs };
    const cache = pool.createKvCache({ batch: spec.B, kvHeads: spec.Hkv, headDim: spec.D, valueDim: spec.Dv, capacity: spec.Sk + 7, dtype: spec.cache });
    for (let at = 0; at < spec.Sk; at += 257) {
      const end = Math.min(spec.Sk, at + 257);
      cache.append(positions(inputs.k as TensorLike<Float32Array>, at, end), positions(inputs.v as TensorLike<Float32Array>, at, end));
    }
    return { spec, inputs, cache };
  });
}

/** A request of `built`, with a fresh lse (when it asks for one): the same for the batch and alone. */
function requestOf({ spec, inputs, cache }: Built) {
  const lse = spec.withLse ? zeros([spec.B, spec.H, spec.Sq], spec.dtype ?? 'float32') : undefined;
  const options = { causal: spec.causal, window: spec.window, mask: inputs.mask, bias: inputs.bias, lse };
  return cache ? { q: inputs.q, kv: cache, options } : { q: inputs.q, k: inputs.k, v: inputs.v, options };
}

async function alone(pool: AttentionPool, built: Built): Promise<{ out: Float32Array | Float64Array; lse?: Float32Array | Float64Array }> {
  const r = requestOf(built);
  const out = r.kv ? await pool.attention(r.q, r.kv, r.options) : await pool.attention(r.q, r.k!, r.v!, r.options);
  return { out: out.data, lse: r.options.lse?.data };
}

describe.each(KERNELS)('kernel %s', (kernel) => {
  const pools = [1, 2, 3].map((threads) => new AttentionPool({ threads, kernel }));
  afterAll(() => Promise.all(pools.map((p) => p.close())));

  it('attentionBatch: each result has the bits of its call alone, on 1, 2 and 3 threads, and matches the reference', async () => {
    let first: (Float32Array | Float64Array)[] | undefined;
    for (const pool of pools) {
      const built = build(pool, SPECS);
      const requests = built.map(requestOf);
      const outs = await pool.attentionBatch(requests);
      expect(outs.length).toBe(SPECS.length);
      for (const [i, b] of built.entries()) {
        const label = `${pool.threads} threads, request ${i}`;
        const single = await alone(pool, b);
        expectSameBits(outs[i].data, single.out, `${label} out`);
        if (single.lse) expectSameBits(requests[i].options.lse!.data, single.lse, `${label} lse`);
        if (first) expectSameBits(outs[i].data, first[i], `${label} against 1 thread`);
        if (!b.spec.cache) {
          const { q, k, v, mask, bias } = b.inputs;
          const ref = referenceAttention(q, k, v, { causal: b.spec.causal, window: b.spec.window, mask, bias });
          expectAttentionClose(outs[i].data, requests[i].options.lse?.data, ref, label);
        }
      }
      first ??= outs.map((o) => o.data);
    }
  }, TIMEOUT_MS);

  it('concurrent calls are coalesced into one phase with the bits of calls made one by one; a lone call is not', async () => {
    const { pool, hooks } = hookedPool({ threads: 2, kernel });
    try {
      // Decode steps of 2–6 MFLOP: above the inline threshold, below COALESCE_MAX_FLOPS.
      const built = build(pool, [1000, 2100, 1300, 3000].map((Sk, i) => ({ seed: 40 + i, B: 1, H: 8, Hkv: 4, Sq: 1, Sk, D: 64, Dv: 64, withLse: true, cache: 'float32' as const })));
      const oneByOne = [];
      for (const b of built) oneByOne.push(await alone(pool, b));
      hooks.phases.length = 0;
      await alone(pool, built[0]);
      expect(hooks.phases, 'a lone call').toEqual([1]);
      hooks.phases.length = 0;
      const requests = built.map(requestOf);
      const outs = await Promise.all(requests.map((r) => pool.attention(r.q, r.kv!, r.options)));
      expect(hooks.phases, 'four calls made together (2 threads admit 4 at once)').toEqual([4]);
      outs.forEach((out, i) => {
        expectSameBits(out.data, oneByOne[i].out, `call ${i} out`);
        expectSameBits(requests[i].options.lse!.data, oneByOne[i].lse!, `call ${i} lse`);
      });
    } finally {
      await pool.close();
    }
  }, TIMEOUT_MS);

  it('a call aborted inside a shared phase rejects; the others finish with their own bits', async () => {
    const pool = pools[1];
    // ~50 MFLOP each: coalesced, and long enough on the js kernel to abort while it runs.
    const specs = [0, 1, 2, 3].map((i) => ({ seed: 60 + i, B: 1, H: 8, Hkv: 8, Sq: 16, Sk: 1500, D: 64, Dv: 64, causal: i % 2 === 0 }));
    const built = build(pool, specs);
    const expected = [];
    for (const b of built) expected.push(await alone(pool, b));
    for (const when of ['at once', 'while running'] as const) {
      const controller = new AbortController();
      const calls = built.map(requestOf).map((r, i) => pool.attention(r.q, r.k!, r.v!, { ...r.options, ...(i === 1 ? { signal: controller.signal } : {}) }));
      if (when === 'at once') controller.abort();
      else setTimeout(() => controller.abort(), 2);
      const settled = await Promise.allSettled(calls);
      settled.forEach((s, i) => {
        if (i === 1) {
          // On a fast kernel the call may be done before the timer fires; at once it never is.
          if (when === 'at once' || s.status === 'rejected') expect(s.status === 'rejected' && s.reason, `${when}: aborted call`).toBeInstanceOf(AbortError);
        } else {
          expect(s.status, `${when}: call ${i}`).toBe('fulfilled');
          if (s.status === 'fulfilled') expectSameBits(s.value.data, expected[i].out, `${when}: call ${i}`);
        }
      });
    }
    expectSameBits((await alone(pool, built[1])).out, expected[1].out, 'after the aborts');
  }, TIMEOUT_MS);

  it('a long call beside a stream of short coalesced ones: the short ones finish while it runs', async () => {
    const pool = pools[1];
    const long = build(pool, [{ seed: 70, B: 1, H: 8, Hkv: 1, Sq: 128, Sk: kernel === 'wasm' ? 24000 : 6144, D: 16, Dv: 16, causal: true }])[0];
    const short = build(pool, [0, 1].map((i) => ({ seed: 71 + i, B: 1, H: 8, Hkv: 8, Sq: 1, Sk: 2000, D: 64, Dv: 64, cache: 'float32' as const })));
    const expectedShort = [];
    for (const b of short) expectedShort.push(await alone(pool, b));
    const expectedLong = await alone(pool, long);
    let finished = false;
    const running = alone(pool, long).finally(() => { finished = true; });
    let rounds = 0;
    while (!finished) {
      const outs = await Promise.all(short.map((b) => alone(pool, b)));
      outs.forEach((o, i) => expectSameBits(o.out, expectedShort[i].out, `round ${rounds}, short call ${i}`));
      rounds++;
    }
    expect(rounds, 'rounds of short calls while the long one ran').toBeGreaterThan(1);
    expectSameBits((await running).out, expectedLong.out, 'the long call');
  }, TIMEOUT_MS);
});

describe('coalescing while the pool is busy', () => {
  it('small calls made in separate macrotasks while every thread works on a small phase open together when its last tile is taken', async () => {
    const { pool, hooks } = hookedPool({ threads: 2, kernel: 'js' });
    try {
      // 62 MFLOP in 16 tiles (~100 ms on the js kernel): small enough to coalesce, long enough to be busy
      // when the later calls come — once both threads are inside it, which on a loaded machine can take
      // longer than any fixed wait (a 15 ms one failed under load) — and still have tiles left to take.
      const [busy] = build(pool, [{ seed: 50, B: 1, H: 16, Hkv: 16, Sq: 16, Sk: 950, D: 64, Dv: 64 }]);
      const later = build(pool, [0, 1].map((i) => ({ seed: 51 + i, B: 1, H: 8, Hkv: 8, Sq: 1, Sk: 3000, D: 64, Dv: 64, cache: 'float32' as const })));
      const expected = [];
      for (const b of later) expected.push(await alone(pool, b));
      hooks.phases.length = 0;
      const first = alone(pool, busy);
      await untilThreadsInside(hooks, 2);
      const second = alone(pool, later[0]);
      await new Promise((resolve) => setImmediate(resolve));
      const third = alone(pool, later[1]);
      const outs = await Promise.all([first, second, third]);
      expect(hooks.phases, 'phases opened: the busy one, then the two later calls together').toEqual([1, 2]);
      expectSameBits(outs[1].out, expected[0].out, 'second call');
      expectSameBits(outs[2].out, expected[1].out, 'third call');
    } finally {
      await pool.close();
    }
  }, TIMEOUT_MS);
});

describe('failures around a shared phase', () => {
  it.each(['throw', 'exit'] as const)('a thread that fails (%s) in one call\'s tiles fails only that call', async (kind) => {
    const { pool, hooks } = hookedPool({ threads: 2, kernel: 'js' });
    try {
      // 16 MFLOP each: coalesced; the victim is told apart by its query rows.
      const specs = [VICTIM_SQ, 900, 901, 902].map((Sq, i) => ({ seed: 80 + i, B: 1, H: 2, Hkv: 2, Sq, Sk: 128, D: 16, Dv: 16 }));
      const built = build(pool, specs);
      const expected = [];
      for (const b of built.slice(1)) expected.push(await alone(pool, b));
      hooks.phases.length = 0;
      hooks.arm(kind, VICTIM_SQ);
      const settled = await Promise.allSettled(built.map((b) => alone(pool, b)));
      expect(hooks.phases[0], 'the calls shared a phase').toBe(4);
      expect(settled[0].status === 'rejected' && settled[0].reason, 'the victim').toBeInstanceOf(WorkerFailedError);
      settled.slice(1).forEach((s, i) => {
        expect(s.status, `bystander ${i}`).toBe('fulfilled');
        if (s.status === 'fulfilled') expectSameBits(s.value.out, expected[i].out, `bystander ${i}`);
      });
      expectSameBits((await alone(pool, built[1])).out, expected[0].out, 'the next call');
    } finally {
      await pool.close();
    }
  }, TIMEOUT_MS);

  it('close() during a batch rejects it with PoolClosedError', async () => {
    const pool = new AttentionPool({ threads: 2, kernel: 'js' });
    const built = build(pool, [0, 1, 2].map((i) => ({ seed: 90 + i, B: 1, H: 8, Hkv: 8, Sq: 256, Sk: 4096, D: 64, Dv: 64 })));
    const batch = caught(() => pool.attentionBatch(built.map(requestOf)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await pool.close();
    expect(await batch).toBeInstanceOf(PoolClosedError);
  }, TIMEOUT_MS);

  it('an aborted batch rejects with AbortError and the pool goes on', async () => {
    const pool = new AttentionPool({ threads: 2, kernel: 'js' });
    try {
      const built = build(pool, [0, 1].map((i) => ({ seed: 95 + i, B: 1, H: 8, Hkv: 8, Sq: 256, Sk: 4096, D: 64, Dv: 64 })));
      const controller = new AbortController();
      const batch = pool.attentionBatch(built.map(requestOf), { signal: controller.signal });
      setTimeout(() => controller.abort(), 20);
      expect(await caught(() => batch)).toBeInstanceOf(AbortError);
      const small = build(pool, [{ seed: 97, B: 1, H: 2, Hkv: 2, Sq: 8, Sk: 64, D: 16, Dv: 16 }])[0];
      const [out] = await pool.attentionBatch([requestOf(small)]);
      const { q, k, v } = small.inputs;
      expectAttentionClose(out.data, undefined, referenceAttention(q, k, v), 'after the abort');
    } finally {
      await pool.close();
    }
  }, TIMEOUT_MS);
});

describe('attentionBatch refuses bad requests before any work, naming the request', () => {
  const pool = new AttentionPool({ threads: 2, maxCallBytes: 1 << 20 });
  afterAll(() => pool.close());
  const ok = attentionInputs({ seed: 99, B: 1, H: 2, Hkv: 2, Sq: 4, Sk: 8, D: 8, Dv: 8 });
  const other = attentionInputs({ seed: 100, B: 1, H: 2, Hkv: 2, Sq: 4, Sk: 8, D: 8, Dv: 8 });
  const big = attentionInputs({ seed: 98, B: 1, H: 8, Hkv: 8, Sq: 64, Sk: 8, D: 8, Dv: 256, shared: false }); // 512 KiB of output

  it.each([
    ['not an array', () => pool.attentionBatch('x' as never), TypeError, /^attentionBatch: requests must be an array of requests/],
    ['a request that is not an object', () => pool.attentionBatch([{ q: ok.q, k: ok.k, v: ok.v }, 3 as never]), TypeError, /^attentionBatch: requests\[1\] must be a request object/],
    ['a missing v', () => pool.attentionBatch([{ q: ok.q, k: ok.k, v: ok.v }, { q: ok.q, k: ok.k } as never]), TypeError, /^attentionBatch: requests\[1\]: v must be/],
    ['a bad shape', () => pool.attentionBatch([{ q: ok.q, k: ok.k, v: { data: ok.v.data, shape: [1, 2, 4, 16] } }]), RangeError, /^attentionBatch: requests\[0\]: /],
    ['kv with k', () => pool.attentionBatch([{ q: ok.q, k: ok.k, kv: {} } as never]), RangeError, /^attentionBatch: requests\[0\] has both kv and k\/v/],
    ['kv not a cache', () => pool.attentionBatch([{ q: ok.q, kv: {} } as never]), TypeError, /^attentionBatch: requests\[0\]\.kv must be a KvCache/],
    ['an unknown field', () => pool.attentionBatch([{ q: ok.q, k: ok.k, v: ok.v, mask: 1 } as never]), RangeError, /^attentionBatch: requests\[0\]\.mask is not a request field/],
    ['a signal per request', () => pool.attentionBatch([{ q: ok.q, k: ok.k, v: ok.v, options: { signal: new AbortController().signal } as never }]), RangeError, /^attentionBatch: requests\[0\]\.options\.signal is not taken/],
    ['an unknown batch option', () => pool.attentionBatch([], { fast: true } as never), RangeError, /^attentionBatch: options\.fast is not an option/],
    ["an output over another request's input", () => pool.attentionBatch([{ q: ok.q, k: ok.k, v: ok.v }, { q: other.q, k: other.k, v: other.v, options: { out: { data: ok.q.data as Float32Array, shape: [1, 2, 4, 8] } } }]),
      RangeError, /^attentionBatch: requests\[1\]\.options\.out overlaps requests\[0\]\.q \(the same SharedArrayBuffer/],
    ['two outputs over one buffer', () => {
      const out = zeros([1, 2, 4, 8]);
      return pool.attentionBatch([{ q: ok.q, k: ok.k, v: ok.v, options: { out } }, { q: ok.q, k: ok.k, v: ok.v, options: { out } }]);
    }, RangeError, /^attentionBatch: requests\[\d\]\.options\.out overlaps requests\[\d\]\.options\.out/],
    ['more than maxCallBytes together, though each fits', () => pool.attentionBatch([big, big].map(({ q, k, v }) => ({ q, k, v }))), RangeError,
      /^attentionBatch: the call would allocate .* in all/],
  ] as const)('%s', async (_label, call, errorClass, message) => {
    const err = await caught(call);
    expect(err).toBeInstanceOf(errorClass);
    expect((err as Error).message).toMatch(message);
  });

  it('each fits alone, an empty batch gives [], and the pool works after the refusals', async () => {
    const [a] = await pool.attentionBatch([{ q: big.q, k: big.k, v: big.v }]);
    expectAttentionClose(a.data, undefined, referenceAttention(big.q, big.k, big.v), 'one of the two');
    expect(await pool.attentionBatch([])).toEqual([]);
  });
});
