// Outputs over inputs: out = k, out over the tail of v's buffer, lse inside out, out over a non-shared
// k. Kernels write out while other threads still read the inputs, so each must be a RangeError naming
// both arguments. Disjoint views of one buffer are as good as separate buffers: the same bits.

import { zeros, type Tensor } from '../../../src/index.js';
import type { Random } from '../../random.js';
import { randomFloats, type ValidCall } from '../calls.js';
import { refused, type HostileCall } from './hostile-call.js';
import { Placer } from './placer.js';

// H = Hkv, Sq = Sk and D = Dv: out has exactly k's and v's shape. 8.4 Mflop: run on the workers.
const B = 1, H = 4, S = 128, D = 32;
const QKV_SHAPE = [B, H, S, D];
const LSE_SHAPE = [B, H, S];
const FLOAT32_BYTES = 4;
const QKV_BYTES = B * H * S * D * FLOAT32_BYTES;

const view = (buffer: ArrayBufferLike, byteOffset: number, shape: readonly number[]): Tensor =>
  ({ data: new Float32Array(buffer, byteOffset, shape.reduce((n, d) => n * d, 1)), shape });

/** A copy of `t` off shared memory, as a caller's own scratch buffers are. */
function nonShared(t: Tensor): Tensor {
  return { data: new Float32Array(t.data), shape: t.shape };
}

function overlapping(q: Tensor, k: Tensor, v: Tensor): HostileCall[] {
  const overlap = (output: string, input: string, buffer = 'SharedArrayBuffer') =>
    new RegExp(`^attention: ${output.replace('.', '\\.')} overlaps ${input.replace('.', '\\.')} \\(the same ${buffer}, bytes `);
  // v sits at bytes [4096, 4096 + QKV_BYTES) of a larger buffer; out starts 64 bytes before v ends.
  const vBuffer = new SharedArrayBuffer(4096 + 2 * QKV_BYTES);
  const vInside = new Placer(vBuffer, 4096).place(v);
  const outOverV = view(vBuffer, 4096 + QKV_BYTES - 64, QKV_SHAPE);
  const out = zeros(QKV_SHAPE);
  const lseInsideOut = view(out.data.buffer, 256, LSE_SHAPE);
  const plainK = nonShared(k);
  return [
    refused('aliasing', 'attention out = k', overlap('options.out', 'k'), (pool) => pool.attention(q, k, v, { out: k })),
    refused('aliasing', "attention out over the tail of v's buffer", overlap('options.out', 'v'),
      (pool) => pool.attention(q, k, vInside, { out: outOverV })),
    refused('aliasing', 'attention lse inside out', overlap('options.lse', 'options.out'),
      (pool) => pool.attention(q, k, v, { out, lse: lseInsideOut })),
    refused('aliasing', 'attention out = a non-shared k', overlap('options.out', 'k', 'ArrayBuffer'),
      (pool) => pool.attention(q, plainK, v, { out: plainK })),
  ];
}

/** q, k, v, out and lse as disjoint views of one fresh buffer (k also as v when `vIsK`), against the
 *  same call on separate buffers. */
function disjointViews(q: Tensor, k: Tensor, v: Tensor, vIsK: boolean): HostileCall {
  const values = vIsK ? k : v;
  return {
    kind: 'matching', hostileClass: 'aliasing', label: `attention q, k, ${vIsK ? 'v = k' : 'v'}, out, lse: disjoint views of one buffer`,
    honest: {
      label: 'attention on separate buffers',
      async run(pool) {
        const lse = zeros(LSE_SHAPE);
        return [(await pool.attention(q, k, values, { causal: true, lse })).data, lse.data];
      },
    },
    hostile: {
      label: 'attention on disjoint views',
      async run(pool) {
        const at = new Placer(new SharedArrayBuffer(5 * QKV_BYTES));
        const [qv, kv] = [at.place(q), at.place(k)];
        const vv = vIsK ? kv : at.place(v);
        const out = at.place(zeros(QKV_SHAPE)), lse = at.place(zeros(LSE_SHAPE));
        await pool.attention(qv, kv, vv, { causal: true, out, lse });
        return [out.data, lse.data];
      },
    } satisfies ValidCall,
  };
}

/** A copy on its own SharedArrayBuffer. */
function sharedCopy(t: Tensor): Tensor {
  return new Placer(new SharedArrayBuffer(t.data.byteLength)).place(t);
}

export function aliasingCalls(random: Random): HostileCall[] {
  const [q, k, v] = [0, 1, 2].map(() => randomFloats(random, QKV_SHAPE) as Tensor);
  // The refused calls get copies of their own: one wrongly accepted would write its inputs, and that
  // must show as its own finding, not also as wrong bits of the calls that check views.
  return [...overlapping(sharedCopy(q!), sharedCopy(k!), sharedCopy(v!)), disjointViews(q!, k!, v!, false), disjointViews(q!, k!, v!, true)];
}
