// Shared arrays a board slot keeps from phase to phase (board.ts): its descriptor's bytes, its parts'
// states, its pause slots. A phase that fits in what the slot already has reuses it — registered with
// the threads once, no allocation per phase; a larger one grows it to the next power of two. They
// belong to the slot, not to a call, so a call that ends while others' parts of its phase run on
// cannot give them away under the threads.

import type { ArrayType } from './scratch-pool.js';

export class SlotArrays<A extends ArrayBufferView & { readonly length: number }> {
  readonly #arrays: (A | undefined)[];

  constructor(private readonly Type: ArrayType<A>, slots: number, private readonly minLength: number) {
    this.#arrays = new Array<A | undefined>(slots);
  }

  /** Slot `slot`'s array, at least `length` long (contents as the last phase left them). */
  at(slot: number, length: number): A {
    let array = this.#arrays[slot];
    if (!array || array.length < length) {
      const grown = Math.max(this.minLength, 2 ** Math.ceil(Math.log2(Math.max(length, 1))));
      array = new this.Type(new SharedArrayBuffer(grown * this.Type.BYTES_PER_ELEMENT), 0, grown);
      this.#arrays[slot] = array;
    }
    return array;
  }
}
