// Huge scales. Any finite scale within float32's range is valid: 2.3e38 (where the wasm kernel's
// scale·log2 e still fits float32 but the scores of unit data do not) must give no NaN and the bits of
// the 1-thread pool; a scale beyond float32, or not finite, is a RangeError naming options.scale.

import { zeros, type Tensor } from '../../../src/index.js';
import type { Random } from '../../random.js';
import { randomFloats, type ValidCall } from '../calls.js';
import { refused, type HostileCall } from './hostile-call.js';

const FLOAT32_MAX = 3.4028234663852886e38;
const HUGE_SCALES = [2.3e38, -2.3e38, FLOAT32_MAX] as const;

/** Small (on the calling thread), on the workers, and decode-shaped (split over the keys). */
const SIZES = [
  { B: 1, H: 2, Sq: 8, Sk: 24, D: 8 },
  { B: 1, H: 4, Sq: 128, Sk: 200, D: 32 },
  { B: 1, H: 2, Sq: 1, Sk: 4096, D: 32 },
] as const;

function hugeScaleCall(random: Random, scale: number, size: (typeof SIZES)[number]): HostileCall {
  const { B, H, Sq, Sk, D } = size;
  const [q, k, v] = [[B, H, Sq, D], [B, H, Sk, D], [B, H, Sk, D]].map((shape) => randomFloats(random, shape) as Tensor);
  const causal = random.chance(0.5);
  // The same call on every pool: its bits on the 1-thread pool are the reference.
  const call: ValidCall = {
    label: `attention B=${B} H=${H} Sq=${Sq} Sk=${Sk} D=${D} scale=${scale}${causal ? ' causal' : ''} lse`,
    async run(pool) {
      const lse = zeros([B, H, Sq]);
      return [(await pool.attention(q!, k!, v!, { scale, causal, lse })).data, lse.data];
    },
  };
  return { kind: 'matching', hostileClass: 'large-scale', label: call.label, honest: call, hostile: call, noNaN: true };
}

export function largeScaleCalls(random: Random): HostileCall[] {
  const matching = HUGE_SCALES.flatMap((scale) => SIZES.map((size) => hugeScaleCall(random, scale, size)));
  const q = zeros([1, 1, 4, 8]);
  const outOfRange = (scale: number, expected: RegExp) =>
    refused('large-scale', `attention scale=${scale}`, expected, (pool) => pool.attention(q, q, q, { scale }));
  return [
    ...matching,
    outOfRange(3.5e38, /^attention: options\.scale must be within the float32 range .*, got 3\.5e\+38$/),
    outOfRange(-Infinity, /^attention: options\.scale must be a finite number, got -Infinity$/),
  ];
}
