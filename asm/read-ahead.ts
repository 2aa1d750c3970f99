// Reading a key block's K and V ahead of the stages that compute on them, for K/V that come from main
// memory rather than from this thread's caches: a paged store's pages (workers/kernels/wasm/paged-spans.ts),
// read in place by every call.
//
// Why. WebAssembly has no prefetch instruction, and the stages' loops spend 14–37 instructions on each
// 64-byte line they load (4-row dot4x8 and pv4: ~28; a float16 or int8 decode: more). A core keeps only
// as many loads in flight as its reorder buffer holds instructions between them (~350 on the CPUs
// here), so those loops have ~10 lines in flight and wait on main memory at a fraction of what it can
// stream. A loop that loads one word per line and does nothing else keeps the buffer full of loads:
// the block arrives at streaming speed, and the stages then run on it from L1/L2. Measured on the key
// blocks of 168 MB of float32 panels (lscpu "Intel(R) Xeon(R) Processor", Node 24, one thread, ns per
// key): 4-row Q·Kᵀ 33.1 → 27.7, one row's P·V over float32 V 22.9 → 19.8 and over binary16 V
// 19.0 → 15.7; one row's Q·Kᵀ over float32 panels was at streaming speed already (21.5, streaming 22.0).
// On K/V in cache the extra pass costs (4-row Q·Kᵀ 10.7 → 14.5 ns in L2), so only paged spans take it.

import * as SpanArg from '../workers/kernels/wasm/span-args-layout';
import { storedValueBytes } from './kv-decode';
import { PANEL_WIDTH, int8ScaleRowBytes } from './layout';

/** Reads ahead the K and V of keys [local, local + keys) of the span (one key block) as the span holds
 *  them: float32 panels (whole, as the score loop reads them) and padded V rows, or stored rows and, for
 *  int8, their scales. Returns what the loads gave, for the caller to keep. */
export function readBlockAhead(args: usize, local: i32, keys: i32): i32 {
  const format = load<i32>(args, SpanArg.KV_FORMAT), depth = load<i32>(args, SpanArg.DEPTH);
  const kPanels = load<usize>(args, SpanArg.K_PANELS), vRows = load<usize>(args, SpanArg.V_ROWS);
  if (format == SpanArg.KV_FLOAT32) {
    const kKeyBytes = <usize>depth << 2, vKeyBytes = <usize>load<i32>(args, SpanArg.DV_PAD) << 2;
    const panelKeys = <usize>((keys + PANEL_WIDTH - 1) / PANEL_WIDTH * PANEL_WIDTH);
    return readLines(kPanels + <usize>local * kKeyBytes, panelKeys * kKeyBytes) |
      readLines(vRows + <usize>local * vKeyBytes, <usize>keys * vKeyBytes);
  }
  const dv = load<i32>(args, SpanArg.DV), bytes = storedValueBytes(args);
  const kKeyBytes = <usize>depth * bytes, vKeyBytes = <usize>dv * bytes;
  let seen = readLines(kPanels + <usize>local * kKeyBytes, <usize>keys * kKeyBytes) |
    readLines(vRows + <usize>local * vKeyBytes, <usize>keys * vKeyBytes);
  if (format == SpanArg.KV_INT8) {
    const kScaleRow = int8ScaleRowBytes(depth), vScaleRow = int8ScaleRowBytes(dv);
    seen |= readLines(load<usize>(args, SpanArg.K_SCALES) + <usize>local * kScaleRow, <usize>keys * kScaleRow) |
      readLines(load<usize>(args, SpanArg.V_SCALES) + <usize>local * vScaleRow, <usize>keys * vScaleRow);
  }
  return seen;
}

/** One word of every 64-byte line of [from, from + bytes), OR-ed together (the caller keeps the
 *  result, so that the loads are not removed). */
function readLines(from: usize, bytes: usize): i32 {
  let seen: i32 = 0;
  const end = from + bytes;
  for (let at = from; at < end; at += 64) seen |= load<i32>(at);
  return seen;
}
