// float32 keys into the wasm kernel's K panels, in JS: panel q of a region is [D][8] floats with
// element (d, c) = K[key 8q + c][d] (asm/pack.ts packPanels). A page is written a few keys at a time as
// a sequence grows, so keys are scattered into their columns one by one; the columns of keys not yet
// written keep the zeros the page was cleared to, which is what packPanels writes past its keys.

import { PANEL_WIDTH } from './page-layout.js';

/** Keys [key0, key0 + n) of a region whose panels start at float index `panels` of `dst`, from n rows
 *  of D floats at src[srcAt…]. */
export function packKeyPanels(dst: Float32Array, panels: number, D: number, key0: number, src: ArrayLike<number>, srcAt: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const key = key0 + i;
    const column = panels + Math.floor(key / PANEL_WIDTH) * D * PANEL_WIDTH + (key % PANEL_WIDTH);
    const row = srcAt + i * D;
    for (let d = 0; d < D; d++) dst[column + d * PANEL_WIDTH] = src[row + d];
  }
}
