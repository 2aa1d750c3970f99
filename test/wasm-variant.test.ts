// Which build of the wasm kernel a pool runs (options.wasmBuild), and what the choice does to the bits.
// The expectations come from the runtime, not from the code under test: relaxed SIMD is on by default
// from Node 22 (V8 11.4+) and on Node 20 only with --experimental-wasm-relaxed-simd, which
// vitest.config.ts passes to its second project on Node 20 alone. That second project pins the other
// build through ATTNPOOL_WASM_BUILD (test/support/kernels.ts); this file checks that the pin reaches
// the pools and kernels the kernel suites make, so neither project silently re-tests the other's build.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, createRemoteEngine, type Tensor } from '../dist/src/index.js';
import { wasmKernels } from '../dist/workers/kernels/wasm/index.js';
import { caught, expectAttentionClose, expectRelativeToMax, expectSameBits, firstBitDifference, FLOAT32_RTOL } from './support/compare.js';
import { kernelOptions, WASM_BUILD } from './support/kernels.js';
import { attentionInputs } from './support/random.js';
import { referenceAttention } from './support/reference.js';

const TIMEOUT_MS = 60_000;
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';
const RELAXED_ACCEPTED = NODE_MAJOR >= 22 || process.execArgv.includes(RELAXED_FLAG);
/** What 'auto' must pick here. */
const AUTO_BUILD = RELAXED_ACCEPTED ? 'relaxed-simd' : 'simd';
/** What the kernel suites of this project must run. */
const SUITE_BUILD = WASM_BUILD === 'auto' ? AUTO_BUILD : WASM_BUILD;

async function withPool<T>(options: ConstructorParameters<typeof AttentionPool>[0], body: (pool: AttentionPool) => T | Promise<T>): Promise<T> {
  const pool = new AttentionPool(options);
  try {
    return await body(pool);
  } finally {
    await pool.close();
  }
}

describe(`wasm kernel build on Node ${process.versions.node}${process.execArgv.includes(RELAXED_FLAG) ? ` ${RELAXED_FLAG}` : ''}`, () => {
  it(`wasmBuild 'auto' (the default) runs the '${AUTO_BUILD}' build, with kernel 'wasm' and 'auto'`, async () => {
    for (const options of [{ kernel: 'wasm' }, { kernel: 'auto' }, { kernel: 'wasm', wasmBuild: 'auto' }] as const) {
      await withPool({ threads: 1, ...options }, (pool) => {
        expect(pool.kernel, JSON.stringify(options)).toBe('wasm');
        expect(pool.wasmVariant, JSON.stringify(options)).toBe(AUTO_BUILD);
      });
    }
  });

  it(`the kernel suites of this project run the '${SUITE_BUILD}' build (ATTNPOOL_WASM_BUILD = ${WASM_BUILD})`, async () => {
    await withPool({ threads: 1, ...kernelOptions('wasm') }, (pool) => expect(pool.wasmVariant).toBe(SUITE_BUILD));
    expect(wasmKernels(WASM_BUILD)?.variant).toBe(SUITE_BUILD);
    // The second project exists to test the build that plain `node` (no flags) does not pick by default.
    if (WASM_BUILD !== 'auto') expect(SUITE_BUILD).not.toBe(NODE_MAJOR >= 22 ? 'relaxed-simd' : 'simd');
  });

  it("wasmBuild 'simd' runs the plain-SIMD build on every runtime", async () => {
    for (const kernel of ['wasm', 'auto'] as const) {
      await withPool({ threads: 2, kernel, wasmBuild: 'simd' }, (pool) => {
        expect(pool.kernel).toBe('wasm');
        expect(pool.wasmVariant).toBe('simd');
      });
    }
  });

  it(RELAXED_ACCEPTED
    ? "wasmBuild 'relaxed-simd' runs the fused multiply-add build (this runtime accepts relaxed SIMD)"
    : "wasmBuild 'relaxed-simd' throws a RangeError naming the option, the runtime and the flag (this runtime lacks relaxed SIMD)", async () => {
    if (RELAXED_ACCEPTED) {
      await withPool({ threads: 2, wasmBuild: 'relaxed-simd' }, (pool) => {
        expect(pool.kernel).toBe('wasm');
        expect(pool.wasmVariant).toBe('relaxed-simd');
      });
      return;
    }
    for (const kernel of ['wasm', 'auto'] as const) {
      const err = await caught(() => new AttentionPool({ threads: 1, kernel, wasmBuild: 'relaxed-simd' }));
      expect(err).toBeInstanceOf(RangeError);
      const message = (err as Error).message;
      expect(message).toMatch(/^AttentionPool: options\.wasmBuild must be 'auto' or 'simd' here \(/);
      expect(message).toContain(`Node ${process.version}`);
      expect(message).toContain(RELAXED_FLAG);
      expect(message).toContain('Node ≥ 22');
      expect(message).toMatch(/, got "relaxed-simd"$/);
    }
  });

  it("with kernel 'js' only wasmBuild 'auto' is accepted: a pinned build is a RangeError", async () => {
    await withPool({ threads: 1, kernel: 'js', wasmBuild: 'auto' }, (pool) => {
      expect(pool.kernel).toBe('js');
      expect(pool.wasmVariant).toBeNull();
    });
    for (const wasmBuild of ['simd', 'relaxed-simd'] as const) {
      const err = await caught(() => new AttentionPool({ threads: 1, kernel: 'js', wasmBuild }));
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).message).toBe(
        `AttentionPool: options.wasmBuild with options.kernel 'js' must be 'auto' (it picks the wasm kernel's build), got "${wasmBuild}"`);
    }
  });

  it('a wasmBuild that is no build is a RangeError naming the option and the value', async () => {
    for (const [wasmBuild, shown] of [['fma', '"fma"'], ['SIMD', '"SIMD"'], [1, '1'], [true, 'true']] as const) {
      const err = await caught(() => new AttentionPool({ threads: 1, wasmBuild: wasmBuild as never }));
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).message).toBe(`AttentionPool: options.wasmBuild must be 'auto', 'simd' or 'relaxed-simd', got ${shown}`);
    }
  });

  it('createRemoteEngine forwards wasmBuild: the hosted pool runs the pinned build, or rejects as the pool does', async () => {
    const remote = await createRemoteEngine({ threads: 1, kernel: 'wasm', wasmBuild: 'simd' });
    try {
      expect(remote.kernel).toBe('wasm');
      expect(remote.wasmVariant).toBe('simd');
    } finally {
      await remote.close();
    }
    const auto = await createRemoteEngine({ threads: 1, kernel: 'wasm' });
    try {
      expect(auto.wasmVariant).toBe(AUTO_BUILD);
    } finally {
      await auto.close();
    }
    for (const options of [{ kernel: 'js', wasmBuild: 'simd' }, { wasmBuild: 'fma' }, ...(RELAXED_ACCEPTED ? [] : [{ wasmBuild: 'relaxed-simd' }])]) {
      const expected = await caught(() => new AttentionPool({ threads: 1, ...options } as never)) as Error;
      const err = await caught(() => createRemoteEngine({ threads: 1, ...options } as never));
      expect(err, JSON.stringify(options)).toBeInstanceOf(RangeError);
      expect((err as Error).message).toBe(expected.message);
    }
  }, TIMEOUT_MS);
});

// One call, large enough to be split across the workers (B1 H4 S256 D64: 67 MFLOP), run on pools
// pinned to each build the runtime has: every thread count gives one build's bits, and the two builds
// differ only in the last bits (fused rounding), both within float32 tolerance of the float64 reference.
describe('the bits of a pinned build', () => {
  const inputs = attentionInputs({ seed: 51, B: 1, H: 4, Hkv: 4, Sq: 256, Sk: 256, D: 64, Dv: 64 });
  const reference = referenceAttention(inputs.q, inputs.k, inputs.v, { causal: true });
  const builds = RELAXED_ACCEPTED ? (['simd', 'relaxed-simd'] as const) : (['simd'] as const);
  const pools: AttentionPool[] = [];
  beforeAll(() => {
    for (const wasmBuild of builds) for (const threads of [1, 3]) pools.push(new AttentionPool({ threads, kernel: 'wasm', wasmBuild }));
  });
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.close()));
  });

  async function outputsOf(wasmBuild: string): Promise<Tensor[]> {
    const pinned = pools.filter((pool) => pool.wasmVariant === wasmBuild);
    expect(pinned.map((pool) => pool.threads)).toEqual([1, 3]);
    return Promise.all(pinned.map((pool) => pool.attention(inputs.q, inputs.k, inputs.v, { causal: true })));
  }

  it.each(builds)("wasmBuild '%s': the same bits on 1 and 3 threads, close to the reference", async (wasmBuild) => {
    const [one, three] = await outputsOf(wasmBuild);
    expectSameBits(three!.data, one!.data, `${wasmBuild}, 3 threads vs 1`);
    expectAttentionClose(one!.data, undefined, reference, wasmBuild);
  }, TIMEOUT_MS);

  // Node 20 without the flag has the plain build only; there the second project (with the flag) runs this.
  it.runIf(RELAXED_ACCEPTED)('relaxed-simd and simd differ in some bits, within float32 tolerance of each other', async () => {
    const [[simd], [relaxed]] = await Promise.all([outputsOf('simd'), outputsOf('relaxed-simd')]);
    expect(firstBitDifference(relaxed!.data, simd!.data), 'fused rounding must change some bits').toBeGreaterThanOrEqual(0);
    expectRelativeToMax(relaxed!.data, simd!.data, FLOAT32_RTOL, 'relaxed-simd vs simd');
  }, TIMEOUT_MS);
});
