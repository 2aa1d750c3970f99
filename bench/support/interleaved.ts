// Timing several variants of one workload in turns: round r runs variant 0, 1, 2 … once each, so a
// slow spell of the machine lands on every variant alike (see bench/attention.bench.ts for why).

/** Milliseconds per run of each call: `warmup` untimed rounds, then `rounds` timed ones. */
export async function timeInterleaved(calls: readonly (() => Promise<unknown>)[], warmup: number, rounds: number): Promise<number[][]> {
  for (let r = 0; r < warmup; r++) for (const call of calls) await call();
  const times = calls.map((): number[] => []);
  for (let r = 0; r < rounds; r++) {
    for (const [i, call] of calls.entries()) {
      const start = performance.now();
      await call();
      times[i].push(performance.now() - start);
    }
  }
  return times;
}
