// `attnpool stress --duration 3s` end to end: exit 0, every default pool size visited, calls made
// (valid, aborted and invalid), and no wrong result or unexpected error anywhere.

import { describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';

interface Phase {
  threads: number; calls: number; callsPerSecond: number; p50Ms: number; p99Ms: number; aborted: number;
  invalidRejected: number; wrongResults: number; unexpectedErrors: number; peakRssBytes: number;
  eventLoopDelayP99Ms: number; startupMs: number; findings: string[];
}

describe('attnpool stress', () => {
  it('--duration 3s: exit 0 and 0 wrong results at every pool size', async () => {
    const result = await runCli(['stress', '--duration', '3s', '--seed', '4', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout) as { settings: { seed: number; durationMs: number }; phases: Phase[] };
    expect(doc.settings).toMatchObject({ seed: 4, durationMs: 3000 });
    expect(doc.phases.map((p) => p.threads)).toEqual([1, 2, 8, 32]);
    for (const p of doc.phases) {
      expect(p.wrongResults, `threads=${p.threads}`).toBe(0);
      expect(p.unexpectedErrors, `threads=${p.threads}`).toBe(0);
      expect(p.findings).toEqual([]);
      expect(p.calls).toBeGreaterThan(0);
      expect(p.p50Ms <= p.p99Ms).toBe(true);
      expect(p.peakRssBytes).toBeGreaterThan(0);
      expect(p.eventLoopDelayP99Ms).toBeGreaterThan(0);
    }
    // Over all pool sizes, each kind of call was exercised.
    const total = (key: 'aborted' | 'invalidRejected') => doc.phases.reduce((n, p) => n + p[key], 0);
    expect(total('aborted')).toBeGreaterThan(0);
    expect(total('invalidRejected')).toBeGreaterThan(0);
  });

  it('the text report is a table with one row per pool size', async () => {
    const result = await runCli(['stress', '--duration', '1s', '--threads', '1,2', '--seed', '5']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^stress: seed 5, 32 distinct valid calls, concurrency 16, kernel (js|wasm \((simd|relaxed-simd) build\))$/m);
    expect(result.stdout).toMatch(/^threads +start-up ms +calls +calls\/s +p50 ms +p99 ms +aborted +invalid rejected +wrong +unexpected errors +peak RSS +loop delay p99 ms$/m);
    expect(result.stdout.match(/^[12] +[\d.]+ +\d+ +\d+ +[\d.]+ +[\d.]+ +\d+ +\d+ +0 +0 +\d+ MiB +[\d.]+$/gm)).toHaveLength(2);
  });
});
