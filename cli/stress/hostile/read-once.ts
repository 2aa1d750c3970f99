// Arguments that change under the call: tensors (Proxies) and options (getters) whose every second
// read of a property answers differently (shape[2] four times longer, other data, causal off, another
// scale), and non-shared inputs overwritten as soon as the call has returned its promise. A call reads
// each argument once and copies non-shared inputs when it is made, so each must give exactly the bits
// of the same call made honestly.

import type { AttentionPool, MultiHeadAttentionWeights, Tensor, TensorData } from '../../../src/index.js';
import type { Random } from '../../random.js';
import { randomBits, randomFloats } from '../calls.js';
import type { HostileCall } from './hostile-call.js';

// 4 heads over 2 kv heads, 128 rows and keys, causal: 4.2 Mflop, on the workers.
const B = 1, H = 4, Hkv = 2, S = 128, D = 32;
/** What a second read of a shape reports: S × this rows or keys. */
const LATER_GROWTH = 4;
const SCALE = 0.2;

/** `honest`'s answers on the first read of each property, `later`'s on every read after it. */
function shifty<T extends object>(honest: T, later: T, wrap: (key: string, value: unknown) => unknown = (_, value) => value): T {
  const reads = new Set<string>();
  return new Proxy(honest, {
    get(target, key, receiver) {
      if (typeof key !== 'string') return Reflect.get(target, key, receiver);
      if (reads.has(key)) return Reflect.get(later, key);
      reads.add(key);
      return wrap(key, Reflect.get(target, key));
    },
  });
}

/** A tensor whose data, shape and each of the shape's elements answer as `honest` once, then as `later`. */
function shiftyTensor<A extends TensorData>(honest: Tensor<A>, later: Tensor<A>): Tensor<A> {
  return shifty(honest, later, (key, value) => (key === 'shape' ? shifty([...honest.shape], [...later.shape]) : value));
}

/** Options whose getters give causal and the scale honestly once, then something else. */
function shiftyOptions(): { readonly causal: boolean; readonly scale: number } {
  let causalReads = 0, scaleReads = 0;
  return {
    get causal() { return causalReads++ === 0; },
    get scale() { return scaleReads++ === 0 ? SCALE : 50; },
  };
}

function shiftyCall(random: Random): HostileCall {
  const tensors = (rows: number) => ({
    q: randomFloats(random, [B, H, rows, D]) as Tensor, k: randomFloats(random, [B, Hkv, rows, D]) as Tensor, v: randomFloats(random, [B, Hkv, rows, D]) as Tensor,
  });
  const honest = tensors(S), later = tensors(S * LATER_GROWTH);
  return {
    kind: 'matching', hostileClass: 'read-once', label: 'attention with Proxy tensors and getter options that answer differently on a second read',
    honest: { label: 'attention with plain arguments', run: async (pool) => [(await pool.attention(honest.q, honest.k, honest.v, { causal: true, scale: SCALE })).data] },
    hostile: {
      label: 'attention with shifty arguments',
      async run(pool) {
        const [q, k, v] = (['q', 'k', 'v'] as const).map((name) => shiftyTensor(honest[name], later[name]));
        return [(await pool.attention(q!, k!, v!, shiftyOptions())).data];
      },
    },
  };
}

/** A copy off shared memory, as a caller's own scratch buffers are. */
function nonShared<A extends TensorData>(t: Tensor<A>): Tensor<A> {
  return { data: t.data.slice() as A, shape: t.shape };
}

/** Runs `call` on non-shared copies of `tensors` and overwrites the copies as soon as it has returned. */
async function overwrittenAfterCall<T extends Record<string, Tensor<TensorData>>>(tensors: T, call: (copies: T) => Promise<TensorData[]>): Promise<TensorData[]> {
  const copies = Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, nonShared(t)])) as T;
  const result = call(copies);
  for (const t of Object.values(copies)) t.data.fill(t.data instanceof Uint8Array ? 0 : -1000);
  return result;
}

function overwrittenAttention(random: Random): HostileCall {
  const inputs = {
    q: randomFloats(random, [B, H, S, D]) as Tensor, k: randomFloats(random, [B, Hkv, S, D]) as Tensor, v: randomFloats(random, [B, Hkv, S, D]) as Tensor,
    mask: randomBits(random, [S, S], 0.7),
  };
  const attention = async (pool: AttentionPool, t: typeof inputs) => [(await pool.attention(t.q, t.k, t.v, { mask: t.mask })).data];
  return {
    kind: 'matching', hostileClass: 'read-once', label: 'attention on non-shared q, k, v and mask overwritten right after the call',
    honest: { label: 'attention on untouched inputs', run: (pool) => attention(pool, inputs) },
    hostile: { label: 'attention on overwritten inputs', run: (pool) => overwrittenAfterCall(inputs, (copies) => attention(pool, copies)) },
  };
}

function overwrittenLayer(random: Random): HostileCall {
  const E = 32, heads = 4, Sq = 96, Sk = 80;
  const w = 1 / Math.sqrt(E);
  const inputs = {
    query: randomFloats(random, [1, Sq, E]) as Tensor, key: randomFloats(random, [1, Sk, E]) as Tensor, value: randomFloats(random, [1, Sk, E]) as Tensor,
    inProjWeight: randomFloats(random, [3 * E, E], 'float32', w) as Tensor, inProjBias: randomFloats(random, [3 * E], 'float32', w) as Tensor,
    outProjWeight: randomFloats(random, [E, E], 'float32', w) as Tensor, outProjBias: randomFloats(random, [E], 'float32', w) as Tensor,
  };
  const layer = async (pool: AttentionPool, t: typeof inputs) => {
    const weights: MultiHeadAttentionWeights = { inProjWeight: t.inProjWeight, inProjBias: t.inProjBias, outProjWeight: t.outProjWeight, outProjBias: t.outProjBias };
    const { output, attnWeights } = await pool.multiHeadAttention(t.query, t.key, t.value, weights, { numHeads: heads, needWeights: 'average' });
    return [output.data, attnWeights!.data];
  };
  return {
    kind: 'matching', hostileClass: 'read-once', label: 'multiHeadAttention on non-shared inputs and weights overwritten right after the call',
    honest: { label: 'multiHeadAttention on untouched inputs', run: (pool) => layer(pool, inputs) },
    hostile: { label: 'multiHeadAttention on overwritten inputs', run: (pool) => overwrittenAfterCall(inputs, (copies) => layer(pool, copies)) },
  };
}

export function readOnceCalls(random: Random): HostileCall[] {
  return [shiftyCall(random), overwrittenAttention(random), overwrittenLayer(random)];
}
