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

/** One word of every 64-byte line of [from, from + bytes), OR-ed together (the caller keeps the
 *  result, so that the loads are not removed). */
export function readLines(from: usize, bytes: usize): i32 {
  let seen: i32 = 0;
  const end = from + bytes;
  for (let at = from; at < end; at += 64) seen |= load<i32>(at);
  return seen;
}
