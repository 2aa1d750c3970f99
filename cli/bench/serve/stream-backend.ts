// The attnpool side of the serving benchmark, as the harness sees it: a store of many streams, opened
// with each stream's initial K/V, stepped together (one decode call per stream over everything it holds,
// all in flight at once, then one append per stream), released at the end. Each way of keeping K/V for
// many sequences is one implementation of StreamBackend, listed in STREAM_BACKENDS (./backends.ts): a
// KvCache per stream (./kv-cache-backend.ts), or one paged store for all of them (./paged-backend.ts).

import type { AttentionPool, KvCache, PagedSequence, Tensor } from '../../../src/index.js';
import type { DecodeKvDtype } from '../dispatch/shapes.js';
import type { StepRows } from './streams.js';

export interface StreamStoreSpec {
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly dtype: DecodeKvDtype;
  /** true: the step's calls go as one pool.attentionBatch; false: as pool.attention calls under one Promise.all. */
  readonly batched: boolean;
}

/** What one stream starts with. */
export interface InitialStream {
  readonly k: Tensor;
  readonly v: Tensor;
}

export interface StreamStore {
  /** One decode call per stream (query rows.q[i] over all stream i holds, causal), all together; then
   *  rows.k[i], rows.v[i] appended to stream i. Resolves to each stream's output [1, H, 1, D]. */
  step(rows: StepRows): Promise<readonly Tensor[]>;
  release(): void;
}

export interface StreamBackend {
  /** How the report names the storage, e.g. 'KvCache'. */
  readonly name: string;
  /** `capacities[i]`: the positions stream i must hold by the end of the run (one stream each). Known up
   *  front, so that a store for all streams can be sized before any stream's K/V is drawn; `initial(i)`
   *  is then called once per stream, in order, and its tensors may be dropped after. */
  open(pool: AttentionPool, spec: StreamStoreSpec, capacities: readonly number[], initial: (stream: number) => InitialStream): StreamStore;
}

/** Every step's decode call is causal over all a stream holds. */
export const STEP_OPTIONS = { causal: true } as const;

/** StreamStore.step over one KvCache or paged sequence per stream: every stream's decode call together
 *  (one attentionBatch, or `attend` — pool.attention, whose overload takes the one kind — under one
 *  Promise.all), then one append each. */
export async function stepHeld<H extends KvCache | PagedSequence>(pool: AttentionPool, batched: boolean, held: readonly H[],
  { q, k, v }: StepRows, attend: (q: Tensor, kv: H) => Promise<Tensor>): Promise<readonly Tensor[]> {
  const outs = batched
    ? await pool.attentionBatch(held.map((kv, i) => ({ q: q[i]!, kv, options: STEP_OPTIONS })))
    : await Promise.all(held.map((kv, i) => attend(q[i]!, kv)));
  held.forEach((kv, i) => kv.append(k[i]!, v[i]!));
  return outs;
}
