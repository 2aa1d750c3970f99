// Building float32 and float64 tensors from data, and attention in float64.
//   npm run build, then node examples/float64.mjs

import { AttentionPool, tensor, zeros } from 'attnpool';
import { check } from './support/check.mjs';
import * as reference from './support/reference.mjs';

// tensor(shape, values) copies the values into a new SharedArrayBuffer-backed tensor. A number[] or a
// Float32Array gives float32 (numbers are rounded to the nearest float32); a Float64Array keeps float64.
const fromArray = tensor([2, 2], [0.1, 0.2, 0.3, 0.4]);                       // Tensor<Float32Array>
const fromFloat32 = tensor([2, 2], new Float32Array([0.1, 0.2, 0.3, 0.4]));   // Tensor<Float32Array>
const fromFloat64 = tensor([2, 2], new Float64Array([0.1, 0.2, 0.3, 0.4]));   // Tensor<Float64Array>
console.log(`number[] → ${fromArray.data.constructor.name}, 0.1 stored as ${fromArray.data[0]}`);
console.log(`Float32Array → ${fromFloat32.data.constructor.name}, 0.1 stored as ${fromFloat32.data[0]}`);
console.log(`Float64Array → ${fromFloat64.data.constructor.name}, 0.1 stored as ${fromFloat64.data[0]}`);

// Attention in float64: q, k and v all float64 give a float64 result; out and lse, when passed, are
// float64 too (zeros(shape, 'float64') allocates them).
let seed = 7;
const random = (n) => Float64Array.from({ length: n }, () => (seed = (seed * 16807) % 2147483647) / 2147483647 * 2 - 1);
const [B, H, S, D] = [1, 4, 128, 32];
const q = tensor([B, H, S, D], random(B * H * S * D));
const k = tensor([B, H, S, D], random(B * H * S * D));
const v = tensor([B, H, S, D], random(B * H * S * D));
const out = zeros([B, H, S, D], 'float64');
const lse = zeros([B, H, S], 'float64');

const pool = new AttentionPool();
await pool.attention(q, k, v, { out, lse });
// The same inputs narrowed to float32, for comparison: a float32 result, about 1e-7 away.
const toFloat32 = (t) => tensor(t.shape, Float32Array.from(t.data));
const out32 = await pool.attention(toFloat32(q), toFloat32(k), toFloat32(v));
await pool.close();

console.log(`float64 inputs → out ${out.data.constructor.name} [${out.shape}]; float32 inputs → ${out32.data.constructor.name}`);
const exact = reference.attention(q, k, v);
check('float64 out', out.data, exact.out, 1e-12);
check('float64 lse', lse.data, exact.lse, 1e-12);
check('float32 out', out32.data, exact.out, 1e-5);
