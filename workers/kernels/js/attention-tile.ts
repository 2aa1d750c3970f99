// Scalar attention kernel: one tile = one (batch, head or heads of one kv head, block of query rows),
// FlashAttention-2 style. A tile's rows are walked in tile-rows.ts's order; each row reads its own
// head's q, mask, bias, slope and sink, so a grouped tile computes each row exactly as a one-head tile.
//
// For each key block the tile's rows get their scores, a running maximum m, a running sum l of
// exp(s - m) and an unnormalised accumulator acc = Σ exp(s - m)·v; when a block raises m, l and acc are
// rescaled by exp(m_old - m_new). The output is acc / l, divided once at the end. Memory is
// O(rows × (KEY_BLOCK + Dv)), independent of Sk.
//
// Arithmetic is in float64 (JavaScript numbers) whatever the storage type, and each row is computed by
// the same sequence of operations wherever its tile starts or ends: a row whose scores in a key block
// are all masked skips that block entirely, so a tile-mate needing the block changes nothing. That is
// what makes the output identical for every thread count. The same holds for the lower bound of a
// sliding window: a block wholly before a row's first visible key is skipped for that row.
//
// The variants (golden-variants README): softcap, bias and ALiBi are terms of each score (scoreWithTerms);
// a sink is the row's initial state — m = σ, l = exp(σ − σ) = 1, acc = 0, as if it were one more key
// with score σ and a zero value — so every later block rescales it like any other key. A split job's
// tiles start empty instead: the merge adds the sink once. Neither changes which blocks are skipped.
//
// A tile of a split job (split-KV) covers only the keys of its split and writes the rows' partial
// state (m, l, acc) to job.split for the merge (split-merge.ts) instead of out and lse.
//
// Every keysPerStep keys the tile asks its control whether to go on (tile-control.ts): it abandons
// the tile when the call stopped, or saves (m, l, acc) and the next block's start when its thread is
// wanted elsewhere, and resumes from there — the same blocks in the same order either way.

import { ATTENTION_TILE, type AttentionJob } from '../jobs.js';
import { keyEnd, keyPosition, keyStart, queryPosition } from '../key-range.js';
import type { RowState } from '../suspended-tile.js';
import { keysPerStep, type TileControl, type TileOutcome } from '../tile-control.js';
import { headOfRow, queryRowOf, tileRowCount, type TileRows } from '../tile-rows.js';
import { kvReader } from './kv-readers.js';

/** Keys per online-softmax step. A fixed constant, never derived from the tile: the block boundaries
 *  decide where rescaling happens, so they must be the same for every plan. 64 keys × 64 dims of K
 *  and V (2 × 16 KiB as float32) stay in L1/L2 while every row of the tile passes over them. */
export const JS_KEY_BLOCK = 64;

// Per-thread scratch, grown on demand and reused across tiles and calls.
let scoreScratch = new Float64Array(0); // [rows, KEY_BLOCK]
let rowMaxScratch = new Float64Array(0); // [rows]
let rowSumScratch = new Float64Array(0); // [rows]
let accScratch = new Float64Array(0); // [rows, Dv]

function ensureScratch(rows: number, dv: number): void {
  if (scoreScratch.length < rows * JS_KEY_BLOCK) scoreScratch = new Float64Array(rows * JS_KEY_BLOCK);
  if (rowMaxScratch.length < rows) {
    rowMaxScratch = new Float64Array(rows);
    rowSumScratch = new Float64Array(rows);
  }
  if (accScratch.length < rows * dv) accScratch = new Float64Array(rows * dv);
}

export function attentionTileJs(job: AttentionJob, tile: number, control?: TileControl): TileOutcome {
  const { Sk, D, Dv, scale, q, mask, bias, split } = job;
  const rowsOf = ATTENTION_TILE.read(job.tiles, tile);
  const { b, h, rowStart: i0, rowEnd: i1, split: s } = rowsOf;
  const rows = tileRowCount(rowsOf);
  const kvHead = Math.floor(h / (job.H / job.Hkv)); // every head of the tile shares it
  ensureScratch(rows, Dv);
  // Locals, not module variables or object fields, inside the hot loops: V8 then keeps them in
  // registers instead of reloading (and re-checking the type of) each one per element.
  const scores = scoreScratch, acc = accScratch, rowMax = rowMaxScratch, rowSum = rowSumScratch;
  const qData = q.data;
  const kv = kvReader(job, b, kvHead);
  for (let r = 0; r < rows; r++) {
    const sink = job.sinks && !split ? job.sinks[headOfRow(rowsOf, r)] : undefined;
    rowMax[r] = sink ?? -Infinity;
    rowSum[r] = sink === undefined ? 0 : 1;
  }
  acc.fill(0, 0, rows * Dv);
  const softcap = job.softcap ?? 0;

  // Key blocks past the causal limit of the tile's last row, or before the window of its first row, or
  // outside the tile's split, are skipped whole. Blocks start at multiples of JS_KEY_BLOCK (splits too).
  const splitStart = split ? s * split.keysPerSplit : 0;
  const splitEnd = split ? Math.min(Sk, splitStart + split.keysPerSplit) : Sk;
  const tileKeyEnd = Math.min(splitEnd, keyEnd(job, i1 - 1));
  const tileKeyStart = Math.max(splitStart, Math.floor(keyStart(job, i0) / JS_KEY_BLOCK) * JS_KEY_BLOCK);
  const state: RowState = { max: rowMax, maxAt: 0, sum: rowSum, sumAt: 0, acc, accAt: 0, accStride: Dv, cols: Dv };
  const resumed = control?.suspended?.take(tile);
  if (resumed) control!.suspended!.restore(state);
  const firstKey = resumed ? resumed.nextKey : tileKeyStart;
  const stepKeys = keysPerStep(rows, D, Dv, JS_KEY_BLOCK);
  for (let j0 = firstKey; j0 < tileKeyEnd; j0 += JS_KEY_BLOCK) {
    if (control && j0 > firstKey && (j0 - firstKey) % stepKeys === 0) {
      const verdict = control.check();
      if (verdict === 'stop') return 'stopped';
      if (verdict === 'pause') {
        control.suspended!.save(tile, 0, j0, rows, state); // the whole tile: its rows from tile row 0
        return 'paused';
      }
    }
    const blockEnd = Math.min(j0 + JS_KEY_BLOCK, tileKeyEnd);
    for (let r = 0; r < rows; r++) {
      const i = queryRowOf(rowsOf, r), head = headOfRow(rowsOf, r);
      const jStart = Math.max(j0, keyStart(job, i));
      const j1 = Math.min(blockEnd, keyEnd(job, i));
      if (j1 <= jStart) continue;
      const s = r * JS_KEY_BLOCK - j0; // scores[s + j] holds key j of this row
      const qRow = q.offset + b * q.strideB + head * q.strideH + i * q.strideRow;
      const maskRow = mask ? mask.offset + b * mask.strideB + head * mask.strideH + i * mask.strideRow : 0;
      const biasRow = bias ? bias.offset + b * bias.strideB + head * bias.strideH + i * bias.strideRow : 0;
      const position = queryPosition(job, i), slope = job.alibiSlopes?.[head] ?? 0;
      let blockMax = -Infinity;
      for (let j = jStart; j < j1; j++) {
        let score: number;
        if (mask && mask.data[maskRow + j * mask.strideCol] === 0) {
          score = -Infinity;
        } else {
          score = scoreWithTerms(kv.dotKey(qData, qRow, j) * scale, softcap,
            bias ? bias.data[biasRow + j * bias.strideCol] : 0, slope === 0 ? 0 : slope * (keyPosition(job, j) - position));
          if (!(score <= blockMax)) blockMax = score; // NaN wins, so a NaN row propagates instead of looking fully masked
        }
        scores[s + j] = score;
      }
      if (blockMax === -Infinity) continue; // nothing to attend in this block: leave the row untouched
      const mOld = rowMax[r];
      const mNew = mOld > blockMax ? mOld : blockMax;
      const a = r * Dv;
      if (mNew !== mOld) {
        const correction = Math.exp(mOld - mNew); // 0 on the first block (mOld = -Infinity)
        rowSum[r] *= correction;
        for (let d = 0; d < Dv; d++) acc[a + d] *= correction;
        rowMax[r] = mNew;
      }
      let sum = rowSum[r];
      for (let j = jStart; j < j1; j++) {
        const p = Math.exp(scores[s + j] - mNew);
        if (p === 0) continue; // masked (or underflowed) key: contributes nothing, even if v is not finite
        sum += p;
        kv.addValue(acc, a, p, j);
      }
      rowSum[r] = sum;
    }
  }
  if (split) {
    writePartials(job, rowsOf, s);
  } else {
    writeRows(job, rowsOf);
    if (job.weights) writeWeights(job, rowsOf, kvHead);
  }
  return 'done';
}

/** A scaled score s = scale·q·k with the terms the job adds after it, in the README's order: the softcap
 *  (0: none), then the bias and the ALiBi term (0 when absent). */
function scoreWithTerms(s: number, softcap: number, biasTerm: number, alibiTerm: number): number {
  const capped = softcap === 0 ? s : softcap * Math.tanh(s / softcap);
  return capped + biasTerm + alibiTerm;
}

/** The rows' state after their split's keys, unnormalised, for the merge phase. */
function writePartials(job: AttentionJob, tile: TileRows, s: number): void {
  const { H, Sq, Dv } = job;
  const split = job.split!;
  const splitFirst = (s - split.first) * job.B * H * Sq;
  for (let r = 0; r < tileRowCount(tile); r++) {
    const row = splitFirst + (tile.b * H + headOfRow(tile, r)) * Sq + queryRowOf(tile, r);
    split.max[row] = rowMaxScratch[r];
    split.sum[row] = rowSumScratch[r];
    split.acc.set(accScratch.subarray(r * Dv, (r + 1) * Dv), row * Dv);
  }
}

/** out = acc / l and lse = m + log(l); a row that attended nothing gives zeros and lse = -Infinity. */
function writeRows(job: AttentionJob, tile: TileRows): void {
  const { out, lse, Dv } = job;
  const { b } = tile;
  for (let r = 0; r < tileRowCount(tile); r++) {
    const h = headOfRow(tile, r), i = queryRowOf(tile, r);
    const o = out.offset + b * out.strideB + h * out.strideH + i * out.strideRow;
    const l = rowSumScratch[r];
    const a = r * Dv;
    if (l === 0) {
      out.data.fill(0, o, o + Dv);
    } else {
      const inv = 1 / l;
      for (let d = 0; d < Dv; d++) out.data[o + d] = accScratch[a + d] * inv;
    }
    if (lse) lse.data[lse.offset + b * lse.strideB + h * lse.strideH + i * lse.strideRow] = l === 0 ? -Infinity : rowMaxScratch[r] + Math.log(l);
  }
}

/** Second pass over the keys when the caller asked for the probabilities: p = exp(s - m) / l (with a
 *  sink in l, a row's weights sum to less than 1). */
function writeWeights(job: AttentionJob, tile: TileRows, kvHead: number): void {
  const { Sk, scale, q, mask, bias } = job;
  const weights = job.weights!;
  const { b } = tile;
  const kv = kvReader(job, b, kvHead);
  const softcap = job.softcap ?? 0;
  for (let r = 0; r < tileRowCount(tile); r++) {
    const h = headOfRow(tile, r), i = queryRowOf(tile, r);
    const qBase = q.offset + b * q.strideB + h * q.strideH, slope = job.alibiSlopes?.[h] ?? 0;
    const position = queryPosition(job, i);
    const w = weights.offset + b * weights.strideB + h * weights.strideH + i * weights.strideRow;
    const l = rowSumScratch[r];
    weights.data.fill(0, w, w + Sk);
    if (l === 0) continue;
    const m = rowMaxScratch[r];
    const inv = 1 / l;
    const end = keyEnd(job, i);
    const qRow = qBase + i * q.strideRow;
    for (let j = keyStart(job, i); j < end; j++) {
      if (mask && mask.data[mask.offset + b * mask.strideB + h * mask.strideH + i * mask.strideRow + j * mask.strideCol] === 0) continue;
      const biasTerm = bias ? bias.data[bias.offset + b * bias.strideB + h * bias.strideH + i * bias.strideRow + j * bias.strideCol] : 0;
      const score = scoreWithTerms(kv.dotKey(q.data, qRow, j) * scale, softcap, biasTerm, slope === 0 ? 0 : slope * (keyPosition(job, j) - position));
      weights.data[w + j] = Math.exp(score - m) * inv;
    }
  }
}
