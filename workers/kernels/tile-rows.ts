// Which (query head, query row) pairs an attention tile holds, and in what order both kernels walk them.
//
// Under grouped-query attention the H / Hkv query heads of a kv head see exactly the same keys, so a
// tile may hold the rows of several of them (ATTENTION_TILE's `heads`): one pass over the kv head's
// K/V — one copy, one decode of each float16/int8 block — serves them all. Tile row t is query row
// rowStart + ⌊t / heads⌋ of head h + (t mod heads): query-row-major, so the wasm kernel's 4-row groups
// hold one query row of 4 heads, which share every key limit and floor (causal, window) and see the
// kernel's key blocks whole together — a decode step's single row of 4 heads fills a group instead of a
// quarter of each of four. No row's bits depend on which rows share its tile, chunk or group
// (asm/attention.ts, asm/pv.ts), so the grouping changes where rows are computed, not what.

/** The rows of a tile: query rows [rowStart, rowEnd) of heads [h, h + heads) of batch b. */
export interface TileRows {
  readonly b: number;
  readonly h: number;
  readonly heads: number;
  readonly rowStart: number;
  readonly rowEnd: number;
}

/** How many rows the tile holds. */
export function tileRowCount(tile: Pick<TileRows, 'heads' | 'rowStart' | 'rowEnd'>): number {
  return (tile.rowEnd - tile.rowStart) * tile.heads;
}

/** The query head of tile row t. */
export function headOfRow(tile: TileRows, t: number): number {
  return tile.h + (t % tile.heads);
}

/** The query row (index along Sq) of tile row t. */
export function queryRowOf(tile: TileRows, t: number): number {
  return tile.rowStart + Math.floor(t / tile.heads);
}

/** One head's rows among tile rows [from, from + rows): local rows first, first + heads, … (`count` of
 *  them), which are that head's consecutive query rows queryRow, queryRow + 1, … */
export interface HeadRun {
  readonly head: number;
  readonly first: number;
  readonly queryRow: number;
  readonly count: number;
}

/** The runs of tile rows [from, from + rows), one per head that has rows there: each head's rows are
 *  evenly spaced (every `heads`-th local row), so a strided copy moves a head's rows in one call. */
export function headRuns(tile: TileRows, from: number, rows: number): HeadRun[] {
  const runs: HeadRun[] = [];
  for (let first = 0; first < Math.min(rows, tile.heads); first++) {
    runs.push({
      head: headOfRow(tile, from + first), first, queryRow: queryRowOf(tile, from + first),
      count: Math.ceil((rows - first) / tile.heads),
    });
  }
  return runs;
}
