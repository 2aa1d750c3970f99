// A seeded mix of small calls for the load, abort, fault and remote-engine suites: attention with
// random shapes, grouped/multi-query heads, masks and biases of every broadcast shape, causal,
// float64, non-shared inputs and lse; multi-head attention, self and cross, with key padding, causal
// and either kind of weights. Sizes straddle attnpool's inline threshold, so both the calling-thread
// path and the worker path are exercised.
//
// Every call can be run on any engine (an AttentionPool or a remote engine) and checked two ways:
// bit for bit against another run of the same call, and against the float64 test reference.

import { expect } from 'vitest';
import type { AttentionPool } from '../../dist/src/index.js';
import {
  expectAttentionClose, expectMaxAbsDiff, expectRelativeToMax, expectSameBits, FLOAT32_RTOL, WEIGHTS_ATOL,
} from './compare.js';
import {
  attentionInputs, filledTensor, mhaInputs, Rng, type AttentionInputs, type AttentionSpec, type MhaInputs, type MhaSpec, type Shape,
} from './random.js';
import { referenceAttention, referenceMultiHeadAttention } from './reference.js';

/** What the suites need of an engine: AttentionPool and the remote engine both provide it. */
export interface AttentionEngine {
  attention: AttentionPool['attention'];
  multiHeadAttention: AttentionPool['multiHeadAttention'];
}

type Result = readonly (Float32Array | Float64Array)[];

export interface WorkloadCall {
  readonly label: string;
  /** Query rows of the call's attention phase (what a test fault is aimed at, see testkit/fault-plan.ts). */
  readonly Sq: number;
  /** Runs the call; resolves with every array it produced, in a fixed order. */
  run(engine: AttentionEngine, signal?: AbortSignal): Promise<Result>;
  /** Checks a result against the float64 reference (computed on first use). */
  expectMatchesReference(result: Result): void;
}

/** Bit-for-bit equality of two results of the same call. */
export function expectSameResult(actual: Result, expected: Result, label: string): void {
  expect(actual.length, `${label}: arrays`).toBe(expected.length);
  actual.forEach((a, n) => expectSameBits(a, expected[n], `${label} [${n}]`));
}

interface AttentionCallSpec extends AttentionSpec {
  readonly causal: boolean;
  readonly withLse: boolean;
}

interface MhaCallSpec extends MhaSpec {
  readonly numHeads: number;
  readonly causal: boolean;
  readonly needWeights: false | 'average' | 'per-head';
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(0, items.length - 1)];
}

/** A broadcastable shape for [B, H, Sq, Sk]: each axis kept or set to 1, leading axes maybe dropped. */
function broadcastShape(rng: Rng, full: readonly [number, number, number, number]): Shape {
  const rank = rng.int(2, 4);
  return full.slice(4 - rank).map((d) => (rng.uniform() < 0.3 ? 1 : d));
}

export function attentionCall(spec: AttentionCallSpec): WorkloadCall {
  let inputs: AttentionInputs | undefined;
  const lazyInputs = () => (inputs ??= attentionInputs(spec));
  const dtype = spec.dtype ?? 'float32';
  return {
    label: `attention B${spec.B} H${spec.H}/${spec.Hkv} Sq${spec.Sq} Sk${spec.Sk} D${spec.D} Dv${spec.Dv} ${dtype}` +
      `${spec.causal ? ' causal' : ''}${spec.maskShape ? ` mask[${spec.maskShape}]` : ''}${spec.biasShape ? ` bias[${spec.biasShape}]` : ''}` +
      `${spec.shared === false ? ' non-shared' : ''} (seed ${spec.seed})`,
    Sq: spec.Sq,
    async run(engine, signal) {
      const { q, k, v, mask, bias } = lazyInputs();
      // NaN sentinel: an entry the call forgot to write cannot look like a result.
      const lse = spec.withLse ? filledTensor([spec.B, spec.H, spec.Sq], NaN, dtype) : undefined;
      const out = await engine.attention(q, k, v, {
        causal: spec.causal, ...(mask && { mask }), ...(bias && { bias }), ...(lse && { lse }), ...(signal && { signal }),
      });
      return lse ? [out.data, lse.data] : [out.data];
    },
    expectMatchesReference(result) {
      const { q, k, v, mask, bias } = lazyInputs();
      const ref = referenceAttention(q, k, v, { causal: spec.causal, mask, bias });
      expectAttentionClose(result[0], result[1], ref, this.label);
    },
  };
}

export function mhaCall(spec: MhaCallSpec): WorkloadCall {
  let inputs: MhaInputs | undefined;
  const lazyInputs = () => (inputs ??= mhaInputs(spec));
  const Sk = spec.selfAttention ? spec.Sq : spec.Sk;
  return {
    label: `multiHeadAttention B${spec.B} Sq${spec.Sq} Sk${Sk} E${spec.E} H${spec.numHeads} ${spec.selfAttention ? 'self' : 'cross'}` +
      `${spec.causal ? ' causal' : ''}${spec.keyLengths ? ` keys[${spec.keyLengths}]` : ''} weights:${spec.needWeights} (seed ${spec.seed})`,
    Sq: spec.Sq,
    async run(engine, signal) {
      const { query, key, value, weights, keyPaddingMask } = lazyInputs();
      const { output, attnWeights } = await engine.multiHeadAttention(query, key, value, weights, {
        numHeads: spec.numHeads, causal: spec.causal, needWeights: spec.needWeights,
        ...(keyPaddingMask && { keyPaddingMask }), ...(signal && { signal }),
      });
      return attnWeights ? [output.data, attnWeights.data] : [output.data];
    },
    expectMatchesReference(result) {
      const { query, key, value, weights, keyPaddingMask } = lazyInputs();
      const ref = referenceMultiHeadAttention(query, key, value, weights, { numHeads: spec.numHeads, causal: spec.causal, keyPaddingMask });
      expectRelativeToMax(result[0], ref.output, FLOAT32_RTOL, `${this.label}: output`);
      expect(result.length, `${this.label}: weights returned iff asked for`).toBe(spec.needWeights ? 2 : 1);
      if (spec.needWeights) {
        const expected = spec.needWeights === 'average' ? ref.weightsAverage : ref.weightsPerHead;
        expectMaxAbsDiff(result[1], expected, WEIGHTS_ATOL, `${this.label}: weights`);
      }
    },
  };
}

function randomAttentionSpec(rng: Rng, seed: number): AttentionCallSpec {
  const B = rng.int(1, 2);
  const Hkv = rng.int(1, 2);
  const H = Hkv * rng.int(1, 3);
  // Query lengths run up to 160, so some calls carry several MFLOP (worker path), others a few kFLOP.
  const Sq = rng.uniform() < 0.05 ? 0 : rng.int(1, 160);
  const Sk = rng.uniform() < 0.1 ? 0 : rng.int(1, 160);
  const D = rng.int(1, 40);
  const Dv = rng.uniform() < 0.5 ? D : rng.int(1, 40);
  const full = [B, H, Sq, Sk] as const;
  return {
    seed, B, H, Hkv, Sq, Sk, D, Dv,
    causal: rng.uniform() < 0.4,
    dtype: rng.uniform() < 0.15 ? 'float64' : 'float32',
    maskShape: rng.uniform() < 0.4 ? broadcastShape(rng, full) : undefined,
    biasShape: rng.uniform() < 0.25 ? broadcastShape(rng, full) : undefined,
    shared: rng.uniform() >= 0.2,
    withLse: rng.uniform() < 0.5,
  };
}

function randomMhaSpec(rng: Rng, seed: number): MhaCallSpec {
  const B = rng.int(1, 2);
  const numHeads = pick(rng, [1, 2, 4]);
  const E = numHeads * pick(rng, [4, 8, 12]);
  const selfAttention = rng.uniform() < 0.5;
  const Sq = rng.int(1, 96);
  const Sk = selfAttention ? Sq : rng.int(1, 96);
  return {
    seed, B, Sq, Sk, E, numHeads, selfAttention,
    causal: rng.uniform() < 0.4,
    withBias: rng.uniform() < 0.8,
    keyLengths: rng.uniform() < 0.3 ? Array.from({ length: B }, () => rng.int(0, Sk)) : undefined,
    needWeights: pick(rng, [false, false, 'average', 'per-head'] as const),
  };
}

/** `count` random calls, about a third of them multi-head attention; the same seed gives the same calls. */
export function mixedCalls(seed: number, count: number): WorkloadCall[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, n) => {
    const callSeed = seed * 1000 + n;
    return rng.uniform() < 0.35 ? mhaCall(randomMhaSpec(rng, callSeed)) : attentionCall(randomAttentionSpec(rng, callSeed));
  });
}

/** Runs every call one after another (the baseline the concurrent runs are compared with). */
export async function runOneByOne(engine: AttentionEngine, calls: readonly WorkloadCall[]): Promise<Result[]> {
  const results: Result[] = [];
  for (const call of calls) results.push(await call.run(engine));
  return results;
}

export type { Result as WorkloadResult };
