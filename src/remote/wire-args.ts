// A call's tensors as they cross to the host: plain { data, shape } objects over SharedArrayBuffers.
// Shared data crosses as it is (zero-copy); other data is copied once into shared memory, and a
// typed array passed several times (self-attention's query, key and value) is copied only once, so
// the host still sees one array and can project Q, K and V in one pass.

import { toShared, type Tensor, type TensorData } from '../tensor.js';

export class WireTensors {
  readonly #copies = new Map<TensorData, TensorData>();

  /** Only for tensors that validation has already accepted. */
  tensor<A extends TensorData>(t: Tensor<A>): Tensor<A>;
  tensor<A extends TensorData>(t: Tensor<A> | undefined): Tensor<A> | undefined;
  tensor<A extends TensorData>(t: Tensor<A> | undefined): Tensor<A> | undefined {
    if (t === undefined) return undefined;
    let data = this.#copies.get(t.data) as A | undefined;
    if (data === undefined) {
      data = toShared(t.data);
      this.#copies.set(t.data, data);
    }
    return { data, shape: [...t.shape] };
  }
}
