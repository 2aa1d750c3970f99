// A small seeded random generator (mulberry32), so a bench or stress run can be repeated exactly with
// --seed. Not for cryptography; plenty for test data. The project's only copy: the benchmarks
// (bench/support/random-tensors.ts) and the tests (test/support/random.ts) draw from it too, since the
// shipped CLI cannot import theirs.

export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Fills `data` with values uniform in [-1, 1). */
  fill(data: Float32Array | Float64Array): void {
    for (let i = 0; i < data.length; i++) data[i] = this.next() * 2 - 1;
  }
}
