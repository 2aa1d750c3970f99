// Least-recently-used slots of packed inputs (K/V spans, W panels) in the arena, for the current job.
//
// Copying and packing a head's K and V costs about 5% of a 128-row attention tile, and the planner
// hands a thread tiles of different heads in turn (largest row blocks first, then batch and head), so
// a thread keeps every head it has packed as long as the budget allows. Slots are only valid for the
// job they were filled for: the driver lays out new slots for each job, since the same buffers may
// hold new values in the next call.

export class PackedSlots {
  private readonly slotOf = new Map<string, number>(); // insertion order = recency
  private readonly free: number[];

  constructor(readonly base: number, readonly slotBytes: number, readonly slots: number) {
    this.free = Array.from({ length: slots }, (_, i) => slots - 1 - i);
  }

  /** The slot's byte offset, and whether it already holds `key` (otherwise the caller fills it). */
  acquire(key: string): { offset: number; hit: boolean } {
    const known = this.slotOf.get(key);
    if (known !== undefined) {
      this.slotOf.delete(key);
      this.slotOf.set(key, known);
      return { offset: this.base + known * this.slotBytes, hit: true };
    }
    let slot = this.free.pop();
    if (slot === undefined) {
      const [oldest, oldestSlot] = this.slotOf.entries().next().value as [string, number];
      this.slotOf.delete(oldest);
      slot = oldestSlot;
    }
    this.slotOf.set(key, slot);
    return { offset: this.base + slot * this.slotBytes, hit: false };
  }
}
