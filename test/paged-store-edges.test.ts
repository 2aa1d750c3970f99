// The paged store's edges: option errors, a full store (nothing written), a released sequence, the
// per-block flags of non-finite V rows, and the JS panel packer against the wasm kernel's packPanels.

import { describe, expect, it } from 'vitest';
import { createPagedKvCache, pagedLayoutOf, PAGES_BASE } from '../dist/src/paged/index.js';
import { packKeyPanels } from '../dist/src/paged/panel-packer.js';
import { wasmKernels } from '../dist/workers/kernels/wasm/index.js';
import { instantiateKernels } from '../dist/workers/kernels/wasm/kernel-exports.js';
import { Rng, randomTensor, type TensorLike } from './support/random.js';

const base = { kvHeads: 2, headDim: 16, capacityTokens: 256 };

describe('createPagedKvCache options', () => {
  it.each([
    [undefined, TypeError, /options must be an object/],
    [{ ...base, kvHeads: 0 }, RangeError, /options\.kvHeads must be a positive integer, got 0/],
    [{ ...base, kvHeads: '2' }, TypeError, /options\.kvHeads must be a positive integer, got "2"/],
    [{ ...base, headDim: 1.5 }, RangeError, /options\.headDim must be a positive integer, got 1\.5/],
    [{ ...base, valueDim: -1 }, RangeError, /options\.valueDim must be a positive integer, got -1/],
    [{ ...base, dtype: 'float64' }, RangeError, /options\.dtype must be 'float32', 'float16' or 'int8', got "float64"/],
    [{ ...base, dtype: 16 }, TypeError, /options\.dtype must be/],
    [{ ...base, pageTokens: 100 }, RangeError, /options\.pageTokens must be a positive multiple of 64 .*at most 2048, got 100/],
    [{ ...base, pageTokens: 4096 }, RangeError, /options\.pageTokens .* got 4096/],
    [{ ...base, pageTokens: 0 }, RangeError, /options\.pageTokens .* got 0/],
    [{ ...base, pageTokens: '64' }, TypeError, /options\.pageTokens .* got "64"/],
    [{ kvHeads: 2, headDim: 16 }, TypeError, /options\.capacityTokens must be a positive integer, got undefined/],
    [{ ...base, capacityTokens: 0 }, RangeError, /options\.capacityTokens must be a positive integer, got 0/],
    [{ ...base, pageToken: 64 }, RangeError, /options\.pageToken is not an option/],
    [{ kvHeads: 8, headDim: 128, capacityTokens: 1 << 20 }, RangeError,
      /options\.capacityTokens = 1048576 needs \d+ bytes .* more than the 4294967296 bytes a wasm32 shared memory holds/],
  ])('%j → %s', (options, kind, message) => {
    const call = () => createPagedKvCache(options as never);
    expect(call).toThrow(kind);
    expect(call).toThrow(message);
  });

  it('rounds capacityTokens up to whole pages and lays pages out from PAGES_BASE, 64-byte aligned', () => {
    const s = createPagedKvCache({ ...base, valueDim: 6, capacityTokens: 200, pageTokens: 128 });
    expect(s.capacityTokens).toBe(256);
    expect(s.pageTokens).toBe(128);
    expect(s.freePages).toBe(2);
    const layout = pagedLayoutOf(s);
    expect(layout.pagesBase).toBe(PAGES_BASE);
    expect(PAGES_BASE).toBe(4 * 1024 * 1024);
    expect(layout.dvPad).toBe(8);
    expect(layout.headRegionBytes % 64).toBe(0);
    expect(layout.parts.v % 64).toBe(0);
    expect(layout.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(layout.memory.buffer.byteLength).toBeGreaterThanOrEqual(PAGES_BASE + 2 * layout.pageBytes);
    expect(createPagedKvCache(base).pageTokens).toBe(256);
  });
});

function tensors(rng: Rng, n: number, kvHeads = 2, D = 16): [TensorLike<Float32Array>, TensorLike<Float32Array>] {
  return [randomTensor(rng, [1, kvHeads, n, D]) as TensorLike<Float32Array>, randomTensor(rng, [1, kvHeads, n, D]) as TensorLike<Float32Array>];
}

describe('a full store', () => {
  it.each(['float32', 'int8'] as const)('%s: rejects an append it cannot hold and writes nothing, also when a copy-on-write needs the page', (dtype) => {
    const rng = new Rng(21);
    const s = createPagedKvCache({ ...base, dtype, pageTokens: 64, capacityTokens: 192 });
    const layout = pagedLayoutOf(s);
    const a = s.sequence();
    a.append(...tensors(rng, 100));
    const b = a.fork();
    const c = s.sequence();
    c.append(...tensors(rng, 60)); // the third page
    const bytes = new Uint8Array(layout.memory.buffer).slice(PAGES_BASE);
    const flags = new Int32Array(layout.flagsBuffer).slice();
    for (const [seq, n] of [[c, 5], [b, 1], [a, 1]] as const) { // c needs a page; b and a a copy of their shared page
      expect(() => seq.append(...tensors(rng, n))).toThrow(RangeError);
      expect(() => seq.append(...tensors(rng, n))).toThrow(/the store is full: appending \d+ positions needs 1 free pages .* 0 are free \(store\.capacityTokens = 192, store\.usedTokens = 160\)/);
    }
    expect([a.length, b.length, c.length, s.usedTokens, s.freePages]).toEqual([100, 100, 60, 160, 0]);
    expect(Buffer.from(new Uint8Array(layout.memory.buffer).slice(PAGES_BASE)).equals(Buffer.from(bytes))).toBe(true);
    expect(new Int32Array(layout.flagsBuffer)).toEqual(flags);
    c.append(...tensors(rng, 4)); // what fits still goes in
    expect(c.length).toBe(64);
  });

  it('rejects a non-finite value for int8 before writing, naming it', () => {
    const s = createPagedKvCache({ ...base, dtype: 'int8' });
    const seq = s.sequence();
    const [k, v] = tensors(new Rng(22), 3);
    v.data[7] = Infinity;
    expect(() => seq.append(k, v)).toThrow(/PagedSequence\.append: v\.data must hold finite values for an 'int8' store .* got Infinity at index 7/);
    expect([seq.length, s.usedTokens]).toEqual([0, 0]);
  });

  it('checks the tensors as KvCache.append does', () => {
    const seq = createPagedKvCache(base).sequence();
    const rng = new Rng(23);
    expect(() => seq.append(...tensors(rng, 2, 3))).toThrow(/k\.shape\[1\] \(Hkv\) must be equal to store\.kvHeads = 2, got 3/);
    expect(() => seq.append(randomTensor(rng, [1, 2, 2, 16], 'float64') as never, tensors(rng, 2)[1])).toThrow(TypeError);
  });
});

describe('a released sequence', () => {
  it('throws on every use; release twice is a no-op; its pages return', () => {
    const s = createPagedKvCache({ ...base, pageTokens: 64 });
    const seq = s.sequence();
    seq.append(...tensors(new Rng(24), 70));
    expect(s.freePages).toBe(2);
    seq.release();
    seq.release();
    expect(s.freePages).toBe(4);
    expect(s.usedTokens).toBe(0);
    expect(() => seq.length).toThrow(/length: the sequence was released/);
    expect(() => seq.append(...tensors(new Rng(1), 1))).toThrow(/PagedSequence\.append: the sequence was released/);
    expect(() => seq.fork()).toThrow(/released/);
    expect(() => seq.snapshot()).toThrow(/released/);
  });
});

describe('non-finite V flags', () => {
  // Rows chosen across pages and blocks; expected bits from the float32 inputs and the storage rules.
  it.each([
    ['float32', NaN], ['float32', -Infinity], ['float16', 70000], ['float16', NaN], ['int8', 3.4028234663852886e38],
  ] as const)('%s with %s at chosen rows', (dtype, bad) => {
    const s = createPagedKvCache({ ...base, dtype, pageTokens: 128, capacityTokens: 512 });
    const seq = s.sequence();
    const rng = new Rng(25);
    const [k, v] = tensors(rng, 300);
    const hits = [[0, 5], [1, 64], [1, 127], [0, 200], [1, 299]] as const; // (head, position)
    for (const [h, t] of hits) v.data[(h * 300 + t) * 16 + 3] = bad;
    // int8: a block's scale is max/127; the row decodes non-finite iff 127·scale overflows float32.
    const nonFinite = dtype !== 'int8' || !Number.isFinite(Math.fround(127 * Math.fround(bad / 127)));
    seq.append(k, v);
    const snap = seq.snapshot();
    const expected = new Int32Array(3 * 2);
    if (nonFinite) for (const [h, t] of hits) expected[Math.floor(t / 128) * 2 + h] |= 1 << Math.floor((t % 128) / 64);
    expect(snap.flags).toEqual(expected);
    const store = new Int32Array(pagedLayoutOf(s).flagsBuffer);
    snap.pages.forEach((page, i) => expect([store[page * 2], store[page * 2 + 1]]).toEqual([expected[i * 2], expected[i * 2 + 1]]));
    snap.release();
  });

  it('a snapshot keeps the flags of its positions when later appends flag its last page', () => {
    const s = createPagedKvCache({ ...base, pageTokens: 128 });
    const seq = s.sequence();
    const rng = new Rng(26);
    seq.append(...tensors(rng, 10));
    const snap = seq.snapshot();
    const [k, v] = tensors(rng, 10);
    v.data[0] = NaN; // position 10, same block
    seq.append(k, v);
    expect([...snap.flags]).toEqual([0, 0]);
    const later = seq.snapshot();
    expect([...later.flags]).toEqual([1, 0]);
    snap.release(); later.release();
  });

  it('a copy-on-write copies the flags of the rows it copies', () => {
    const s = createPagedKvCache({ ...base, pageTokens: 128 });
    const parent = s.sequence();
    const rng = new Rng(28);
    const [k, v] = tensors(rng, 70);
    v.data[(70 + 66) * 16] = Infinity; // head 1, position 66: block 1
    parent.append(k, v);
    const child = parent.fork();
    child.append(...tensors(rng, 2));
    const snap = child.snapshot(), of = parent.snapshot();
    expect(snap.pages[0]).not.toBe(of.pages[0]);
    expect([...snap.flags]).toEqual([0, 2]);
    snap.release(); of.release();
  });
});

describe('the JS panel packer', () => {
  it('writes the bytes of the wasm kernel’s packPanels, incl. partial panels and keys packed in pieces', () => {
    const module = wasmKernels()?.module ?? null;
    expect(module, 'a wasm build must be built and valid on this runtime').not.toBeNull();
    const kernels = instantiateKernels(module!);
    expect([kernels.keyBlock(), kernels.panelWidth()]).toEqual([64, 8]); // page-layout.ts's constants
    const rng = new Rng(27);
    for (const [D, n, pieces] of [[16, 64, [64]], [40, 13, [5, 8]], [7, 3, [1, 1, 1]], [64, 130, [1, 60, 69]], [33, 8, [8]]] as const) {
      const src = Math.ceil(kernels.heapBase() / 64) * 64, dst = src + n * D * 4;
      const panelFloats = Math.ceil(n / 8) * 8 * D;
      const needed = dst + panelFloats * 4 - kernels.memory.buffer.byteLength;
      if (needed > 0) kernels.memory.grow(Math.ceil(needed / 65536));
      const keys = new Float32Array(n * D);
      for (let i = 0; i < keys.length; i++) keys[i] = rng.normal();
      new Float32Array(kernels.memory.buffer, src, n * D).set(keys);
      new Float32Array(kernels.memory.buffer, dst, panelFloats).fill(NaN); // packPanels must write every float
      kernels.packPanels(src, D, n, D, dst);
      const wasm = new Uint8Array(kernels.memory.buffer, dst, panelFloats * 4).slice();
      const js = new Float32Array(panelFloats); // zeroed, like a cleared page
      let key = 0;
      for (const count of pieces) {
        packKeyPanels(js, 0, D, key, keys, key * D, count);
        key += count;
      }
      expect(key).toBe(n);
      expect(Buffer.from(js.buffer).equals(Buffer.from(wasm)), `D ${D}, n ${n}`).toBe(true);
    }
  });
});
