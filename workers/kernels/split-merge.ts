// The merge of split-KV: combines the partial softmax states of a row's key splits into its output, the
// same routine whichever kernel computed the splits (it is O(splits · Dv) per row, memory-bound). No
// phase of its own: the split tiles of a row group (ATTENTION_TILE's `group`: the same rows) count the
// group's `pending` down, and the thread whose tile takes it to 0 merges the group's rows at once —
// what a second phase cost, a board round trip or a merge on the calling thread (a decode step's
// ~14 µs there), is gone. Atomics.sub is sequentially consistent, so the merging thread sees every
// partial the group's other tiles wrote before their own decrement.
//
// For splits with partial state (m_s, l_s, acc_s) — acc_s = Σ exp(s − m_s)·v over the split's keys:
//   M = max_s m_s,  L = Σ_s exp(m_s − M)·l_s,  out = Σ_s exp(m_s − M)·acc_s / L,  lse = M + log L.
// A job with sinks: the head's sink logit σ joins once, here, as one more term with no value — M also
// takes σ and L starts at exp(σ − M) — since the splits' partials leave it out (a row with no key
// seen then gives out = 0 and lse = σ).
// The sums run over the splits in index order, in float64 whatever the storage type, so a row's result
// depends only on its partials — which depend only on the shape — and never on how tiles were scheduled.
//
// Non-finite cases, as the unsplit kernels behave:
//   * an empty split (every key masked, past the causal limit or outside the window) has m = −Infinity
//     and l = 0: it is skipped, never weighted by exp(−Infinity − M) = 0, so no 0·Infinity arises; a row
//     whose splits are all empty gets zeros and lse = −Infinity;
//   * a NaN score makes its split's m NaN; NaN wins the maximum, so the row comes out NaN (out and lse);
//   * a split whose weight exp(m_s − M) underflows to 0 contributes nothing, even if its acc holds an
//     Infinity (the unsplit kernels likewise skip keys with p = 0).

import { ATTENTION_TILE, type AttentionJob, type SplitKv } from './jobs.js';

let rowScratch = new Float64Array(0); // [Dv]: the merged accumulator of one row

/** After split tile `tile` of `job` is done: merges its row group if it was the group's last tile. */
export function mergeIfLast(job: AttentionJob, split: SplitKv, tile: number): void {
  if (Atomics.sub(split.pending, job.tiles[tile * ATTENTION_TILE.ints + ATTENTION_TILE.offsets.group], 1) !== 1) return;
  const { b, h, heads, rowStart, rowEnd } = ATTENTION_TILE.read(job.tiles, tile); // once per group: a record is fine
  const { H, Sq } = job;
  for (let head = h; head < h + heads; head++) {
    const first = (b * H + head) * Sq;
    mergeRows(job, split, first + rowStart, first + rowEnd);
  }
}

/** Merges flat rows [rowStart, rowEnd), row = (b·H + h)·Sq + i. */
function mergeRows(job: AttentionJob, split: SplitKv, rowStart: number, rowEnd: number): void {
  const { H, Sq, Dv, out, lse } = job;
  const { max, sum, acc, count } = split;
  const rows = job.B * H * Sq;
  if (rowScratch.length < Dv) rowScratch = new Float64Array(Dv);
  const merged = rowScratch;
  for (let row = rowStart; row < rowEnd; row++) {
    const i = row % Sq, bh = (row - i) / Sq, h = bh % H, b = (bh - h) / H;
    const o = out.offset + b * out.strideB + h * out.strideH + i * out.strideRow;
    const sink = job.sinks ? job.sinks[h] : -Infinity; // sinks are finite (validated)
    let M = sink;
    for (let s = 0; s < count; s++) {
      const m = max[s * rows + row];
      if (!(m <= M)) M = m; // NaN wins
    }
    let L = 0;
    if (M === -Infinity) {
      out.data.fill(0, o, o + Dv);
    } else {
      merged.fill(0, 0, Dv);
      if (job.sinks) L = Math.exp(sink - M);
      for (let s = 0; s < count; s++) {
        const at = s * rows + row;
        if (max[at] === -Infinity) continue; // empty split
        const w = Math.exp(max[at] - M); // 1 for the split holding the maximum; NaN if M is NaN
        if (w === 0) continue;
        L += w * sum[at];
        const a = at * Dv;
        for (let d = 0; d < Dv; d++) merged[d] += w * acc[a + d];
      }
      const inv = 1 / L;
      for (let d = 0; d < Dv; d++) out.data[o + d] = merged[d] * inv;
    }
    if (lse) lse.data[lse.offset + b * lse.strideB + h * lse.strideH + i * lse.strideRow] = L === 0 ? -Infinity : M + Math.log(L);
  }
}
