// The attention variants against the golden cases of test/golden-variants (every sdpa-variant case,
// var-*: causal 'top-left', softcap, ALiBi, sinks, sinks with a fully masked row, window + sinks, and
// the reduced-precision K/V cases over their decoded k_stored / v_stored), each file checked against
// the manifest: out within the case's suggested_out_rtol of out.f64 (relative to its max), lse within
// 1e-5 (−Infinity where the row saw nothing), on both kernels with 1, 2 and 3 threads giving the same
// bits. The reference written in the test (support/variant-reference.ts) must agree with the golden
// too, so a convention both get wrong the same way would still show here.

import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AttentionPool, alibiSlopes, zeros, type AttentionOptions, type Tensor } from '../dist/src/index.js';
import { expectLseClose, expectRelativeToMax, expectSameBits } from './support/compare.js';
import { GOLDEN_VARIANTS_DIR, loadVariantCase, type VariantCase } from './support/golden-ring.js';
import { kernelOptions, KERNELS } from './support/kernels.js';
import { cloneTensor, type TensorLike } from './support/random.js';
import { variantReference, type VariantReferenceOptions } from './support/variant-reference.js';

const TIMEOUT_MS = 120_000;
const THREADS = [1, 2, 3] as const;

const manifest = JSON.parse(readFileSync(join(GOLDEN_VARIANTS_DIR, 'manifest.json'), 'utf8')) as { cases: { name: string; kind: string }[] };
const NAMES = manifest.cases.filter((c) => c.kind === 'sdpa-variant').map((c) => c.name);

interface Loaded {
  readonly q: TensorLike<Float32Array>; readonly k: TensorLike<Float32Array>; readonly v: TensorLike<Float32Array>;
  readonly options: AttentionOptions & Omit<VariantReferenceOptions, 'sinks'>;
  readonly out: Float64Array; readonly lse: Float32Array; readonly rtol: number;
}

function load(name: string): Loaded {
  const c: VariantCase = loadVariantCase(name);
  const f = c.fields as Record<string, unknown>;
  const files = f.files as Record<string, unknown>;
  const has = (file: string) => file in files;
  const stored = f.kv_dtype !== null; // attention over the values the stored K/V decode to
  const mask = has('mask.npy') ? (c.u8('mask.npy') as Tensor<Uint8Array>) : undefined;
  const options = {
    ...(f.causal !== null && { causal: f.causal as 'top-left' | 'bottom-right' }),
    ...(f.window !== null && { window: f.window as number }),
    ...(f.softcap !== null && { softcap: f.softcap as number }),
    ...(f.scale !== null && { scale: f.scale as number }),
    ...(has('alibi_slopes.npy') && { alibiSlopes: c.f32('alibi_slopes.npy').data }),
    ...(has('sinks.npy') && { sinks: c.f32('sinks.npy') as Tensor<Float32Array> }),
    ...(mask && { mask }),
  };
  return {
    q: c.f32('q.npy'), k: c.f32(stored ? 'k_stored.npy' : 'k.npy'), v: c.f32(stored ? 'v_stored.npy' : 'v.npy'),
    options, out: c.f64('out.f64.npy').data, lse: c.f32('lse.npy').data, rtol: f.suggested_out_rtol as number,
  };
}

const pools: AttentionPool[] = [];
afterAll(async () => { await Promise.all(pools.map((p) => p.close())); });

describe('golden-variants cases', () => {
  it('lists every sdpa-variant case of the manifest (9)', () => {
    expect(NAMES).toHaveLength(9);
    expect(NAMES.filter((n) => n.startsWith('var-'))).toEqual(NAMES);
  });

  it.each(NAMES)('%s: the float64 reference of this suite agrees with out.f64 and lse', (name) => {
    const c = load(name);
    const ref = variantReference(c.q, c.k, c.v, { ...c.options, sinks: c.options.sinks?.data });
    expectRelativeToMax(ref.out, c.out, 1e-12, `${name} reference out`);
    expectLseClose(ref.lse, c.lse, `${name} reference lse`);
  });

  it('alibiSlopes(4) gives the slopes var-alibi-causal was made with (2^(-8k/H))', () => {
    const golden = loadVariantCase('var-alibi-causal').f32('alibi_slopes.npy').data;
    expectSameBits(Float32Array.from(alibiSlopes(4)), golden, 'alibiSlopes(4)');
  });
});

describe.each(KERNELS)('%s kernel', (kernel) => {
  const byThreads = THREADS.map((threads) => {
    const pool = new AttentionPool({ threads, ...kernelOptions(kernel) });
    pools.push(pool);
    return pool;
  });

  it.each(NAMES)('%s: matches out.f64 and lse, the same bits for 1, 2 and 3 threads', async (name) => {
    const c = load(name);
    const results: { out: Float32Array; lse: Float32Array }[] = [];
    for (const pool of byThreads) {
      const lse = zeros([c.q.shape[0], c.q.shape[1], c.q.shape[2]]);
      const out = await pool.attention(cloneTensor(c.q) as Tensor, cloneTensor(c.k) as Tensor, cloneTensor(c.v) as Tensor, { ...c.options, lse });
      results.push({ out: out.data, lse: lse.data });
    }
    expectRelativeToMax(results[0].out, c.out, c.rtol, `${name} out`);
    expectLseAbs(results[0].lse, c.lse, `${name} lse`);
    for (let t = 1; t < results.length; t++) {
      expectSameBits(results[t].out, results[0].out, `${name} out, ${THREADS[t]} threads vs 1`);
      expectSameBits(results[t].lse, results[0].lse, `${name} lse, ${THREADS[t]} threads vs 1`);
    }
  }, TIMEOUT_MS);
});

/** The README's lse rule: within 1e-5 absolute where finite, −Infinity exactly where the row saw nothing. */
function expectLseAbs(actual: Float32Array, expected: Float32Array, label: string): void {
  expect(actual.length).toBe(expected.length);
  for (let n = 0; n < expected.length; n++) {
    if (expected[n] === -Infinity) expect(actual[n], `${label}[${n}]`).toBe(-Infinity);
    else expect(Math.abs(actual[n] - expected[n]), `${label}[${n}]: got ${actual[n]}, expected ${expected[n]}`).toBeLessThanOrEqual(1e-5);
  }
}
