/** Wall-clock timing of async calls, and the figures the benchmark prints from it. */

export interface Timed<T> {
  /** Milliseconds of each timed run, in run order (warm-up runs excluded). */
  readonly times: number[];
  /** What the last run returned (kept to compare outputs). */
  readonly last: T;
}

/** Runs `call` `warmup` times untimed, then `runs` times timed, one after another. */
export async function timeRuns<T>(call: () => Promise<T>, warmup: number, runs: number): Promise<Timed<T>> {
  for (let i = 0; i < warmup; i++) await call();
  const times: number[] = [];
  let last: T | undefined;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    last = await call();
    times.push(performance.now() - start);
  }
  if (last === undefined) throw new RangeError(`timeRuns: runs must be at least 1, got ${runs}`);
  return { times, last };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Peak resident set size of this process so far (all threads), in GiB. */
export function peakRssGiB(): number {
  return process.resourceUsage().maxRSS / (1024 * 1024); // maxRSS is in KiB
}

export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`maxAbsDifference: lengths differ (${a.length} vs ${b.length})`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(a[i] - b[i]);
    if (!(diff <= worst)) worst = diff; // NaN propagates as the worst error
  }
  return worst;
}
