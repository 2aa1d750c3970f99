// Validation of mergeAttention(parts): everything is checked before anything is allocated.

import { rangeError, typeError } from '../errors.js';
import type { FloatArray, Tensor } from '../tensor.js';
import { checkFloatTensor, checkSameDtype } from './tensor-arg.js';

const OP = 'mergeAttention';

/** What pool.attention gives with options.lse, over one set of keys: out [B, H, Sq, Dv] and
 *  lse [B, H, Sq]. */
export interface AttentionPart<A extends FloatArray = Float32Array> {
  readonly out: Tensor<A>;
  readonly lse: Tensor<A>;
}

export interface MergeArgs {
  readonly parts: readonly AttentionPart<FloatArray>[];
  /** out's shape, the same for every part. */
  readonly shape: readonly number[];
  readonly rows: number;
  readonly Dv: number;
}

export function validateMergeArgs(partsIn: unknown): MergeArgs {
  if (!Array.isArray(partsIn)) throw typeError(OP, 'parts', 'an array of { out, lse }', partsIn);
  const given: readonly unknown[] = Array.from(partsIn as unknown[]); // read once
  if (given.length === 0) throw rangeError(OP, 'parts', 'at least one { out, lse }', given);
  const parts: AttentionPart<FloatArray>[] = [];
  given.forEach((part, n) => {
    const name = `parts[${n}]`;
    if (part === null || typeof part !== 'object') throw typeError(OP, name, 'an object { out, lse }', part);
    const { out: outIn, lse: lseIn } = part as Record<string, unknown>;
    const out = checkFloatTensor(OP, `${name}.out`, outIn, ['B', 'H', 'Sq', 'Dv']);
    const lse = checkFloatTensor(OP, `${name}.lse`, lseIn, ['B', 'H', 'Sq']);
    checkSameDtype(OP, `${name}.lse`, lse.data, `${name}.out`, out.data);
    const rowShape = out.shape.slice(0, -1);
    if (!sameShape(lse.shape, rowShape)) throw rangeError(OP, `${name}.lse.shape`, `[${rowShape.join(', ')}] (${name}.out.shape without its last dimension)`, lse.shape);
    if (n > 0) {
      checkSameDtype(OP, `${name}.out`, out.data, 'parts[0].out', parts[0].out.data);
      if (!sameShape(out.shape, parts[0].out.shape)) throw rangeError(OP, `${name}.out.shape`, `[${parts[0].out.shape.join(', ')}] (parts[0].out.shape)`, out.shape);
    }
    checkLseValues(`${name}.lse`, lse.data);
    parts.push({ out, lse });
  });
  const shape = parts[0].out.shape;
  const Dv = shape[shape.length - 1];
  return { parts, shape, rows: parts[0].lse.data.length, Dv };
}

/** A log-sum-exp is finite, or −Infinity for a row that saw no key; NaN or +Infinity would spread to
 *  every part's weights in that row. */
function checkLseValues(name: string, lse: FloatArray): void {
  for (let i = 0; i < lse.length; i++) {
    const x = lse[i];
    if (!(x < Infinity)) throw rangeError(OP, `${name}.data[${i}]`, 'finite or -Infinity (a row that saw no key)', x);
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
