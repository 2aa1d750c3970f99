// A call's inputs on SharedArrayBuffers, so every thread reads them in place. Shared data is used as
// it is; other data is copied when the call is made — synchronously, before its promise is returned —
// so a caller may reuse its buffers as soon as the call returns, even while the call waits for a turn.
// An array passed twice (self-attention's query, key and value) is copied once, which keeps the two
// arguments recognisably the same memory (mha-op.ts projects them in one pass). With `scratch` (the
// pool's), copies go into reused scratch buffers the threads already hold: a fresh SharedArrayBuffer
// per copy would be sent to every thread and held there until that thread's next full garbage
// collection, which under a steady stream of calls with non-shared inputs came rarely enough to
// hold gigabytes.

import { isShared, toShared, type Tensor, type TensorData } from '../tensor.js';
import type { ArrayType, CallScratch } from '../pool/scratch-pool.js';
import type { AttentionArgs } from '../validate/attention-args.js';
import type { MhaArgs } from '../validate/mha-args.js';
import type { RotaryArgs, RotaryRule } from '../validate/rotary-args.js';
import { sameMemory, stillWhole } from '../validate/typed-array.js';

class SharedInputs {
  readonly #copies: { readonly original: TensorData | Int32Array; readonly copy: TensorData | Int32Array }[] = [];

  constructor(private readonly op: string, private readonly scratch: CallScratch | undefined) {}

  data<A extends TensorData | Int32Array>(name: string, data: A): A {
    const earlier = this.#copies.find((c) => sameMemory(c.original, data));
    if (earlier) return earlier.copy as A;
    if (isShared(data) && !this.scratch?.firstSight(data)) return data;
    // Reading a later argument can run the caller's code (a getter), which may shrink a resizable
    // ArrayBuffer read earlier: copying what is left would hand the kernels a short array.
    if (!stillWhole(data)) throw new RangeError(`${this.op}: ${name}.data's buffer shrank or was detached while the call's arguments were read`);
    let copy: A;
    if (this.scratch) {
      copy = this.scratch.array(data.constructor as ArrayType<A>, data.length, false); // every element set below
      copy.set(data as never);
    } else {
      copy = toShared(data);
    }
    this.#copies.push({ original: data, copy });
    return copy;
  }

  tensor<A extends TensorData | Int32Array>(name: string, t: Tensor<A>): Tensor<A>;
  tensor<A extends TensorData | Int32Array>(name: string, t: Tensor<A> | undefined): Tensor<A> | undefined;
  tensor<A extends TensorData | Int32Array>(name: string, t: Tensor<A> | undefined): Tensor<A> | undefined {
    if (!t) return undefined;
    const data = this.data(name, t.data);
    return data === t.data ? t : { data, shape: t.shape }; // t is the validator's own object, not the caller's
  }
}

/** The attention call with q, k, v, mask and bias shared (out and lse are outputs: views.ts). */
export function shareAttentionInputs(args: AttentionArgs, scratch?: CallScratch): AttentionArgs {
  const inputs = new SharedInputs('attention', scratch);
  const q = inputs.tensor('q', args.q), k = inputs.tensor('k', args.k), v = inputs.tensor('v', args.v);
  const mask = inputs.tensor('options.mask', args.mask), bias = inputs.tensor('options.bias', args.bias);
  // Most calls' inputs are shared already: their arguments stay as validated, not copied field by field.
  if (q === args.q && k === args.k && v === args.v && mask === args.mask && bias === args.bias) return args;
  return { ...args, q, k, v, mask, bias };
}

/** The layer call with its inputs, weights and key padding mask shared. */
export function shareMhaInputs(args: MhaArgs, scratch?: CallScratch): MhaArgs {
  const inputs = new SharedInputs('multiHeadAttention', scratch);
  const optional = <A extends TensorData>(name: string, data: A | undefined) => data && inputs.data(name, data);
  return {
    ...args,
    query: inputs.tensor('query', args.query), key: inputs.tensor('key', args.key), value: inputs.tensor('value', args.value),
    inProjWeight: inputs.data('weights.inProjWeight', args.inProjWeight),
    inProjBias: optional('weights.inProjBias', args.inProjBias),
    outProjWeight: inputs.data('weights.outProjWeight', args.outProjWeight),
    outProjBias: optional('weights.outProjBias', args.outProjBias),
    keyPaddingMask: optional('options.keyPaddingMask', args.keyPaddingMask),
    rotary: args.rotary && sharedRule(inputs, 'options.rotary', args.rotary),
  };
}

/** pool.rotary with x and the positions shared (out is an output: views.ts). */
export function shareRotaryInputs(args: RotaryArgs, scratch?: CallScratch): RotaryArgs {
  const inputs = new SharedInputs('rotary', scratch);
  return { ...args, x: inputs.tensor('x', args.x), rule: sharedRule(inputs, 'options', args.rule) };
}

function sharedRule(inputs: SharedInputs, name: string, rule: RotaryRule): RotaryRule {
  return { ...rule, positions: inputs.tensor(`${name}.positions`, rule.positions) };
}
