// A phase as it lies on the board: the job and everything its threads need, as UTF-8 JSON in a buffer
// the threads already hold. Typed arrays become references — (buffer id, type, byteOffset, length),
// the id from the pool's buffer registry (src/pool/buffer-registry.ts) — so a phase reaches every
// thread without a structured clone per thread. Arrays on non-shared memory — what a call hands the
// threads to read only: its ALiBi slopes and sinks as validated — travel inline
// instead, as lists of numbers (non-finite ones escaped, as everywhere in the descriptor).
//
// A paged store's WebAssembly.Memory travels as a reference too (registered as the memory itself).
//
// Offsets and lengths are plain numbers in JSON (exact doubles): views past 4 GiB come back whole,
// which structured clone does not do (workers/packed-views.ts).

import { VIEW_CONSTRUCTORS, type PackableView } from '../packed-views.js';
import type { RegisteredBuffer } from './registry-messages.js';

/** Keys no job or tensor object has. */
const REF = '\u0000ref';
const INLINE = '\u0000inline';
const NUMBER = '\u0000num';
const MEMORY = '\u0000memory';

type Encoded = null | boolean | number | string | Encoded[] | { [key: string]: Encoded };

export interface DescriptorEncoder {
  /** The registered id of a shared buffer or memory (registering it if new). */
  idOf(buffer: RegisteredBuffer): number;
}

/** The JSON text of `value` with its views as references, written directly: building the encoded
 *  object first and handing it to JSON.stringify took ~25 % longer (a decode step's ~900 characters:
 *  7.5–8.2 against 6.1–6.5 µs warm, AMD EPYC Zen 3, Node 24; in a call, with cold caches, ~2× that). */
export function encodeDescriptor(value: unknown, encoder: DescriptorEncoder): string {
  return write(value, encoder);
}

/** `lookup(id)`: the buffer registered under id (src/pool/buffer-registry.ts, worker side). */
export function decodeDescriptor<T>(text: string, lookup: (id: number) => RegisteredBuffer): T {
  return decode(JSON.parse(text) as Encoded, lookup) as T;
}

function write(value: unknown, encoder: DescriptorEncoder): string {
  switch (typeof value) {
    case 'number': return writeNumber(value);
    case 'string': return JSON.stringify(value);
    case 'boolean': return value ? 'true' : 'false';
    case 'object': break;
    default: return 'null'; // as JSON.stringify writes what it cannot hold inside an array
  }
  if (value === null) return 'null';
  if (value instanceof WebAssembly.Memory) return `{${MEMORY_KEY}:${encoder.idOf(value)}}`;
  if (ArrayBuffer.isView(value)) return writeView(value, encoder);
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i++) text += (i === 0 ? '' : ',') + write(value[i], encoder);
    return text + ']';
  }
  let text = '{';
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== undefined) text += (text.length === 1 ? '' : ',') + jsonKey(key) + ':' + write(item, encoder);
  }
  return text + '}';
}

/** Keys are the few field names of jobs and tensors: each escaped once. */
const KEYS = new Map<string, string>();
function jsonKey(key: string): string {
  let json = KEYS.get(key);
  if (json === undefined) KEYS.set(key, (json = JSON.stringify(key)));
  return json;
}

const REF_KEY = JSON.stringify(REF);
const INLINE_KEY = JSON.stringify(INLINE);
const NUMBER_KEY = JSON.stringify(NUMBER);
const MEMORY_KEY = JSON.stringify(MEMORY);

/** JSON has no NaN, ±Infinity or −0: those travel as strings. */
function writeNumber(value: number): string {
  if (Number.isFinite(value) && !Object.is(value, -0)) return String(value); // what JSON.stringify writes
  return `{${NUMBER_KEY}:"${Object.is(value, -0) ? '-0' : String(value)}"}`;
}

function writeView(view: ArrayBufferView, encoder: DescriptorEncoder): string {
  const type = VIEW_CONSTRUCTORS.findIndex((Ctor) => view instanceof Ctor);
  if (type < 0) throw new TypeError(`attnpool internal error: cannot put a ${view.constructor.name} on the board`);
  const array = view as PackableView;
  if (!(view.buffer instanceof SharedArrayBuffer)) {
    let text = `{${INLINE_KEY}:[${type}`;
    for (let i = 0; i < array.length; i++) text += ',' + writeNumber(Number(array[i]));
    return text + ']}';
  }
  return `{${REF_KEY}:[${encoder.idOf(view.buffer)},${type},${view.byteOffset},${array.length}]}`;
}

function decode(value: Encoded, lookup: (id: number) => RegisteredBuffer): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => decode(item, lookup));
  const ref = value[REF] as number[] | undefined;
  if (ref) return new VIEW_CONSTRUCTORS[ref[1]](lookup(ref[0]) as SharedArrayBuffer, ref[2], ref[3]);
  const memory = value[MEMORY];
  if (typeof memory === 'number') return lookup(memory);
  const inline = value[INLINE] as Encoded[] | undefined;
  if (inline) {
    const Ctor = VIEW_CONSTRUCTORS[inline[0] as number] as unknown as { from(values: number[]): PackableView };
    return Ctor.from(inline.slice(1).map((x) => decode(x, lookup) as number));
  }
  const number = value[NUMBER];
  if (typeof number === 'string') return Number(number);
  const out: Record<string, unknown> = {};
  for (const key in value) out[key] = decode(value[key], lookup);
  return out;
}
