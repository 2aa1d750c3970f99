// A job's tiles as named records in one Int32Array: the planners (src/plan/) write them, the kernels
// read them, both through the layout of their job kind (one file per kind beside this one), so a
// field's position is written down once. An Int32Array rather than objects: the board copies it into
// a shared array its phase slot keeps (src/pool/board.ts), which the phase's descriptor names
// (workers/board/descriptor.ts). Not allocated on a SharedArrayBuffer by the planners: allocating one
// costs ~10 µs, which every phase of every call would pay.

/** A tile: each field an int32 (row, column, head, part or split index). */
export type TileRecord<F extends string> = { readonly [K in F]: number };

export interface TileLayout<F extends string> {
  /** Int32 values per tile. */
  readonly ints: number;
  /** Tile `tile` of `tiles`. Called once per tile, so the small object costs nothing beside the tile. */
  read(tiles: Int32Array, tile: number): TileRecord<F>;
  /** The records in order, in an Int32Array (what a job's `tiles` is). */
  pack(records: readonly TileRecord<F>[]): Int32Array;
  /** Every tile of `tiles`, in order: the inverse of pack. */
  unpack(tiles: Int32Array): TileRecord<F>[];
  /** Each field's position in a tile, for code that reads or writes every tile of a phase on the
   *  calling thread straight in the Int32Array: pack and read go by a variable field name, a
   *  megamorphic access each (packing a decode step's 32 attention tiles: 14.5 µs, against 2.2 µs
   *  written field by field). */
  readonly offsets: { readonly [K in F]: number };
}

/** The record type of a layout. */
export type RecordOf<L> = L extends TileLayout<infer F> ? TileRecord<F> : never;

/** The layout whose tiles hold `fields`, in that order. */
export function tileLayout<const F extends readonly string[]>(fields: F): TileLayout<F[number]> {
  type Field = F[number];
  const names: readonly Field[] = fields;
  const ints = names.length;
  const read = (tiles: Int32Array, tile: number): TileRecord<Field> => {
    const record: Record<string, number> = {};
    for (let f = 0; f < ints; f++) record[names[f]] = tiles[tile * ints + f];
    return record as TileRecord<Field>; // every field of F was just set
  };
  const pack = (records: readonly TileRecord<Field>[]): Int32Array => {
    const tiles = new Int32Array(records.length * ints);
    records.forEach((record, tile) => {
      for (let f = 0; f < ints; f++) tiles[tile * ints + f] = record[names[f]];
    });
    return tiles;
  };
  const unpack = (tiles: Int32Array): TileRecord<Field>[] => Array.from({ length: tiles.length / ints }, (_, tile) => read(tiles, tile));
  const offsets = Object.freeze(Object.fromEntries(names.map((name, f) => [name, f])) as { readonly [K in Field]: number });
  return { ints, read, pack, unpack, offsets };
}
