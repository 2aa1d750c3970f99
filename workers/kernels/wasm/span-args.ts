// attentionSpan's arguments as a record, and their writing into the argument block whose layout
// span-args-layout.ts gives (the kernel reads them back from there; asm/attention.ts documents each).

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
  /** SpanArg.KV_FLOAT32, KV_FLOAT16 or KV_INT8: how kPanels and vRows hold the keys. */
  readonly kvFormat: number;
  readonly dv: number;
  /** int8 block scales of the K and V rows (0 otherwise). */
  readonly kScales: number;
  readonly vScales: number;
  /** The staging one decoded block of stored K/V goes to (0 for float32). */
  readonly kvStaging: number;
}

/** Writes `args` into the block at byte offset `block` (4-byte aligned). Pointers of 2 GiB and more
 *  wrap to negative int32 values, whose bits are the u32 the kernel reads. */
export function writeSpanArgs(arena: WasmArena, block: number, args: SpanArgs): void {
  const { i32, f32 } = arena;
  const at = block >> 2;
  i32[at + SpanArg.ROWS / 4] = args.rows;
  i32[at + SpanArg.DEPTH / 4] = args.depth;
  i32[at + SpanArg.DV_PAD / 4] = args.dvPad;
  f32[at + SpanArg.SCALE / 4] = args.scale;
  f32[at + SpanArg.SHIFT / 4] = args.shift;
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
  i32[at + SpanArg.ROW_MAX / 4] = args.rowMax;
  i32[at + SpanArg.ROW_SUM / 4] = args.rowSum;
  i32[at + SpanArg.ACC / 4] = args.acc;
  i32[at + SpanArg.SCRATCH / 4] = args.scratch;
  i32[at + SpanArg.SCORES / 4] = args.scores;
  i32[at + SpanArg.SCORES_STRIDE / 4] = args.scoresStride;
  i32[at + SpanArg.KV_FORMAT / 4] = args.kvFormat;
  i32[at + SpanArg.DV / 4] = args.dv;
  i32[at + SpanArg.K_SCALES / 4] = args.kScales;
  i32[at + SpanArg.V_SCALES / 4] = args.vScales;
  i32[at + SpanArg.KV_STAGING / 4] = args.kvStaging;
}
