// The serving benchmark's streams: how long each one starts, and every value it ever sees, made from
// --seed alone so both sides of a run (and every thread count) step over exactly the same data.
// A stream's initial K/V are drawn again whenever asked for, into buffers reused draw after draw (they are
// the bulk of the data: holding them beside the caches would double the benchmark's memory); a step's
// rows are small and made once.

import { tensor, type Tensor } from '../../../src/index.js';
import { Random } from '../../random.js';

export interface ServeShape {
  readonly streams: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly minLength: number;
  readonly maxLength: number;
  /** Untimed steps first, then timed ones; every step appends one position to every stream. */
  readonly warmupSteps: number;
  readonly steps: number;
  readonly seed: number;
}

/** Initial lengths spread evenly over [minLength, maxLength], dealt to the streams in an order drawn from the seed. */
export function initialLengths(s: ServeShape): number[] {
  const span = s.maxLength - s.minLength;
  const lengths = Array.from({ length: s.streams }, (_, i) => s.minLength + (s.streams === 1 ? 0 : Math.round((span * i) / (s.streams - 1))));
  const random = new Random(s.seed);
  for (let i = lengths.length - 1; i > 0; i--) { // Fisher–Yates
    const j = random.int(0, i);
    [lengths[i], lengths[j]] = [lengths[j]!, lengths[i]!];
  }
  return lengths;
}

/** Positions a stream holds at the end of the run. */
export function finalLength(s: ServeShape, initial: number): number {
  return initial + s.warmupSteps + s.steps;
}

// Distinct generator seeds per stream and purpose: a stream's initial K/V never share values with another's.
const streamSeed = (s: ServeShape, stream: number, part: number) => (Math.imul(s.seed + 1, 0x9e3779b1) + stream * 4 + part) >>> 0;

/** Stream `stream`'s initial K/V at `length` positions; valid until the next draw. */
export type InitialKvDraw = (stream: number, length: number) => { readonly k: Tensor; readonly v: Tensor };

/** Draws streams' initial keys and values — stream i's each [1, Hkv, length, D], uniform in [-1, 1) — into
 *  one pair of buffers sized for the longest stream, reused draw after draw: a draw's tensors hold until
 *  the next draw only (every store copies them on append). Fresh tensors per draw, left to the garbage
 *  collector, piled up while the stores were filled: every stream's draws at once, as many bytes as a
 *  float32 cache of all the streams, on the peak RSS (measured: 324 MiB of a paged float32 run's 733 MiB
 *  peak at 32 streams Hkv8, and as much again from the reference's draws). */
export function initialKvDraws(s: ServeShape): InitialKvDraw {
  const most = s.kvHeads * s.maxLength * s.headDim;
  const kBuffer = new Float32Array(most), vBuffer = new Float32Array(most);
  return (stream, length) => {
    if (length > s.maxLength) throw new RangeError(`initialKvDraws: stream ${stream}'s length ${length} is past maxLength ${s.maxLength}`);
    const random = new Random(streamSeed(s, stream, 0));
    const shape = [1, s.kvHeads, length, s.headDim];
    const k = { data: kBuffer.subarray(0, s.kvHeads * length * s.headDim), shape }, v = { data: vBuffer.subarray(0, k.data.length), shape };
    random.fill(k.data);
    random.fill(v.data);
    return { k, v };
  };
}

/** One step's rows for every stream: the query [1, H, 1, D] and the position appended after the call, k and v [1, Hkv, 1, D]. */
export interface StepRows {
  readonly q: readonly Tensor[];
  readonly k: readonly Tensor[];
  readonly v: readonly Tensor[];
}

/** Every step's rows, warm-up steps first. */
export function stepRows(s: ServeShape): StepRows[] {
  const randoms = Array.from({ length: s.streams }, (_, i) => new Random(streamSeed(s, i, 1)));
  const row = (random: Random, heads: number) => {
    const t = tensor([1, heads, 1, s.headDim]);
    random.fill(t.data);
    return t;
  };
  return Array.from({ length: s.warmupSteps + s.steps }, () => ({
    q: randoms.map((r) => row(r, s.heads)), k: randoms.map((r) => row(r, s.kvHeads)), v: randoms.map((r) => row(r, s.kvHeads)),
  }));
}
