// The paged K/V store's bookkeeping and layout (src/paged/): what its pages hold, decoded from the
// layout definition (support/paged-pages.ts), against what was appended — float32 exactly, float16 and
// int8 bit for bit what a KvCache of that dtype stores for the same appends — through random appends,
// forks, snapshots and releases of interleaved sequences; copy-on-write never changes another
// sequence; freed pages are reused with zeros past their rows; a snapshot keeps its pages; flags.

import { describe, expect, it } from 'vitest';
import { createPagedKvCache, pagedLayoutOf, type PagedKvCache, type PagedLayout, type PagedSequence } from '../dist/src/paged/index.js';
import { KvCache, snapshotKvCache } from '../dist/src/kv-cache.js';
import { gatherHead, nonzeroPadding, type StoredHead } from './support/paged-pages.js';
import { Rng, randomTensor, type TensorLike } from './support/random.js';

type Dtype = 'float32' | 'float16' | 'int8';
type Chunk = { readonly k: TensorLike<Float32Array>; readonly v: TensorLike<Float32Array> };
const KV_HEADS = 2, D = 40, DV = 22; // D: a short int8 block; DV: dvPad 24, so V rows have pad columns

function store(dtype: Dtype, pageTokens: number, capacityTokens: number): PagedKvCache {
  return createPagedKvCache({ kvHeads: KV_HEADS, headDim: D, valueDim: DV, dtype, pageTokens, capacityTokens });
}

function chunk(rng: Rng, n: number): Chunk {
  return {
    k: randomTensor(rng, [1, KV_HEADS, n, D]) as TensorLike<Float32Array>,
    v: randomTensor(rng, [1, KV_HEADS, n, DV]) as TensorLike<Float32Array>,
  };
}

/** Head h of the chunks as a store of `dtype` must hold them: float32 as given, float16/int8 as a
 *  KvCache of that dtype stores them (its own buffers, read back). */
function expectedHead(dtype: Dtype, chunks: readonly Chunk[], h: number): StoredHead {
  const length = chunks.reduce((n, c) => n + c.k.shape[2], 0);
  if (dtype === 'float32') {
    const k = new Float32Array(length * D), v = new Float32Array(length * DV);
    let t = 0;
    for (const c of chunks) {
      const n = c.k.shape[2];
      k.set(c.k.data.subarray(h * n * D, (h + 1) * n * D), t * D);
      v.set(c.v.data.subarray(h * n * DV, (h + 1) * n * DV), t * DV);
      t += n;
    }
    return { k, v };
  }
  const cache = new KvCache({ batch: 1, kvHeads: KV_HEADS, headDim: D, valueDim: DV, capacity: Math.max(1, length), dtype });
  for (const c of chunks) cache.append(c.k, c.v);
  const snap = snapshotKvCache(cache);
  const cap = snap.capacity, bk = Math.ceil(D / 32), bv = Math.ceil(DV / 32);
  const rows = (data: Uint16Array | Int8Array | Float32Array, cols: number) => data.slice(h * cap * cols, (h * cap + length) * cols);
  const out: StoredHead = {
    k: rows(snap.keys.data as Uint16Array, D), v: rows(snap.values.data as Uint16Array, DV),
    ...(dtype === 'int8' ? { kScales: rows(snap.keys.scales!, bk), vScales: rows(snap.values.scales!, bv) } : {}),
  };
  snap.release();
  return out;
}

function expectHolds(layout: PagedLayout, seq: PagedSequence, chunks: readonly Chunk[], what: string): void {
  const snap = seq.snapshot();
  try {
    expect(snap.length, what).toBe(chunks.reduce((n, c) => n + c.k.shape[2], 0));
    for (let h = 0; h < KV_HEADS; h++) {
      const got = gatherHead(layout, snap.pages, snap.length, h), want = expectedHead(layout.dtype, chunks, h);
      // Bytes, not values: NaN payloads and −0 count too.
      for (const part of ['k', 'v', 'kScales', 'vScales'] as const) {
        if (want[part] === undefined) continue;
        expect(Buffer.from(got[part]!.buffer).equals(Buffer.from(want[part]!.buffer)), `${what}: head ${h} ${part}`).toBe(true);
      }
      if (layout.dtype === 'float32') {
        const last = snap.pages.length - 1;
        if (last >= 0) expect(nonzeroPadding(layout, snap.pages[last], h, snap.length - last * layout.pageTokens), `${what}: padding`).toBe(0);
      }
    }
  } finally {
    snap.release();
  }
}

function pagesOf(seq: PagedSequence): number[] {
  const snap = seq.snapshot();
  snap.release();
  return [...snap.pages];
}

/** Σ rows of the distinct pages the sequences hold: what usedTokens must be with no snapshot held. */
function tokensInPages(layout: PagedLayout, seqs: readonly PagedSequence[]): number {
  const rows = new Map<number, number>();
  for (const seq of seqs) {
    const snap = seq.snapshot();
    snap.pages.forEach((page, i) => rows.set(page, Math.min(layout.pageTokens, snap.length - i * layout.pageTokens)));
    snap.release();
  }
  return [...rows.values()].reduce((a, b) => a + b, 0);
}

describe.each(['float32', 'float16', 'int8'] as const)('paged store, %s', (dtype) => {
  it('holds what random interleaved appends, forks and releases gave each sequence (seeds 1–4)', () => {
    for (const seed of [1, 2, 3, 4]) {
      const rng = new Rng(seed);
      const pageTokens = rng.pick([64, 128]);
      const s = store(dtype, pageTokens, 40 * pageTokens);
      const layout = pagedLayoutOf(s);
      const live: { seq: PagedSequence; chunks: Chunk[] }[] = [];
      for (let step = 0; step < 60; step++) {
        const op = live.length === 0 ? 'new' : rng.pick(['new', 'append', 'append', 'append', 'fork', 'release']);
        if (op === 'new') live.push({ seq: s.sequence(), chunks: [] });
        else {
          const i = rng.int(0, live.length - 1), item = live[i];
          if (op === 'fork') live.push({ seq: item.seq.fork(), chunks: [...item.chunks] });
          if (op === 'release') {
            item.seq.release();
            live.splice(i, 1);
          }
          if (op === 'append') {
            const c = chunk(rng, rng.int(1, 3 * pageTokens));
            const needed = Math.ceil((item.seq.length + c.k.shape[2]) / pageTokens) - Math.floor(item.seq.length / pageTokens) + 1;
            if (needed > s.freePages) continue; // a full store is its own test
            item.seq.append(c.k, c.v);
            item.chunks.push(c);
          }
        }
        for (const [j, { seq, chunks }] of live.entries()) expectHolds(layout, seq, chunks, `seed ${seed} step ${step} (${op}) sequence ${j}`);
        expect(s.usedTokens, `seed ${seed} step ${step}`).toBe(tokensInPages(layout, live.map((l) => l.seq)));
        expect(s.freePages + new Set(live.flatMap((l) => pagesOf(l.seq))).size, 'pages held or free').toBe(s.pageCount);
      }
    }
  });

  it('copies a shared partial page on the first append to it, on whichever side appends', () => {
    const rng = new Rng(11);
    const s = store(dtype, 64, 64 * 8);
    const layout = pagedLayoutOf(s);
    const parent = s.sequence();
    const a = chunk(rng, 100); // one full page and 36 rows of a second
    parent.append(a.k, a.v);
    const child = parent.fork();
    expect(s.usedTokens).toBe(100);
    expect(s.freePages).toBe(6);
    const b = chunk(rng, 5);
    child.append(b.k, b.v); // child copies the partial page: 36 rows copied, 5 written
    expect(s.freePages).toBe(5);
    expect(s.usedTokens).toBe(100 + 36 + 5);
    const pSnap = parent.snapshot(), cSnap = child.snapshot();
    expect(cSnap.pages[0]).toBe(pSnap.pages[0]); // the full page stays shared
    expect(cSnap.pages[1]).not.toBe(pSnap.pages[1]);
    pSnap.release(); cSnap.release();
    const c = chunk(rng, 3);
    parent.append(c.k, c.v); // the parent's page is its own now: written in place
    expect(s.freePages).toBe(5);
    expectHolds(layout, parent, [a, c], 'parent');
    expectHolds(layout, child, [a, b], 'child');
    parent.release();
    expect(s.usedTokens).toBe(64 + 36 + 5); // the shared full page stays with the child
    expectHolds(layout, child, [a, b], 'child after the parent’s release');
  });

  it('keeps a snapshot’s pages after its sequence is released, until the snapshot is released', () => {
    const rng = new Rng(12);
    const s = store(dtype, 64, 64 * 4);
    const layout = pagedLayoutOf(s);
    const seq = s.sequence();
    const a = chunk(rng, 130);
    seq.append(a.k, a.v);
    const snap = seq.snapshot();
    const before = [0, 1].map((h) => gatherHead(layout, snap.pages, snap.length, h));
    seq.release();
    expect(s.freePages).toBe(1);
    expect(() => s.sequence().append(chunk(rng, 65).k, chunk(rng, 65).v)).toThrow(RangeError); // 2 pages needed, 1 free
    const other = s.sequence();
    const b = chunk(rng, 64);
    other.append(b.k, b.v);
    expect([...snap.pages]).not.toContain(pagesOf(other)[0]);
    [0, 1].forEach((h) => expect(gatherHead(layout, snap.pages, snap.length, h)).toEqual(before[h]));
    snap.release();
    snap.release(); // idempotent: pages are not freed twice
    expect(s.freePages).toBe(3);
    expect(s.usedTokens).toBe(64);
    // The freed pages come back cleared: a new sequence over them holds only its own rows.
    const again = s.sequence();
    const c = chunk(rng, 150);
    again.append(c.k, c.v);
    expectHolds(layout, again, [c], 'a sequence on reused pages');
  });
});
