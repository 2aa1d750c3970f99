// The wasm kernel's argument block (workers/kernels/wasm/span-args.ts): a chunk's fields written once and
// each step's written over them land at the offsets span-args-layout.ts gives, together cover the whole
// block, and a later step changes only the step's fields.

import { describe, expect, it } from 'vitest';
import type { WasmArena } from '../workers/kernels/wasm/arena.js';
import * as SpanArg from '../workers/kernels/wasm/span-args-layout.js';
import { writeChunkArgs, writeStepArgs, type ChunkArgs, type StepArgs } from '../workers/kernels/wasm/span-args.js';

const BLOCK = 64; // byte offset of the block in the test memory
const SENTINEL = 0x5a5a5a5a;

function memory(): WasmArena {
  const buffer = new ArrayBuffer(BLOCK + SpanArg.ARGS_BYTES + 64);
  const i32 = new Int32Array(buffer).fill(SENTINEL);
  return { i32, f32: new Float32Array(buffer) } as unknown as WasmArena;
}

const chunk: ChunkArgs = {
  rows: 12, depth: 64, dvPad: 80, scale: 0.25, shift: 2, q: 4096, keyLimit: 8192, keyFloor: 8256, kvFormat: SpanArg.KV_INT8,
  dv: 72, kvStaging: 9000, rowMax: 9100, rowSum: 9200, acc: 9300, scratch: 9400, scores: 9500, scoresStride: 300,
  softcapIn: 0.5, softcapOut: 1.5, alibiSlope: -0.125, queryPosition: 77, gapAfter: 33, gapSize: 5, readAhead: true,
};
// kPanels past 2 GiB: stored as the int32 with the same bits (the kernel reads a u32).
const step: StepArgs = {
  spanStart: 1024, spanKeys: 256, kPanels: 2 ** 31 + 64, vRows: 123456, vFinite: true, kScales: 222, vScales: 333,
  mask: 444, maskStride: 555, bias: 666, biasStride: 777,
};
const nextStep: StepArgs = {
  spanStart: 1280, spanKeys: 64, kPanels: 5000, vRows: 6000, vFinite: false, kScales: 7000, vScales: 8000,
  mask: 0, maskStride: 0, bias: 0, biasStride: 0,
};

/** Every field's offset (span-args-layout.ts) and the value a block written from these args holds there. */
function expected(c: ChunkArgs, s: StepArgs): [offset: number, kind: 'i32' | 'f32', value: number][] {
  return [
    [SpanArg.ROWS, 'i32', c.rows], [SpanArg.DEPTH, 'i32', c.depth], [SpanArg.DV_PAD, 'i32', c.dvPad],
    [SpanArg.SCALE, 'f32', c.scale], [SpanArg.SHIFT, 'f32', c.shift], [SpanArg.START, 'i32', s.spanStart],
    [SpanArg.KEYS, 'i32', s.spanKeys], [SpanArg.Q, 'i32', c.q], [SpanArg.KEY_LIMIT, 'i32', c.keyLimit],
    [SpanArg.KEY_FLOOR, 'i32', c.keyFloor], [SpanArg.K_PANELS, 'i32', s.kPanels | 0], [SpanArg.V_ROWS, 'i32', s.vRows],
    [SpanArg.V_FINITE, 'i32', s.vFinite ? 1 : 0], [SpanArg.MASK, 'i32', s.mask], [SpanArg.MASK_STRIDE, 'i32', s.maskStride],
    [SpanArg.BIAS, 'i32', s.bias], [SpanArg.BIAS_STRIDE, 'i32', s.biasStride], [SpanArg.ROW_MAX, 'i32', c.rowMax],
    [SpanArg.ROW_SUM, 'i32', c.rowSum], [SpanArg.ACC, 'i32', c.acc], [SpanArg.SCRATCH, 'i32', c.scratch],
    [SpanArg.SCORES, 'i32', c.scores], [SpanArg.SCORES_STRIDE, 'i32', c.scoresStride], [SpanArg.KV_FORMAT, 'i32', c.kvFormat],
    [SpanArg.DV, 'i32', c.dv], [SpanArg.K_SCALES, 'i32', s.kScales], [SpanArg.V_SCALES, 'i32', s.vScales],
    [SpanArg.KV_STAGING, 'i32', c.kvStaging], [SpanArg.SOFTCAP_IN, 'f32', c.softcapIn], [SpanArg.SOFTCAP_OUT, 'f32', c.softcapOut],
    [SpanArg.ALIBI_SLOPE, 'f32', c.alibiSlope], [SpanArg.QUERY_POSITION, 'i32', c.queryPosition], [SpanArg.GAP_AFTER, 'i32', c.gapAfter],
    [SpanArg.GAP_SIZE, 'i32', c.gapSize], [SpanArg.READ_AHEAD, 'i32', c.readAhead ? 1 : 0],
  ];
}

function expectBlock(arena: WasmArena, c: ChunkArgs, s: StepArgs): void {
  for (const [offset, kind, value] of expected(c, s)) {
    expect({ offset, value: arena[kind][(BLOCK + offset) / 4] }).toEqual({ offset, value });
  }
}

describe('the kernel argument block', () => {
  it('a chunk and a step write every field at its offset, and nothing outside the block', () => {
    const arena = memory();
    writeChunkArgs(arena, BLOCK, chunk);
    writeStepArgs(arena, BLOCK, step);
    expectBlock(arena, chunk, step);
    // The list covers the block but for the word the kernel writes (READ_AHEAD_SINK).
    expect(expected(chunk, step)).toHaveLength(SpanArg.ARGS_BYTES / 4 - 1);
    const words = Array.from(arena.i32);
    expect(words.slice(0, BLOCK / 4).every((w) => w === SENTINEL)).toBe(true);
    expect(words.slice((BLOCK + SpanArg.ARGS_BYTES) / 4).every((w) => w === SENTINEL)).toBe(true);
    const written = words.slice(BLOCK / 4, (BLOCK + SpanArg.ARGS_BYTES) / 4);
    expect(written.flatMap((w, i) => (w === SENTINEL ? [i * 4] : []))).toEqual([SpanArg.READ_AHEAD_SINK]);
  });

  it("a chunk's fields are the chunk's alone and a step's the step's alone", () => {
    const chunkOnly = memory(), stepOnly = memory();
    writeChunkArgs(chunkOnly, BLOCK, chunk);
    writeStepArgs(stepOnly, BLOCK, step);
    const stepOffsets = new Set([SpanArg.START, SpanArg.KEYS, SpanArg.K_PANELS, SpanArg.V_ROWS, SpanArg.V_FINITE, SpanArg.K_SCALES,
      SpanArg.V_SCALES, SpanArg.MASK, SpanArg.MASK_STRIDE, SpanArg.BIAS, SpanArg.BIAS_STRIDE]);
    for (let offset = 0; offset < SpanArg.ARGS_BYTES; offset += 4) {
      if (offset === SpanArg.READ_AHEAD_SINK) continue; // the kernel's to write
      const word = (BLOCK + offset) / 4;
      expect({ offset, untouched: chunkOnly.i32[word] === SENTINEL }).toEqual({ offset, untouched: stepOffsets.has(offset) });
      expect({ offset, untouched: stepOnly.i32[word] === SENTINEL }).toEqual({ offset, untouched: !stepOffsets.has(offset) });
    }
  });

  it("a later step leaves the chunk's fields as they were", () => {
    const arena = memory();
    writeChunkArgs(arena, BLOCK, chunk);
    writeStepArgs(arena, BLOCK, step);
    writeStepArgs(arena, BLOCK, nextStep);
    expectBlock(arena, chunk, nextStep);
  });
});
