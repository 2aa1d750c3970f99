// Tensors placed one after another in one buffer: the disjoint views of the aliasing class and the
// views past 4 GiB of the past-4gib class.

import type { Tensor, TensorData } from '../../../src/index.js';

/** Views start on 64-byte boundaries, as separate allocations would. */
const ALIGN = 64;

export class Placer {
  #next: number;

  constructor(readonly buffer: SharedArrayBuffer, start = 0) {
    this.#next = start;
  }

  /** A view of the next bytes holding a copy of `t`. */
  place<A extends TensorData>(t: Tensor<A>): Tensor<A> {
    const Ctor = t.data.constructor as new (buffer: SharedArrayBuffer, byteOffset: number, length: number) => A;
    const data = new Ctor(this.buffer, this.#next, t.data.length);
    data.set(t.data as never);
    this.#next = Math.ceil((this.#next + t.data.byteLength) / ALIGN) * ALIGN;
    return { data, shape: [...t.shape] };
  }
}
