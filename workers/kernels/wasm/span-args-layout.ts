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
export const ARGS_BYTES = 92;
