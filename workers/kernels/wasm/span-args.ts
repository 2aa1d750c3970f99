// attentionSpan's arguments as a record, and their writing into the argument block whose layout
// span-args-layout.ts gives (the kernel reads them back from there; asm/attention.ts documents each).
// The finish stage (asm/finish.ts) reads its arguments from a block of the same layout: the fields of
// the chunk's state alone (FinishArgs).
//
// A chunk calls the kernel once per step of keys — over a paged store once per page at least, thousands
// of times a decode step — and most fields are the chunk's own: they are written once per chunk
// (writeChunkArgs), and a step writes only its keys' fields (writeStepArgs). The step writer names its
// fields one by one rather than looping over the table: a loop reading args[name] for eleven names is a
// megamorphic property load per field, which made writing the block a tenth of a paged decode step's
// thread time (Intel Xeon, Node 24).

import type { WasmArena } from './arena.js';
import type { ScoreTerms } from './score-inputs.js';
import * as SpanArg from './span-args-layout.js';

/** Pointers are byte offsets into the instance's memory, 0 for an absent mask, bias or scores; with the
 *  variants' score terms (score-inputs.ts), 0 where absent. */
export interface SpanArgs extends ScoreTerms {
  readonly rows: number;
  readonly depth: number;
  readonly dvPad: number;
  readonly scale: number;
  readonly shift: number;
  readonly spanStart: number;
  readonly spanKeys: number;
  readonly q: number;
  readonly keyLimit: number;
  readonly keyFloor: number;
  readonly kPanels: number;
  readonly vRows: number;
  readonly vFinite: boolean;
  readonly mask: number;
  readonly maskStride: number;
  readonly bias: number;
  readonly biasStride: number;
  readonly rowMax: number;
  readonly rowSum: number;
  readonly acc: number;
  readonly scratch: number;
  readonly scores: number;
  readonly scoresStride: number;
  /** SpanArg.KV_FLOAT32, KV_FLOAT16 or KV_INT8: how kPanels and vRows hold the keys. */
  readonly kvFormat: number;
  readonly dv: number;
  /** int8 block scales of the K and V rows (0 otherwise). */
  readonly kScales: number;
  readonly vScales: number;
  /** The staging one decoded block of stored K/V goes to (0 for float32). */
  readonly kvStaging: number;
  /** Whether each block's K/V are read ahead before they are computed on (SpanArg.READ_AHEAD). */
  readonly readAhead: boolean;
}

/** Every field of the block: its name in SpanArgs, its offset, and the view it is stored through. One
 *  table, so the block's writers list no field twice. */
const SPAN_FIELDS: readonly (readonly [name: keyof SpanArgs, offset: number, view: 'i32' | 'f32'])[] = [
  ['rows', SpanArg.ROWS, 'i32'], ['depth', SpanArg.DEPTH, 'i32'], ['dvPad', SpanArg.DV_PAD, 'i32'],
  ['scale', SpanArg.SCALE, 'f32'], ['shift', SpanArg.SHIFT, 'f32'],
  ['spanStart', SpanArg.START, 'i32'], ['spanKeys', SpanArg.KEYS, 'i32'],
  ['q', SpanArg.Q, 'i32'], ['keyLimit', SpanArg.KEY_LIMIT, 'i32'], ['keyFloor', SpanArg.KEY_FLOOR, 'i32'],
  ['kPanels', SpanArg.K_PANELS, 'i32'], ['vRows', SpanArg.V_ROWS, 'i32'], ['vFinite', SpanArg.V_FINITE, 'i32'],
  ['mask', SpanArg.MASK, 'i32'], ['maskStride', SpanArg.MASK_STRIDE, 'i32'],
  ['bias', SpanArg.BIAS, 'i32'], ['biasStride', SpanArg.BIAS_STRIDE, 'i32'],
  ['rowMax', SpanArg.ROW_MAX, 'i32'], ['rowSum', SpanArg.ROW_SUM, 'i32'], ['acc', SpanArg.ACC, 'i32'],
  ['scratch', SpanArg.SCRATCH, 'i32'], ['scores', SpanArg.SCORES, 'i32'], ['scoresStride', SpanArg.SCORES_STRIDE, 'i32'],
  ['kvFormat', SpanArg.KV_FORMAT, 'i32'], ['dv', SpanArg.DV, 'i32'], ['kScales', SpanArg.K_SCALES, 'i32'],
  ['vScales', SpanArg.V_SCALES, 'i32'], ['kvStaging', SpanArg.KV_STAGING, 'i32'],
  ['softcapIn', SpanArg.SOFTCAP_IN, 'f32'], ['softcapOut', SpanArg.SOFTCAP_OUT, 'f32'], ['alibiSlope', SpanArg.ALIBI_SLOPE, 'f32'],
  ['queryPosition', SpanArg.QUERY_POSITION, 'i32'], ['gapAfter', SpanArg.GAP_AFTER, 'i32'], ['gapSize', SpanArg.GAP_SIZE, 'i32'],
  ['readAhead', SpanArg.READ_AHEAD, 'i32'],
];

/** The fields a step of a chunk sets (its keys, their K/V and score slices); the others are the chunk's. */
const STEP_NAMES = ['spanStart', 'spanKeys', 'kPanels', 'vRows', 'vFinite', 'kScales', 'vScales', 'mask', 'maskStride', 'bias',
  'biasStride'] as const;
type StepName = (typeof STEP_NAMES)[number];
const CHUNK_FIELDS = SPAN_FIELDS.filter(([name]) => !(STEP_NAMES as readonly string[]).includes(name));

/** What a step of a chunk sets, and what stays from the chunk's writeChunkArgs. */
export type StepArgs = Pick<SpanArgs, StepName>;
export type ChunkArgs = Omit<SpanArgs, StepName>;

const FINISH_NAMES = ['rows', 'dvPad', 'shift', 'rowMax', 'rowSum', 'acc', 'scores', 'scoresStride'] as const;
const FINISH_FIELDS = SPAN_FIELDS.filter(([name]) => (FINISH_NAMES as readonly string[]).includes(name));

/** What finishRows and finishWeights read: the chunk's rows and their state. */
export type FinishArgs = Pick<SpanArgs, (typeof FINISH_NAMES)[number]>;

/** Writes the chunk's fields of `args` into the block at byte offset `block` (4-byte aligned), leaving
 *  the step's. Pointers of 2 GiB and more wrap to negative int32 values, whose bits are the u32 the
 *  kernel reads. */
export function writeChunkArgs(arena: WasmArena, block: number, args: ChunkArgs): void {
  writeFields(arena, block, args, CHUNK_FIELDS);
}

/** Writes a step's fields into a block holding its chunk's (writeChunkArgs); vFinite as 0 or 1. */
export function writeStepArgs({ i32 }: WasmArena, block: number, step: StepArgs): void {
  const at = block >> 2;
  i32[at + SpanArg.START / 4] = step.spanStart;
  i32[at + SpanArg.KEYS / 4] = step.spanKeys;
  i32[at + SpanArg.K_PANELS / 4] = step.kPanels;
  i32[at + SpanArg.V_ROWS / 4] = step.vRows;
  i32[at + SpanArg.V_FINITE / 4] = step.vFinite ? 1 : 0;
  i32[at + SpanArg.K_SCALES / 4] = step.kScales;
  i32[at + SpanArg.V_SCALES / 4] = step.vScales;
  i32[at + SpanArg.MASK / 4] = step.mask;
  i32[at + SpanArg.MASK_STRIDE / 4] = step.maskStride;
  i32[at + SpanArg.BIAS / 4] = step.bias;
  i32[at + SpanArg.BIAS_STRIDE / 4] = step.biasStride;
}

/** Writes `args` into the block at byte offset `block`, as writeChunkArgs does, leaving its other fields
 *  as they are. */
export function writeFinishArgs(arena: WasmArena, block: number, args: FinishArgs): void {
  writeFields(arena, block, args, FINISH_FIELDS);
}

function writeFields(arena: WasmArena, block: number, args: Partial<SpanArgs>, fields: typeof SPAN_FIELDS): void {
  const at = block >> 2;
  for (const [name, offset, view] of fields) arena[view][at + offset / 4] = Number(args[name]);
}
