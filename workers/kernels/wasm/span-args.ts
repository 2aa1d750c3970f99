// attentionSpan's arguments as a record, and their writing into the argument block whose layout
// span-args-layout.ts gives (the kernel reads them back from there; asm/attention.ts documents each).
// The finish stage (asm/finish.ts) reads its arguments from a block of the same layout: the fields of
// the chunk's state alone (FinishArgs).

import type { WasmArena } from './arena.js';
import * as SpanArg from './span-args-layout.js';

/** Pointers are byte offsets into the instance's memory, 0 for an absent mask, bias or scores. */
export interface SpanArgs {
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
}

/** What finishRows and finishWeights read: the chunk's rows and their state. */
export type FinishArgs = Pick<SpanArgs, 'rows' | 'dvPad' | 'shift' | 'rowMax' | 'rowSum' | 'acc' | 'scores' | 'scoresStride'>;

/** Writes `args` into the block at byte offset `block` (4-byte aligned), leaving its other fields as
 *  they are. Pointers of 2 GiB and more wrap to negative int32 values, whose bits are the u32 the
 *  kernel reads. */
export function writeFinishArgs(arena: WasmArena, block: number, args: FinishArgs): void {
  const { i32, f32 } = arena;
  const at = block >> 2;
  i32[at + SpanArg.ROWS / 4] = args.rows;
  i32[at + SpanArg.DV_PAD / 4] = args.dvPad;
  f32[at + SpanArg.SHIFT / 4] = args.shift;
  i32[at + SpanArg.ROW_MAX / 4] = args.rowMax;
  i32[at + SpanArg.ROW_SUM / 4] = args.rowSum;
  i32[at + SpanArg.ACC / 4] = args.acc;
  i32[at + SpanArg.SCORES / 4] = args.scores;
  i32[at + SpanArg.SCORES_STRIDE / 4] = args.scoresStride;
}

/** Writes all of `args` into the block at byte offset `block` (4-byte aligned), as writeFinishArgs does. */
export function writeSpanArgs(arena: WasmArena, block: number, args: SpanArgs): void {
  writeFinishArgs(arena, block, args);
  const { i32, f32 } = arena;
  const at = block >> 2;
  i32[at + SpanArg.DEPTH / 4] = args.depth;
  f32[at + SpanArg.SCALE / 4] = args.scale;
  i32[at + SpanArg.START / 4] = args.spanStart;
  i32[at + SpanArg.KEYS / 4] = args.spanKeys;
  i32[at + SpanArg.Q / 4] = args.q;
  i32[at + SpanArg.KEY_LIMIT / 4] = args.keyLimit;
  i32[at + SpanArg.KEY_FLOOR / 4] = args.keyFloor;
  i32[at + SpanArg.K_PANELS / 4] = args.kPanels;
  i32[at + SpanArg.V_ROWS / 4] = args.vRows;
  i32[at + SpanArg.V_FINITE / 4] = args.vFinite ? 1 : 0;
  i32[at + SpanArg.MASK / 4] = args.mask;
  i32[at + SpanArg.MASK_STRIDE / 4] = args.maskStride;
  i32[at + SpanArg.BIAS / 4] = args.bias;
  i32[at + SpanArg.BIAS_STRIDE / 4] = args.biasStride;
  i32[at + SpanArg.SCRATCH / 4] = args.scratch;
}
