// The argument block of attentionSpan (asm/attention.ts), whose chunk-state fields the finish stage
// (asm/finish.ts) reads too: where each field sits, in bytes from the block's start in the instance's
// memory. Every field is 4 bytes: an i32, an f32 or a pointer (usize is 32 bits in wasm32). The driver
// writes a block (span-args.ts) and passes its address alone, in place of 23 positional arguments
// written out in three files.
//
// One file read by both sides: asm/attention.ts and asm/finish.ts import it into the AssemblyScript
// build and span-args.ts into the TypeScript one, so it holds only what both compile alike, integer
// constants (i32 to AssemblyScript, number to TypeScript), imported as a namespace (SpanArg.ROWS). It
// lives under workers/ because the package ships dist/workers/ and not asm/.

export const ROWS = 0;
export const DEPTH = 4;
export const DV_PAD = 8;
export const SCALE = 12; // f32
export const SHIFT = 16; // f32
export const START = 20;
export const KEYS = 24;
export const Q = 28;
export const KEY_LIMIT = 32;
export const KEY_FLOOR = 36;
export const K_PANELS = 40;
export const V_ROWS = 44;
export const V_FINITE = 48; // 0 or 1
export const MASK = 52;
export const MASK_STRIDE = 56;
export const BIAS = 60;
export const BIAS_STRIDE = 64;
export const ROW_MAX = 68;
export const ROW_SUM = 72;
export const ACC = 76;
export const SCRATCH = 80;
export const SCORES = 84;
export const SCORES_STRIDE = 88;
/** How K_PANELS and V_ROWS hold the keys: KV_FLOAT32 packed float32 panels and rows, or stored rows
 *  decoded a block at a time (asm/kv-decode.ts): KV_FLOAT16 binary16, KV_INT8 int8 with K_SCALES and
 *  V_SCALES (one f32 per 32 values of a row). */
export const KV_FORMAT = 92;
export const DV = 96;
export const K_SCALES = 100;
export const V_SCALES = 104;
/** Scratch for one decoded block: KEY_BLOCK·depth f32 rows, as many in panels, KEY_BLOCK·dvPad f32 of V. */
export const KV_STAGING = 108;
/** Score terms of the variants (score-inputs.ts), each 0 when the job has none. The softcap in the
 *  kernel's units: s' = tanh(s·SOFTCAP_IN)·SOFTCAP_OUT, s the base-2 score over shift. */
export const SOFTCAP_IN = 112; // f32
export const SOFTCAP_OUT = 116; // f32
/** ALiBi: the head's slope · log2 e / shift; each key adds it × (key position − row position). */
export const ALIBI_SLOPE = 120; // f32
/** The position of the chunk's row 0 (row r is at QUERY_POSITION + r), and the keys' position gap: keys
 *  j ≥ GAP_AFTER sit at position j + GAP_SIZE (key-range.ts; GAP_SIZE 0 without one). */
export const QUERY_POSITION = 124;
export const GAP_AFTER = 128;
export const GAP_SIZE = 132;
/** 1: the span's K/V lie in memory no call of this thread has read lately (a paged store's pages), and
 *  each block is read ahead once before its first row group computes on it (asm/read-ahead.ts); 0: no. */
export const READ_AHEAD = 136;
/** Written by the kernel: what the read-ahead loads gave, so that they are not optimised away. */
export const READ_AHEAD_SINK = 140;
export const ARGS_BYTES = 144;

export const KV_FLOAT32 = 0;
export const KV_FLOAT16 = 1;
export const KV_INT8 = 2;
