// The README's first example ("Using the library"), runnable: npm run build, then
//   node examples/quick-start.mjs
// The part between the ✂ lines is the README's text; the rest checks the results against a plain-JS
// float64 reference.

import { check } from './support/check.mjs';
import * as reference from './support/reference.mjs';

// ✂ ---------------------------------------------------------------------------------------------
import { AttentionPool, tensor, zeros } from 'attnpool';

// Example inputs: seeded pseudo-random numbers in [-1, 1); in practice they come from your model.
let seed = 42;
const random = (n) => Array.from({ length: n }, () => (seed = (seed * 16807) % 2147483647) / 2147483647 * 2 - 1);

const pool = new AttentionPool({ threads: 4 });           // default: os.availableParallelism()

// Scaled dot-product attention over pre-split heads: q [B, H, Sq, D], k/v [B, Hkv, Sk, D|Dv]
const [qValues, kValues, vValues] = [random(8 * 256 * 64), random(2 * 256 * 64), random(2 * 256 * 64)];
const q = tensor([1, 8, 256, 64], qValues);                // float32 on a SharedArrayBuffer
const k = tensor([1, 2, 256, 64], kValues);                // 2 kv heads: grouped-query attention
const v = tensor([1, 2, 256, 64], vValues);
const lse = zeros([1, 8, 256]);
const out = await pool.attention(q, k, v, { causal: true, lse });   // [1, 8, 256, 64]

// The full layer, torch.nn.MultiheadAttention(E, numHeads, batch_first=True) weights and semantics
const E = 128;
const x = tensor([1, 256, E], random(256 * E));           // [B, S, E]
const weight = (rows) => tensor([rows, E], random(rows * E).map((w) => w / Math.sqrt(E)));
const inProjWeight = weight(3 * E), inProjBias = tensor([3 * E], random(3 * E));
const outProjWeight = weight(E), outProjBias = tensor([E], random(E));
const { output, attnWeights } = await pool.multiHeadAttention(x, x, x, {
  inProjWeight, inProjBias, outProjWeight, outProjBias,   // PyTorch layout: W is [out, in]
}, { numHeads: 8, causal: true, needWeights: 'average' });  // output [1, 256, E], attnWeights [1, 256, 256]

await pool.close();
// ✂ ---------------------------------------------------------------------------------------------

console.log(`attention: out [${out.shape}], lse [${lse.shape}]; layer: output [${output.shape}], attnWeights [${attnWeights.shape}]`);
const sdpa = reference.attention(q, k, v, { causal: true });
check('attention out', out.data, sdpa.out, 1e-5);
check('attention lse', lse.data, sdpa.lse, 1e-5);
const layer = reference.multiHeadAttention(x, x, x, { inProjWeight, inProjBias, outProjWeight, outProjBias }, { numHeads: 8, causal: true });
check('layer output', output.data, layer.output, 1e-5);
check('layer attnWeights', attnWeights.data, layer.attnWeights, 1e-5);
