// The remote engine's own contract, beyond the golden, abort, back-pressure and fuzz suites: the
// same surface as AttentionPool (resolved threads and kernel, out/lse written in place, the same
// errors with the same messages), concurrent mixed calls giving the in-thread bits, and an engine
// nobody closed not keeping the process alive.

import { describe, expect, it } from 'vitest';
import { AbortError, AttentionPool, createRemoteEngine, PoolClosedError } from '../dist/src/index.js';
import { expectAttentionClose, expectSameBits } from './support/compare.js';
import { runChildScript } from './support/faults-child.js';
import { expectSameResult, mixedCalls, runOneByOne } from './support/faults-workload.js';
import { attentionInputs, filledTensor, randomTensor, Rng } from './support/random.js';
import { referenceAttention } from './support/reference.js';
import { suitePool, suiteRemoteEngine } from './support/suite-pools.js';

const TIMEOUT_MS = 60_000;

describe('remote engine', () => {
  const remote = suiteRemoteEngine({ threads: 2, kernel: 'js' }, TIMEOUT_MS);
  const local = suitePool({ threads: 2, kernel: 'js' });

  it('reports the resolved thread count and kernel', () => {
    expect(remote().threads).toBe(2);
    expect(remote().kernel).toBe('js');
  });

  it('bad options reject as the pool constructor throws', async () => {
    for (const options of [{ threads: 0 }, { threads: 'two' }, { kernel: 'gpu' }, { maxQueue: -1 }, { thread: 2 }]) {
      const expected = (() => { try { new AttentionPool(options as never); } catch (e) { return e as Error; } throw new Error('no error'); })();
      const err = await createRemoteEngine(options as never).then(() => undefined, (e: unknown) => e as Error);
      expect(err?.constructor, JSON.stringify(options)).toBe(expected.constructor);
      expect(err?.message).toBe(expected.message);
    }
  });

  it('writes a caller-provided out and lse in place, shared or not, and returns that out', async () => {
    const { q, k, v } = attentionInputs({ seed: 41, B: 1, H: 4, Hkv: 2, Sq: 120, Sk: 90, D: 16, Dv: 24 });
    const ref = referenceAttention(q, k, v, { causal: true });
    for (const sharedOut of [true, false]) {
      const length = 4 * 120 * 24;
      const out = sharedOut ? filledTensor([1, 4, 120, 24], NaN) : { data: new Float32Array(length).fill(NaN), shape: [1, 4, 120, 24] };
      const lse = sharedOut ? filledTensor([1, 4, 120], NaN) : { data: new Float32Array(480).fill(NaN), shape: [1, 4, 120] };
      const result = await remote().attention(q, k, v, { causal: true, out, lse });
      expect(result, 'the caller’s out object is returned').toBe(out);
      expectAttentionClose(out.data, lse.data, ref, `${sharedOut ? 'shared' : 'plain'} out`);
    }
  }, TIMEOUT_MS);

  it('rejects bad input with the in-thread pool’s error class and message', async () => {
    const { q, k, v } = attentionInputs({ seed: 42, B: 1, H: 2, Hkv: 1, Sq: 5, Sk: 6, D: 4, Dv: 4 });
    const bad: [string, (engine: Pick<AttentionPool, 'attention' | 'multiHeadAttention'>) => Promise<unknown>][] = [
      ['k with another D', (e) => e.attention(q, { data: new Float32Array(6 * 5), shape: [1, 1, 6, 5] }, v)],
      ['causal a string', (e) => e.attention(q, k, v, { causal: 'yes' as never })],
      ['unknown option', (e) => e.attention(q, k, v, { casual: true } as never)],
      ['a function as signal', (e) => e.attention(q, k, v, { signal: (() => {}) as never })],
      ['numHeads not dividing E', (e) => e.multiHeadAttention(q as never, q as never, q as never, {} as never, { numHeads: 3 })],
      ['weights null', (e) => e.multiHeadAttention({ data: new Float32Array(8), shape: [1, 2, 4] }, { data: new Float32Array(8), shape: [1, 2, 4] }, { data: new Float32Array(8), shape: [1, 2, 4] }, null as never, { numHeads: 2 })],
    ];
    for (const [label, call] of bad) {
      const expected = await call(local).then(() => undefined, (e: unknown) => e as Error);
      const actual = await call(remote()).then(() => undefined, (e: unknown) => e as Error);
      expect(expected, label).toBeInstanceOf(Error);
      expect(actual?.constructor, label).toBe(expected!.constructor);
      expect(actual?.name, label).toBe(expected!.name);
      expect(actual?.message, label).toBe(expected!.message);
    }
  }, TIMEOUT_MS);

  it('keeps the error classes of calls that fail in the host: AbortError', async () => {
    const controller = new AbortController();
    const { q, k, v } = attentionInputs({ seed: 43, B: 1, H: 8, Hkv: 8, Sq: 512, Sk: 512, D: 64, Dv: 64 });
    const call = remote().attention(q, k, v, { signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    const err = await call.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
  }, TIMEOUT_MS);

  it('64 concurrent mixed calls give the in-thread 1-thread bits; non-shared inputs give the same bits', async () => {
    const calls = mixedCalls(43, 64);
    const single = new AttentionPool({ threads: 1, kernel: 'js' });
    const baseline = await runOneByOne(single, calls).finally(() => single.close());
    const results = await Promise.all(calls.map((call) => call.run(remote())));
    results.forEach((r, n) => expectSameResult(r, baseline[n], calls[n].label));

    // One tensor passed as query, key and value, in a plain ArrayBuffer: copied once, still self-attention.
    const rng = new Rng(44);
    const x = randomTensor(rng, [2, 40, 16], 'float32', { shared: false }) as { data: Float32Array; shape: number[] };
    const w = { inProjWeight: randomTensor(rng, [48, 16]) as never, outProjWeight: randomTensor(rng, [16, 16]) as never };
    const a = await remote().multiHeadAttention(x, x, x, w, { numHeads: 4, needWeights: 'per-head' });
    const b = await local.multiHeadAttention(x, x, x, w, { numHeads: 4, needWeights: 'per-head' });
    expectSameBits(a.output.data, b.output.data, 'self-attention, plain input: output');
    expectSameBits(a.attnWeights!.data, b.attnWeights!.data, 'self-attention, plain input: weights');
  }, TIMEOUT_MS);
});

describe('remote engine lifetime', () => {
  it('close() is idempotent and later calls reject with PoolClosedError', async () => {
    const engine = await createRemoteEngine({ threads: 1, kernel: 'js' });
    await Promise.all([engine.close(), engine.close()]);
    const { q, k, v } = attentionInputs({ seed: 45, B: 1, H: 1, Hkv: 1, Sq: 3, Sk: 3, D: 2, Dv: 2 });
    const err = await engine.attention(q, k, v).then(() => undefined, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(PoolClosedError);
    expect(err!.message).toBe('attention: the pool is closed');
  }, TIMEOUT_MS);

  it('an idle engine nobody closed does not keep the process alive', async () => {
    const script = `
      const { createRemoteEngine, zeros } = await import(attnpool);
      const engine = await createRemoteEngine({ threads: 2, kernel: 'js' });
      const q = zeros([1, 4, 200, 32]);
      const out = await engine.attention(q, q, q);
      console.log(JSON.stringify({ length: out.data.length }));`;
    const { reports, exitCode, exitAfterFirstReportMs } = await runChildScript(script, { killAfterMs: 20_000 });
    expect(reports).toEqual([{ length: 4 * 200 * 32 }]);
    expect(exitCode).toBe(0);
    expect(exitAfterFirstReportMs).toBeLessThan(2_000);
  }, TIMEOUT_MS);
});
