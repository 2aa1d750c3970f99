// A phase as it lies on the board: the job and everything its threads need, written as a tape of
// float64 values into a buffer the threads already hold, so that a phase reaches every thread without
// a structured clone per thread. Typed arrays on shared memory become references — (buffer id, type,
// byteOffset, length), the id from the pool's buffer registry (src/pool/buffer-registry.ts); arrays
// on non-shared memory — what a call hands the threads to read only: its ALiBi slopes and sinks as
// validated — travel inline, value by value. A paged store's WebAssembly.Memory travels as a
// reference too (registered as the memory itself).
//
// Strings — the field names of jobs and tensors and the few string values they hold (kinds, dtypes,
// kernel names) — are names registered once, like buffers, and written as their id. A decode step's
// descriptor as JSON text was ~900 characters to build, UTF-8 encode and parse per phase: encoding and
// writing it took the calling thread 20–25 µs in a decode loop (timed in place), its tape 15–19, and
// 5.2 against 2.7 µs warm (AMD EPYC Zen 3, Node 24); a thread decodes the tape in 1.7 µs, the JSON in 9.4.
//
// A float64 holds every number a job has exactly — NaN, ±Infinity and −0 included, offsets and
// lengths past 4 GiB too, which structured clone does not bring back whole (workers/packed-views.ts).
//
// Tape: each value is a tag and its operands. An object's operand is its field count then (name id,
// value) per field; an array's its length then its items.

import { VIEW_CONSTRUCTORS, type PackableView } from '../packed-views.js';
import type { RegisteredBuffer } from './registry-messages.js';

const NUMBER = 0;
const FALSE = 1;
const TRUE = 2;
const NULL = 3;
const UNDEFINED = 4;
const STRING = 5;
const ARRAY = 6;
const OBJECT = 7;
const VIEW = 8;
const INLINE = 9;
const MEMORY = 10;

export interface DescriptorEncoder {
  /** The registered id of a shared buffer or memory (registering it if new). */
  idOf(buffer: RegisteredBuffer): number;
  /** The registered id of a name (registering it if new). */
  nameOf(name: string): number;
}

export interface DescriptorDecoder {
  /** The buffer or memory registered under id. */
  lookup(id: number): RegisteredBuffer;
  /** The name registered under id. */
  name(id: number): string;
}

/** `value`'s tape: a view of an array reused by the next call, to be copied before then. */
export function encodeDescriptor(value: unknown, encoder: DescriptorEncoder): Float64Array {
  const tape = new TapeWriter(encoder);
  tape.value(value);
  return tape.written();
}

export function decodeDescriptor<T>(tape: Float64Array, decoder: DescriptorDecoder): T {
  const reader = new TapeReader(tape, decoder);
  const value = reader.value();
  if (reader.at !== tape.length) throw new Error(`attnpool internal error: a descriptor of ${tape.length} values ended at ${reader.at}`);
  return value as T;
}

/** Grown to the largest descriptor so far and kept: encoding allocates nothing once warm. */
let scratch = new Float64Array(1024);

class TapeWriter {
  #at = 0;

  constructor(private readonly encoder: DescriptorEncoder) {}

  written(): Float64Array {
    return scratch.subarray(0, this.#at);
  }

  value(value: unknown): void {
    switch (typeof value) {
      case 'number': return this.#put2(NUMBER, value);
      case 'string': return this.#put2(STRING, this.encoder.nameOf(value));
      case 'boolean': return this.#put(value ? TRUE : FALSE);
      case 'undefined': return this.#put(UNDEFINED);
      case 'object': break;
      default: throw new TypeError(`attnpool internal error: cannot put a ${typeof value} on the board`);
    }
    if (value === null) return this.#put(NULL);
    if (value instanceof WebAssembly.Memory) return this.#put2(MEMORY, this.encoder.idOf(value));
    if (ArrayBuffer.isView(value)) return this.#view(value);
    if (Array.isArray(value)) {
      this.#put2(ARRAY, value.length);
      for (let i = 0; i < value.length; i++) this.value(value[i]);
      return;
    }
    this.#put(OBJECT);
    const countAt = this.#at;
    this.#put(0);
    let count = 0;
    for (const key in value) {
      const item = (value as Record<string, unknown>)[key];
      if (item === undefined) continue; // as JSON drops it: `'field' in job` stays false on the threads
      this.#put(this.encoder.nameOf(key));
      this.value(item);
      count++;
    }
    scratch[countAt] = count;
  }

  #view(view: ArrayBufferView): void {
    const type = VIEW_CONSTRUCTORS.findIndex((Ctor) => view instanceof Ctor);
    if (type < 0) throw new TypeError(`attnpool internal error: cannot put a ${view.constructor.name} on the board`);
    const array = view as PackableView;
    if (view.buffer instanceof SharedArrayBuffer) {
      this.#room(5);
      scratch[this.#at++] = VIEW;
      scratch[this.#at++] = this.encoder.idOf(view.buffer);
      scratch[this.#at++] = type;
      scratch[this.#at++] = view.byteOffset;
      scratch[this.#at++] = array.length;
      return;
    }
    this.#room(3 + array.length);
    scratch[this.#at++] = INLINE;
    scratch[this.#at++] = type;
    scratch[this.#at++] = array.length;
    for (let i = 0; i < array.length; i++) scratch[this.#at++] = array[i];
  }

  #put(x: number): void {
    this.#room(1);
    scratch[this.#at++] = x;
  }

  #put2(tag: number, x: number): void {
    this.#room(2);
    scratch[this.#at++] = tag;
    scratch[this.#at++] = x;
  }

  #room(values: number): void {
    if (this.#at + values <= scratch.length) return;
    const grown = new Float64Array(2 ** Math.ceil(Math.log2(this.#at + values)));
    grown.set(scratch.subarray(0, this.#at));
    scratch = grown;
  }
}

/** An int32 as an int32 (V8 then keeps it as a small integer), other numbers as they are (−0 too).
 *  Read from a Float64Array every number is a double, which a job's fields then held as heap numbers,
 *  and the kernels did their index arithmetic on sizes, strides and offsets in floating point:
 *  `attnpool stress` ran 2,120 calls/s at 1 thread against 3,280 with JSON descriptors, and 3,200–3,370
 *  with this (AMD EPYC Zen 3, Node 24). */
function small(x: number): number {
  return (x | 0) === x && (x !== 0 || 1 / x > 0) ? x | 0 : x;
}

class TapeReader {
  at = 0;

  constructor(private readonly tape: Float64Array, private readonly decoder: DescriptorDecoder) {}

  value(): unknown {
    const tape = this.tape;
    switch (tape[this.at++]) {
      case NUMBER: return small(tape[this.at++]);
      case FALSE: return false;
      case TRUE: return true;
      case NULL: return null;
      case UNDEFINED: return undefined;
      case STRING: return this.decoder.name(tape[this.at++]);
      case ARRAY: {
        const items = new Array<unknown>(tape[this.at++]);
        for (let i = 0; i < items.length; i++) items[i] = this.value();
        return items;
      }
      case OBJECT: {
        const out: Record<string, unknown> = {};
        for (let count = tape[this.at++]; count > 0; count--) out[this.decoder.name(tape[this.at++])] = this.value();
        return out;
      }
      case VIEW: {
        const buffer = this.decoder.lookup(tape[this.at++]) as SharedArrayBuffer;
        const Ctor = VIEW_CONSTRUCTORS[tape[this.at++]];
        const byteOffset = tape[this.at++];
        return new Ctor(buffer, byteOffset, tape[this.at++]);
      }
      case INLINE: {
        const Ctor = VIEW_CONSTRUCTORS[tape[this.at++]];
        const length = tape[this.at++];
        const array = new Ctor(new ArrayBuffer(length * (Ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT), 0, length);
        for (let i = 0; i < length; i++) array[i] = tape[this.at++];
        return array;
      }
      case MEMORY: return this.decoder.lookup(tape[this.at++]);
      default: throw new Error(`attnpool internal error: a descriptor holds tag ${tape[this.at - 1]} at ${this.at - 1}`);
    }
  }

}
