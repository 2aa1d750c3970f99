// NaN and Infinity in the inputs: every call must finish (no crash, no hang, no lost thread) and the
// non-finite values must go exactly where IEEE arithmetic on the definition sends them — no further:
//   * NaN in q[b, h, i, ·]: every score of row (b, h, i) is NaN, so that output row and its lse are NaN;
//     every other row is unaffected.
//   * NaN in k[b, g, j, ·] (key j visible): every row that sees key j (all rows of the query heads of kv
//     head g, in batch b) is NaN; the other kv heads' rows are unaffected.
//   * NaN in k or v of a key a row may NOT see (causal or mask): no effect on that row. A masked key is
//     excluded, not weighted by zero — KV caches and padded batches hold arbitrary data there.
//   * NaN in v[b, g, j, c] (key j visible): column c of every row that sees key j is NaN (it is weighted
//     by p > 0); the other columns are unaffected.
//   * +Infinity in v[b, g, j, c]: column c of the rows that see key j is +Infinity; others unaffected.
//   * −Infinity in bias[i, j]: key j gets weight 0 for row i (the row stays finite).
//   * +Infinity in bias[i, j]: row i is all NaN (Inf − Inf in the softmax) or exactly v[j] (the limit);
//     either way the other rows are unaffected.
//   * ±Infinity in q: the scores of that row are ±Inf or NaN; nothing is asserted for that row beyond
//     finishing, but every other row must be unaffected.
// "Unaffected" = equal to the float64 reference within the usual float32 tolerance. The reference
// propagates NaN/Inf by the same rules (it uses no tricks), and each expectation above is also
// asserted by hand so the reference cannot silently define them.
// Each scenario runs on every kernel, at a size computed on the calling thread and at one split
// across workers.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, zeros } from '../dist/src/index.js';
import { expectAttentionClose, expectRelativeToMax, FLOAT32_RTOL } from './support/compare.js';
import { KERNELS, kernelOptions } from './support/kernels.js';
import { attentionInputs, cloneTensor, mhaInputs, randomTensor, Rng, type AttentionSpec, type TensorLike } from './support/random.js';
import { referenceAttention, referenceMultiHeadAttention } from './support/reference.js';

const TIMEOUT_MS = 60_000;

// The pool of the kernel whose describe block is running (blocks run one after another).
let pool: AttentionPool;

// GQA (H 4, Hkv 2) so a poisoned kv head leaves the other one's query heads clean.
const sizes: ReadonlyArray<AttentionSpec & { readonly label: string }> = [
  { label: 'small (calling thread)', seed: 601, B: 2, H: 4, Hkv: 2, Sq: 12, Sk: 20, D: 8, Dv: 8 },
  { label: 'large (workers)', seed: 602, B: 1, H: 4, Hkv: 2, Sq: 256, Sk: 256, D: 32, Dv: 32 },
];

interface Run {
  readonly out: Float32Array;
  readonly lse: Float32Array;
  readonly ref: { readonly out: Float64Array; readonly lse: Float64Array };
  readonly dims: { readonly B: number; readonly H: number; readonly Sq: number; readonly Sk: number; readonly Dv: number; readonly group: number };
}

async function run(q: TensorLike, k: TensorLike, v: TensorLike, options: { causal?: boolean; bias?: TensorLike; mask?: TensorLike<Uint8Array> } = {}): Promise<Run> {
  const [B, H, Sq] = q.shape;
  const lse = zeros([B, H, Sq]);
  const out = await pool.attention(q, k, v, { ...options, lse });
  const ref = referenceAttention(q, k, v, options);
  return { out: out.data as Float32Array, lse: lse.data, ref, dims: { B, H, Sq, Sk: k.shape[2], Dv: v.shape[3], group: H / k.shape[1] } };
}

/** Row (b, h, i) of out, as a plain array. */
function row(r: Run, b: number, h: number, i: number): number[] {
  const start = ((b * r.dims.H + h) * r.dims.Sq + i) * r.dims.Dv;
  return Array.from(r.out.subarray(start, start + r.dims.Dv));
}

/** Every entry (b, h, i, c) for which `affected` is false must match the reference (and be finite). */
function expectOthersMatch(r: Run, affected: (b: number, h: number, i: number, c: number) => boolean): void {
  const { H, Sq, Dv } = r.dims;
  const isAffected = (n: number): boolean => {
    const flatRow = Math.floor(n / Dv);
    return affected(Math.floor(flatRow / (H * Sq)), Math.floor(flatRow / Sq) % H, flatRow % Sq, n % Dv);
  };
  expectRelativeToMax(r.out, r.ref.out, FLOAT32_RTOL, 'unaffected entries', (n) => !isAffected(n));
  let firstNonFinite = -1;
  for (let n = 0; n < r.out.length && firstNonFinite < 0; n++) if (!isAffected(n) && !Number.isFinite(r.out[n])) firstNonFinite = n;
  expect(firstNonFinite, `out[${firstNonFinite}] = ${r.out[firstNonFinite]} should be finite`).toBe(-1);
}

function poisoned(t: TensorLike, index: number, value: number): TensorLike {
  const copy = cloneTensor(t);
  copy.data[index] = value;
  return copy;
}

describe.each(KERNELS)('kernel %s', (kernel) => {
  beforeAll(() => {
    pool = new AttentionPool({ threads: 2, ...kernelOptions(kernel) });
  });
  afterAll(async () => {
    await pool?.close();
  });

  describe.each(sizes)('attention, $label', (spec) => {
    const { q, k, v } = attentionInputs(spec);
    const { D, Dv, Sq, Sk, H, Hkv } = spec;
    const b = spec.B - 1; // poison the last batch element, head 1, a middle row
    const i = Math.floor(Sq / 2);
    const j = Math.floor(Sk / 3);
    const g = 0; // kv head 0 serves query heads 0 and 1
    const usesG = (h: number): boolean => Math.floor(h / (H / Hkv)) === g;

    it('NaN in one query row: that row (and its lse) is NaN, the rest unaffected', async () => {
      const r = await run(poisoned(q, ((b * H + 1) * Sq + i) * D + 3 % D, NaN), k, v);
      expect(row(r, b, 1, i).every(Number.isNaN), `row ${b},1,${i} = [${row(r, b, 1, i)}]`).toBe(true);
      expect(r.lse[(b * H + 1) * Sq + i], 'lse of that row').toBeNaN();
      expectOthersMatch(r, (bb, h, ii) => bb === b && h === 1 && ii === i);
    }, TIMEOUT_MS);

    it('NaN in a visible key: every row of that kv group is NaN, other groups unaffected', async () => {
      const r = await run(q, poisoned(k, ((b * Hkv + g) * Sk + j) * D, NaN), v);
      for (let h = 0; h < H; h++) for (let ii = 0; ii < Sq; ii++) if (usesG(h)) expect(row(r, b, h, ii).every(Number.isNaN), `row ${b},${h},${ii}`).toBe(true);
      expectOthersMatch(r, (bb, h) => bb === b && usesG(h));
    }, TIMEOUT_MS);

    it('NaN in a key and its value that causal masking hides: rows that cannot see it are unaffected', async () => {
      // Bottom-right causal: row ii sees key jLate iff jLate <= ii + (Sk - Sq); a key near the end is
      // hidden from most rows.
      const jLate = Sk - 2;
      const sees = (ii: number): boolean => jLate <= ii + (Sk - Sq);
      const kBad = poisoned(k, ((b * Hkv + g) * Sk + jLate) * D, NaN);
      const vBad = poisoned(v, ((b * Hkv + g) * Sk + jLate) * Dv, NaN);
      const r = await run(q, kBad, vBad, { causal: true });
      for (let h = 0; h < H; h++) for (let ii = 0; ii < Sq; ii++) if (usesG(h) && sees(ii)) expect(row(r, b, h, ii).every(Number.isNaN)).toBe(true);
      expect(sees(0), 'row 0 cannot see the key').toBe(false);
      expectOthersMatch(r, (bb, h, ii) => bb === b && usesG(h) && sees(ii));
    }, TIMEOUT_MS);

    it('NaN in a key and its value that the mask hides: no row is affected', async () => {
      const mask = new Uint8Array(new SharedArrayBuffer(Sk)).fill(1);
      mask[j] = 0;
      const r = await run(q, poisoned(k, ((b * Hkv + g) * Sk + j) * D, NaN), poisoned(v, ((b * Hkv + g) * Sk + j) * Dv + 1 % Dv, NaN), { mask: { data: mask, shape: [Sk] } });
      expectOthersMatch(r, () => false);
    }, TIMEOUT_MS);

    it('NaN in one value entry: only that column of the rows that see it is NaN', async () => {
      const c = 2 % Dv;
      const r = await run(q, k, poisoned(v, ((b * Hkv + g) * Sk + j) * Dv + c, NaN));
      for (let h = 0; h < H; h++) for (let ii = 0; ii < Sq; ii++) if (usesG(h)) expect(row(r, b, h, ii)[c], `row ${b},${h},${ii} column ${c}`).toBeNaN();
      expectOthersMatch(r, (bb, h, _, cc) => bb === b && usesG(h) && cc === c);
    }, TIMEOUT_MS);

    it('+Infinity in one value entry: that column is +Infinity where the key is seen', async () => {
      const c = 1 % Dv;
      const r = await run(q, k, poisoned(v, ((b * Hkv + g) * Sk + j) * Dv + c, Infinity));
      for (let h = 0; h < H; h++) for (let ii = 0; ii < Sq; ii++) if (usesG(h)) expect(row(r, b, h, ii)[c]).toBe(Infinity);
      expectOthersMatch(r, (bb, h, _, cc) => bb === b && usesG(h) && cc === c);
    }, TIMEOUT_MS);

    it('−Infinity in the bias masks that key for that row only', async () => {
      const bias = randomTensor(new Rng(spec.seed + 50), [Sq, Sk]);
      bias.data[i * Sk + j] = -Infinity;
      const r = await run(q, k, v, { bias });
      expectOthersMatch(r, () => false); // the reference gives key j weight exp(−Inf) = 0 in row i
      // and by hand: the same as masking key j out of row i
      const mask = new Uint8Array(Sq * Sk).fill(1);
      mask[i * Sk + j] = 0;
      const finiteBias = cloneTensor(bias);
      finiteBias.data[i * Sk + j] = 0;
      const masked = referenceAttention(q, k, v, { bias: finiteBias, mask: { data: mask, shape: [Sq, Sk] } });
      expectAttentionClose(r.out, undefined, masked, 'vs masking the key');
    }, TIMEOUT_MS);

    it('+Infinity in the bias: that row is NaN or v[j]; the other rows are unaffected', async () => {
      const bias = randomTensor(new Rng(spec.seed + 60), [Sq, Sk]);
      bias.data[i * Sk + j] = Infinity;
      const r = await run(q, k, v, { bias });
      for (let bb = 0; bb < spec.B; bb++) {
        for (let h = 0; h < H; h++) {
          const values = row(r, bb, h, i);
          const kv = Math.floor(h / (H / Hkv));
          const vj = Array.from(v.data.subarray(((bb * Hkv + kv) * Sk + j) * Dv, ((bb * Hkv + kv) * Sk + j + 1) * Dv));
          const ok = values.every(Number.isNaN) || values.every((x, c) => x === vj[c]);
          expect(ok, `row ${bb},${h},${i}: [${values.slice(0, 4)}…]`).toBe(true);
        }
      }
      expectOthersMatch(r, (_, __, ii) => ii === i);
    }, TIMEOUT_MS);

    it('±Infinity in q: the call finishes and the other rows are unaffected', async () => {
      const qBad = poisoned(q, ((b * H + 2) * Sq + i) * D, Infinity);
      qBad.data[((b * H + 3) * Sq + i) * D + 1 % D] = -Infinity;
      const r = await run(qBad, k, v, { causal: true });
      expectOthersMatch(r, (bb, h, ii) => bb === b && (h === 2 || h === 3) && ii === i);
    }, TIMEOUT_MS);
  });

  describe('multiHeadAttention', () => {
    it('NaN in one query token (cross-attention): that output row is NaN, the others unaffected', async () => {
      const inputs = mhaInputs({ seed: 610, B: 2, Sq: 40, Sk: 64, E: 32, selfAttention: false });
      const E = 32, Sq = 40;
      const query = poisoned(inputs.query, (1 * Sq + 7) * E + 5, NaN);
      const { output } = await pool.multiHeadAttention(query, inputs.key, inputs.value, inputs.weights, { numHeads: 4 });
      const ref = referenceMultiHeadAttention(query, inputs.key, inputs.value, inputs.weights, { numHeads: 4 });
      const bad = 1 * Sq + 7;
      const badRow = Array.from(output.data.subarray(bad * E, (bad + 1) * E));
      expect(badRow.every(Number.isNaN), `output row ${bad} = [${badRow.slice(0, 4)}, …]`).toBe(true);
      expectRelativeToMax(output.data, ref.output, FLOAT32_RTOL, 'other rows', (n) => Math.floor(n / E) !== bad);
      expect(Array.from(output.data).filter(Number.isNaN).length).toBe(E);
    }, TIMEOUT_MS);

    it('NaN in a padded key token: ignored, the output matches the reference', async () => {
      const inputs = mhaInputs({ seed: 611, B: 2, Sq: 30, Sk: 50, E: 32, selfAttention: false, keyLengths: [50, 41] });
      const E = 32, Sk = 50;
      const key = poisoned(inputs.key, (1 * Sk + 45) * E + 3, NaN);
      const value = poisoned(inputs.value, (1 * Sk + 45) * E + 9, NaN);
      const { output, attnWeights } = await pool.multiHeadAttention(inputs.query, key, value, inputs.weights, { numHeads: 4, keyPaddingMask: inputs.keyPaddingMask, needWeights: 'per-head' });
      const ref = referenceMultiHeadAttention(inputs.query, key, value, inputs.weights, { numHeads: 4, keyPaddingMask: inputs.keyPaddingMask });
      expectRelativeToMax(output.data, ref.output, FLOAT32_RTOL, 'output');
      expect(Array.from(attnWeights!.data).every(Number.isFinite)).toBe(true);
    }, TIMEOUT_MS);

    it('the pool still answers correctly after all of the above', async () => {
      const { q, k, v } = attentionInputs(sizes[1]);
      const out = await pool.attention(q, k, v, { causal: true });
      expectAttentionClose(out.data, undefined, referenceAttention(q, k, v, { causal: true }), 'after non-finite inputs');
    }, TIMEOUT_MS);
  });
});
