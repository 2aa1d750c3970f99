// What a call allocates once it runs, for the memory bound (validate/call-bytes.ts): one entry per
// buffer, listed from the same decisions the ops make (outputBuffer's copy for a non-shared out,
// split-KV's partial states, the layer's projections), before any of them exists.

import { isShared, type DType, type FloatArray, type Tensor, type TensorData } from '../tensor.js';
import { dtypeOf } from '../../workers/dtypes.js';
import type { SplitKvSetting } from '../plan/split-kv-setting.js';
import type { AttentionArgs } from '../validate/attention-args.js';
import type { Allocation } from '../validate/call-bytes.js';
import type { MhaArgs } from '../validate/mha-args.js';
import type { RotaryArgs } from '../validate/rotary-args.js';
import { sameMemory } from '../validate/typed-array.js';
import { splitKvShape, splitOf } from './attention-phases.js';

/** The shared copies shared-inputs.ts makes: one per distinct non-shared array. */
function inputCopies(inputs: readonly (readonly [string, Tensor<TensorData> | undefined])[]): Allocation[] {
  const copied: TensorData[] = [];
  const copies: Allocation[] = [];
  for (const [name, t] of inputs) {
    if (!t || isShared(t.data) || copied.some((d) => sameMemory(d, t.data))) continue;
    copied.push(t.data);
    copies.push({ name: `a shared copy of ${name}`, shape: t.shape, dtype: dtypeOf(t.data), inputCopy: true });
  }
  return copies;
}

/** A result buffer: none when the caller's own is shared (written in place). */
function resultBuffer(name: string, given: Tensor<FloatArray> | undefined, shape: readonly number[], dtype: DType): Allocation[] {
  return given && isShared(given.data) ? [] : [{ name, shape, dtype }];
}

export function attentionAllocations(args: AttentionArgs, splitKv: SplitKvSetting, cached: boolean): Allocation[] {
  const { B, H, Sq, Sk, Dv, causal, topLeft, window, gap } = args;
  const dtype = dtypeOf(args.q.data);
  const split = splitOf({ B, H, Sq, Sk, causal, topLeft, window, gap }, false, splitKv);
  // Pushed onto one list rather than spread into a new one: every call makes this list (~1.5 KB of
  // intermediate arrays per call with spreads).
  // A KvCache call's k and v stand for the cache's own shared buffers: nothing to copy.
  const allocations = inputCopies(cached ? [['q', args.q], ['options.mask', args.mask], ['options.bias', args.bias]]
    : [['q', args.q], ['k', args.k], ['v', args.v], ['options.mask', args.mask], ['options.bias', args.bias]]);
  allocations.push(...resultBuffer('the output', args.out, [B, H, Sq, Dv], dtype));
  if (args.lse) allocations.push(...resultBuffer('a shared buffer for options.lse', args.lse, [B, H, Sq], dtype));
  if (split) allocations.push({ name: 'split-KV partial states', shape: splitKvShape(split, B * H * Sq, Dv), dtype: 'float64' });
  return allocations;
}

export function mhaAllocations(args: MhaArgs, splitKv: SplitKvSetting): Allocation[] {
  const { B, Sq, Sk, E, numHeads: H, numKvHeads: Hkv, needWeights } = args;
  const headDim = E / H;
  const dtype = dtypeOf(args.query.data);
  const weight = (name: string, data: FloatArray | undefined): [string, Tensor<TensorData> | undefined] =>
    [`weights.${name}`, data && { data, shape: [data.length] }];
  const mask = args.keyPaddingMask && { data: args.keyPaddingMask, shape: [B, Sk] };
  const split = needWeights ? undefined : splitOf({ B, H, Sq, Sk, causal: args.causal, topLeft: args.topLeft }, false, splitKv);
  return [
    ...inputCopies([['query', args.query], ['key', args.key], ['value', args.value],
      weight('inProjWeight', args.inProjWeight), weight('inProjBias', args.inProjBias),
      weight('outProjWeight', args.outProjWeight), weight('outProjBias', args.outProjBias), ['options.keyPaddingMask', mask]]),
    { name: 'the Q projection', shape: [B, Sq, E], dtype },
    { name: 'the K and V projections', shape: [B, Sk, 2 * Hkv * headDim], dtype },
    { name: 'the concatenated heads', shape: [B, Sq, E], dtype },
    { name: 'the output', shape: [B, Sq, E], dtype },
    ...(mask ? [{ name: 'the attend mask', shape: [B, Sk], dtype: 'uint8' as const }] : []),
    ...(needWeights ? [{ name: 'attention weights', shape: [B, H, Sq, Sk], dtype }] : []),
    ...(needWeights === 'average' ? [{ name: 'head-averaged attention weights', shape: [B, Sq, Sk], dtype }] : []),
    ...(split ? [{ name: 'split-KV partial states', shape: splitKvShape(split, B * H * Sq, headDim), dtype: 'float64' as const }] : []),
  ];
}

/** A non-shared positions tensor is copied too, unlisted: Allocation counts the kernels' element types,
 *  and positions [B, S] int32 are at most the size of x [B, H, S, D] (D ≥ 2), one of them. */
export function rotaryAllocations(args: RotaryArgs): Allocation[] {
  return [...inputCopies([['x', args.x]]), ...resultBuffer('the output', args.out, args.x.shape, dtypeOf(args.x.data))];
}
