// Seeded random inputs for the tests. Every test that draws random data names its seed, so a failure
// reproduces exactly. Tensors are allocated here (not with attnpool's own tensor()/zeros()) so the
// inputs do not depend on the code under test.

import { Random } from '../../dist/cli/random.js';
import type { AttentionDims } from '../../dist/workers/kernels/jobs.js';

export type Shape = readonly number[];
export type FloatData = Float32Array | Float64Array;
export type FloatDType = 'float32' | 'float64';

/** What attnpool accepts as a tensor: any object with a typed array and a row-major shape. */
export interface TensorLike<A extends FloatData | Uint8Array = FloatData> {
  readonly data: A;
  readonly shape: Shape;
}

export function product(shape: Shape): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** The project's one seeded generator (mulberry32, dist/cli/random.js: identical on every platform),
 *  with what the tests draw besides: uniform() is its next(), plus normal(); int() is Random's. */
export class Rng extends Random {
  /** Uniform in [0, 1). */
  uniform(): number {
    return this.next();
  }

  /** Standard normal (Box–Muller); 1 − u keeps the logarithm's argument in (0, 1]. */
  normal(): number {
    const u = 1 - this.uniform();
    const w = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w);
  }
}

export interface AllocOptions {
  /** Default true: back the data by a SharedArrayBuffer (attnpool's zero-copy path). */
  readonly shared?: boolean;
}

function floatArray(dtype: FloatDType, length: number, shared: boolean): FloatData {
  const bytes = length * (dtype === 'float64' ? 8 : 4);
  const buffer = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  return dtype === 'float64' ? new Float64Array(buffer) : new Float32Array(buffer);
}

/** A tensor of independent normal(0, std) values, rounded to the dtype. */
export function randomTensor(
  rng: Rng,
  shape: Shape,
  dtype: FloatDType = 'float32',
  { shared = true, std = 1 }: AllocOptions & { readonly std?: number } = {},
): TensorLike {
  const data = floatArray(dtype, product(shape), shared);
  for (let i = 0; i < data.length; i++) data[i] = std * rng.normal();
  return { data, shape: [...shape] };
}

/** A tensor of uniform(−bound, bound) values: the shape of PyTorch's xavier-style weight init. */
export function uniformTensor(rng: Rng, shape: Shape, bound: number, { shared = true }: AllocOptions = {}): TensorLike<Float32Array> {
  const data = floatArray('float32', product(shape), shared) as Float32Array;
  for (let i = 0; i < data.length; i++) data[i] = bound * (2 * rng.uniform() - 1);
  return { data, shape: [...shape] };
}

/** A 0/1 mask where each entry is 1 with probability `pOne`. */
export function randomMask(rng: Rng, shape: Shape, pOne: number, { shared = true }: AllocOptions = {}): TensorLike<Uint8Array> {
  const n = product(shape);
  const data = new Uint8Array(shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
  for (let i = 0; i < n; i++) data[i] = rng.uniform() < pOne ? 1 : 0;
  return { data, shape: [...shape] };
}

/** A float tensor of the given shape with every entry `value` (e.g. a sentinel to detect writes). */
export function filledTensor(shape: Shape, value: number, dtype: FloatDType = 'float32'): TensorLike {
  const data = floatArray(dtype, product(shape), true);
  data.fill(value);
  return { data, shape: [...shape] };
}

/** A deep copy with its own buffer (shared unless asked otherwise): inputs the test may then mutate. */
export function cloneTensor<A extends FloatData | Uint8Array>(t: TensorLike<A>, { shared = true }: AllocOptions = {}): TensorLike<A> {
  const Ctor = t.data.constructor as new (buffer: ArrayBufferLike) => A;
  const data = new Ctor(shared ? new SharedArrayBuffer(t.data.byteLength) : new ArrayBuffer(t.data.byteLength));
  data.set(t.data as never);
  return { data, shape: [...t.shape] };
}

/** Float32 data converted to float64 (the same values, exactly). */
export function toFloat64(t: TensorLike): TensorLike<Float64Array> {
  const data = new Float64Array(new SharedArrayBuffer(t.data.length * 8));
  data.set(t.data);
  return { data, shape: [...t.shape] };
}

export interface AttentionSpec extends AttentionDims {
  readonly seed: number;
  readonly dtype?: FloatDType;
  /** Shape of a random 0/1 mask (1 with probability 0.75), broadcastable to [B, H, Sq, Sk]. */
  readonly maskShape?: Shape;
  /** Shape of a random normal bias, broadcastable to [B, H, Sq, Sk]. */
  readonly biasShape?: Shape;
  readonly shared?: boolean;
}

export interface AttentionInputs {
  readonly q: TensorLike;
  readonly k: TensorLike;
  readonly v: TensorLike;
  readonly mask?: TensorLike<Uint8Array>;
  readonly bias?: TensorLike;
}

export function attentionInputs(spec: AttentionSpec): AttentionInputs {
  const rng = new Rng(spec.seed);
  const dtype = spec.dtype ?? 'float32';
  const shared = { shared: spec.shared ?? true };
  return {
    q: randomTensor(rng, [spec.B, spec.H, spec.Sq, spec.D], dtype, shared),
    k: randomTensor(rng, [spec.B, spec.Hkv, spec.Sk, spec.D], dtype, shared),
    v: randomTensor(rng, [spec.B, spec.Hkv, spec.Sk, spec.Dv], dtype, shared),
    mask: spec.maskShape && randomMask(rng, spec.maskShape, 0.75, shared),
    bias: spec.biasShape && randomTensor(rng, spec.biasShape, dtype, shared),
  };
}

export interface MhaSpec {
  readonly seed: number;
  readonly B: number;
  readonly Sq: number;
  /** Ignored for self-attention (Sk = Sq). */
  readonly Sk: number;
  readonly E: number;
  readonly selfAttention: boolean;
  /** Cross-attention with one tensor passed as both key and value (ignored for self-attention). */
  readonly keyIsValue?: boolean;
  /** Query heads; needed only with numKvHeads. */
  readonly numHeads?: number;
  /** Key/value heads of a grouped-query layer: the in-projection then has E + 2·numKvHeads·(E / numHeads)
   *  rows. Default: PyTorch's [3E, E]. */
  readonly numKvHeads?: number;
  /** Default true: include inProjBias and outProjBias (both are optional in the API). */
  readonly withBias?: boolean;
  /** Unpadded keys per batch element; builds a keyPaddingMask [B, Sk] (1 = padding). */
  readonly keyLengths?: readonly number[];
}

/** A suite's multi-head attention case: the inputs' spec with its label, heads and causal flag. */
export interface MhaCase extends MhaSpec {
  readonly label: string;
  readonly numHeads: number;
  readonly causal: boolean;
}

export interface MhaInputs {
  readonly query: TensorLike<Float32Array>;
  readonly key: TensorLike<Float32Array>;
  readonly value: TensorLike<Float32Array>;
  readonly weights: {
    readonly inProjWeight: TensorLike<Float32Array>;
    readonly inProjBias?: TensorLike<Float32Array>;
    readonly outProjWeight: TensorLike<Float32Array>;
    readonly outProjBias?: TensorLike<Float32Array>;
  };
  readonly keyPaddingMask?: TensorLike<Uint8Array>;
}

/** Inputs N(0, 1); weights uniform with PyTorch's xavier_uniform bound for in_proj_weight [3E, E]
 *  (sqrt(6 / (E + 3E))) so logits stay of order 1, as in a trained layer (the same bound for the
 *  grouped-query layer's smaller in-projection). */
export function mhaInputs(spec: MhaSpec): MhaInputs {
  const rng = new Rng(spec.seed);
  const { B, Sq, E } = spec;
  const Sk = spec.selfAttention ? Sq : spec.Sk;
  const query = randomTensor(rng, [B, Sq, E]) as TensorLike<Float32Array>;
  const key = spec.selfAttention ? query : (randomTensor(rng, [B, Sk, E]) as TensorLike<Float32Array>);
  const value = spec.selfAttention ? query : spec.keyIsValue ? key : (randomTensor(rng, [B, Sk, E]) as TensorLike<Float32Array>);
  const bound = Math.sqrt(6 / (4 * E));
  const inRows = spec.numKvHeads === undefined ? 3 * E : E + (2 * spec.numKvHeads * E) / spec.numHeads!;
  const withBias = spec.withBias ?? true;
  const weights = {
    inProjWeight: uniformTensor(rng, [inRows, E], bound),
    outProjWeight: uniformTensor(rng, [E, E], 1 / Math.sqrt(E)),
    ...(withBias && { inProjBias: uniformTensor(rng, [inRows], 0.1), outProjBias: uniformTensor(rng, [E], 0.1) }),
  };
  let keyPaddingMask: TensorLike<Uint8Array> | undefined;
  if (spec.keyLengths) {
    const data = new Uint8Array(new SharedArrayBuffer(B * Sk));
    spec.keyLengths.forEach((length, b) => data.fill(1, b * Sk + length, (b + 1) * Sk));
    keyPaddingMask = { data, shape: [B, Sk] };
  }
  return { query, key, value, weights, keyPaddingMask };
}

/** The same inputs in float64 (typed as MhaInputs: the layer takes either element type), keeping which
 *  of query, key and value are one tensor. */
export function mhaInputsAsFloat64(inputs: MhaInputs): MhaInputs {
  const query = toFloat64(inputs.query);
  const key = inputs.key === inputs.query ? query : toFloat64(inputs.key);
  const value = inputs.value === inputs.query ? query : inputs.value === inputs.key ? key : toFloat64(inputs.value);
  const w = inputs.weights;
  const weights = {
    inProjWeight: toFloat64(w.inProjWeight), outProjWeight: toFloat64(w.outProjWeight),
    ...(w.inProjBias && { inProjBias: toFloat64(w.inProjBias) }), ...(w.outProjBias && { outProjBias: toFloat64(w.outProjBias) }),
  };
  return { ...inputs, query, key, value, weights } as unknown as MhaInputs;
}
