// numpy broadcasting of a mask or bias against [B, H, Sq, Sk]: shapes are aligned on the right, and
// each dimension must equal the target's or be 1. The result is a strided view whose broadcast
// dimensions have stride 0, so kernels index it like a full tensor without any copy.

import { rangeError } from '../errors.js';
import type { Broadcast4 } from '../../workers/kernels/jobs.js';
import type { Tensor, TensorData } from '../tensor.js';

export type Dims4 = readonly [number, number, number, number];

export function broadcastTo4<A extends TensorData>(op: string, name: string, value: Tensor<A>, target: Dims4): Broadcast4<A> {
  const { data, shape } = value;
  const full = [...Array<number>(4 - shape.length).fill(1), ...shape];
  const strides = [0, 0, 0, 0];
  let stride = 1;
  for (let axis = 3; axis >= 0; axis--) {
    if (full[axis] !== target[axis] && full[axis] !== 1) {
      throw rangeError(op, `${name}.shape`, `broadcastable to [B, H, Sq, Sk] = [${target.join(', ')}]`, shape);
    }
    strides[axis] = full[axis] === 1 ? 0 : stride;
    stride *= full[axis];
  }
  return { data, offset: 0, strideB: strides[0], strideH: strides[1], strideRow: strides[2], strideCol: strides[3] };
}
