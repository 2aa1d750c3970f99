// Entry point of dist/wasm/kernels.wasm: what the JavaScript driver (workers/kernels/wasm/) calls.
// Everything works on raw linear memory the driver lays out; there is no allocator or GC.

import { KEY_BLOCK, PANEL_WIDTH, ROW_GROUP } from './layout';
import { ATTENTION_SCRATCH_BYTES } from './scratch';

export { exp2Array } from './exp';
export { tanhArray } from './tanh';
export { allFinite, packPanels } from './pack';
export { decodeFloat16Array } from './float16';
export { float16Panels, int8Panels } from './stored-panels';
export { attentionSpan } from './attention';
export { finishRows, finishWeights } from './finish';
export { gemmRows } from './gemm';

/** First byte after the module's static data: the driver's layout starts here. */
export function heapBase(): usize {
  return __heap_base;
}

export function keyBlock(): i32 {
  return KEY_BLOCK;
}

export function rowGroup(): i32 {
  return ROW_GROUP;
}

export function panelWidth(): i32 {
  return PANEL_WIDTH;
}

export function attentionScratchBytes(): i32 {
  return ATTENTION_SCRATCH_BYTES;
}
