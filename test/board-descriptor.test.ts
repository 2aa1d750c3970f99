// A phase's descriptor (workers/board/descriptor.ts): what the calling thread encodes is what every
// thread decodes — shared views as references to the registered buffer (same memory, same offset and
// length), non-shared arrays inline with every value exact, numbers JSON cannot hold included.

import { describe, expect, it } from 'vitest';
import { decodeDescriptor, encodeDescriptor } from '../dist/workers/board/descriptor.js';

describe('board descriptors', () => {
  it('round-trips shared views by reference and other arrays and numbers by value', () => {
    const shared = new SharedArrayBuffer(4096);
    const ids = new Map<SharedArrayBuffer, number>([[shared, 7]]);
    const specials = [NaN, Infinity, -Infinity, -0, 0, 1.5e-310, Number.MAX_VALUE, -1 / 3];
    const job = {
      kind: 'attention', scale: -0, max: -Infinity, nested: { list: [1, NaN, { deep: Infinity }] },
      q: new Float32Array(shared, 64, 100), mask: new Uint8Array(shared, 3, 17),
      sinks: Float64Array.from(specials), tiles: Int32Array.from([0, -1, 2 ** 31 - 1, -(2 ** 31)]),
      absent: undefined,
    };
    const text = encodeDescriptor(job, { idOf: (buffer) => ids.get(buffer)! });
    const back = decodeDescriptor<typeof job>(text, (id) => { expect(id).toBe(7); return shared; });
    expect(Object.is(back.scale, -0)).toBe(true);
    expect(back.max).toBe(-Infinity);
    expect(back.nested.list[1]).toBeNaN();
    expect((back.nested.list[2] as { deep: number }).deep).toBe(Infinity);
    expect('absent' in back).toBe(false);
    expect(back.q).toBeInstanceOf(Float32Array);
    expect([back.q.buffer === shared, back.q.byteOffset, back.q.length]).toEqual([true, 64, 100]);
    expect([back.mask.buffer === shared, back.mask.byteOffset, back.mask.length]).toEqual([true, 3, 17]);
    expect(back.sinks).toBeInstanceOf(Float64Array);
    expect(back.sinks.buffer).not.toBe(job.sinks.buffer);
    specials.forEach((x, i) => expect(Object.is(back.sinks[i], x), `sinks[${i}] = ${x}`).toBe(true));
    expect(Array.from(back.tiles)).toEqual([0, -1, 2 ** 31 - 1, -(2 ** 31)]);
  });

  it('writes a value with no views and only finite numbers exactly as JSON.stringify does', () => {
    const plain = {
      kind: 'attention', 'quote"key\\': 'line\nbreak "quoted" \\ tab\t \u0001 é 😀 \u2028',
      flags: [true, false, null], empty: {}, none: [], nested: [[1, [2.5, -3e-300]], { x: 1e21, y: -1 }],
      big: Number.MAX_SAFE_INTEGER, tiny: 5e-324,
    };
    expect(encodeDescriptor(plain, { idOf: () => { throw new Error('no buffer here'); } })).toBe(JSON.stringify(plain));
  });

  it('drops undefined fields and writes null for what JSON cannot hold inside an array, as JSON.stringify does', () => {
    const value = { a: undefined, b: 1, list: [undefined, () => 0, Symbol('s')], c: undefined };
    expect(encodeDescriptor(value, { idOf: () => 0 })).toBe(JSON.stringify(value));
  });
});
