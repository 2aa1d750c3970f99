// A phase's descriptor (workers/board/descriptor.ts): what the calling thread encodes is what every
// thread decodes — shared views as references to the registered buffer (same memory, same offset and
// length), non-shared arrays inline with every value exact, every number exact (NaN, ±Infinity, −0,
// offsets past 4 GiB), strings as registered names.

import { describe, expect, it } from 'vitest';
import { decodeDescriptor, encodeDescriptor, type DescriptorDecoder, type DescriptorEncoder } from '../dist/workers/board/descriptor.js';

/** Both sides of a registry: ids for buffers and names, as the pool's and a thread's would hold them. */
function registry(buffers: readonly SharedArrayBuffer[] = []): DescriptorEncoder & DescriptorDecoder & { readonly names: string[] } {
  const names: string[] = [];
  return {
    names,
    idOf: (buffer) => {
      const id = buffers.indexOf(buffer as SharedArrayBuffer);
      if (id < 0) throw new Error('an unregistered buffer');
      return id + 100;
    },
    nameOf: (name) => (names.includes(name) ? names.indexOf(name) : names.push(name) - 1),
    lookup: (id) => buffers[id - 100],
    name: (id) => names[id],
  };
}

describe('board descriptors', () => {
  it('round-trips shared views by reference and other arrays and numbers by value', () => {
    const shared = new SharedArrayBuffer(4096);
    const specials = [NaN, Infinity, -Infinity, -0, 0, 1.5e-310, Number.MAX_VALUE, -1 / 3, 2 ** 53 + 2, 6 * 2 ** 30];
    const job = {
      kind: 'attention', scale: -0, max: -Infinity, big: 6 * 2 ** 30, nested: { list: [1, NaN, { deep: Infinity }] },
      // Around the int32 edges, where the decoder turns doubles back into small integers.
      edges: [2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 0.5, -0.5, 0, -0, 1e-300],
      q: new Float32Array(shared, 64, 100), mask: new Uint8Array(shared, 3, 17),
      sinks: Float64Array.from(specials), slopes: Float32Array.from([0.5, -1e-40, 3.4e38]),
      tiles: Int32Array.from([0, -1, 2 ** 31 - 1, -(2 ** 31)]), absent: undefined,
    };
    const both = registry([shared]);
    const back = decodeDescriptor<typeof job>(encodeDescriptor(job, both).slice(), both);
    expect(Object.is(back.scale, -0)).toBe(true);
    job.edges.forEach((x, i) => expect(Object.is(back.edges[i], x), `edges[${i}] = ${x}`).toBe(true));
    expect([back.max, back.big, back.kind]).toEqual([-Infinity, 6 * 2 ** 30, 'attention']);
    expect(back.nested.list[1]).toBeNaN();
    expect((back.nested.list[2] as { deep: number }).deep).toBe(Infinity);
    expect('absent' in back).toBe(false);
    expect(back.q).toBeInstanceOf(Float32Array);
    expect([back.q.buffer === shared, back.q.byteOffset, back.q.length]).toEqual([true, 64, 100]);
    expect(back.mask).toBeInstanceOf(Uint8Array);
    expect([back.mask.buffer === shared, back.mask.byteOffset, back.mask.length]).toEqual([true, 3, 17]);
    expect(back.sinks).toBeInstanceOf(Float64Array);
    expect(back.sinks.buffer).not.toBe(job.sinks.buffer);
    specials.forEach((x, i) => expect(Object.is(back.sinks[i], x), `sinks[${i}] = ${x}`).toBe(true));
    expect(back.slopes).toBeInstanceOf(Float32Array);
    expect(Array.from(back.slopes)).toEqual(Array.from(job.slopes));
    expect(back.tiles).toBeInstanceOf(Int32Array);
    expect(Array.from(back.tiles)).toEqual([0, -1, 2 ** 31 - 1, -(2 ** 31)]);
  });

  it('brings back plain values and strings whole, each name registered once', () => {
    const plain = {
      kind: 'attention', 'quote"key\\': 'line\nbreak "quoted" \\ tab\t \u0001 é 😀 \u2028', '': '',
      flags: [true, false, null, undefined], empty: {}, none: [], nested: [[1, [2.5, -3e-300]], { kind: 'rotary', x: 1e21 }],
      big: Number.MAX_SAFE_INTEGER, tiny: 5e-324,
    };
    const both = registry();
    const tape = encodeDescriptor(plain, both).slice();
    expect(decodeDescriptor(tape, both)).toStrictEqual(plain);
    expect(both.names.filter((name) => name === 'kind'), 'a name used twice is registered once').toEqual(['kind']);
    expect(both.names).toContain('line\nbreak "quoted" \\ tab\t \u0001 é 😀 \u2028');
  });

  it('grows past its first tape and refuses what it cannot carry, naming it', () => {
    const long = { rows: Array.from({ length: 5000 }, (_, i) => ({ i, half: i / 2 })) };
    const both = registry();
    expect(decodeDescriptor(encodeDescriptor(long, both).slice(), both)).toStrictEqual(long);
    expect(() => encodeDescriptor({ f: () => 0 }, both)).toThrow(/cannot put a function on the board/);
    expect(() => encodeDescriptor({ n: 1n }, both)).toThrow(/cannot put a bigint on the board/);
    expect(() => encodeDescriptor({ d: new DataView(new SharedArrayBuffer(8)) }, registry())).toThrow(/cannot put a DataView on the board/);
  });

  it('refuses a tape that does not end where its value does', () => {
    const both = registry();
    const tape = encodeDescriptor({ a: 1 }, both);
    const padded = new Float64Array(tape.length + 1);
    padded.set(tape);
    expect(() => decodeDescriptor(padded, both)).toThrow(/ended at/);
    expect(() => decodeDescriptor(Float64Array.of(99), both)).toThrow(/tag 99/);
  });
});
