// `attnpool stress --hostile` end to end: against the library's protections every hostile class is
// exercised with zero findings and exit 0; against a pool that lacks one (maxCallBytes Infinity) or a
// slow threshold no call can meet, the class concerned reports findings and the run exits 1.

import { totalmem } from 'node:os';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';

const CLASSES = ['oversized', 'aliasing', 'read-once', 'large-scale', 'past-4gib', 'long-abort'] as const;
type HostileClass = (typeof CLASSES)[number];
interface Counts { calls: number; refused: number; matched: number; findings: number }
interface Phase {
  threads: number; findings: string[]; wrongResults: number; unexpectedErrors: number;
  hostile: { classes: Record<HostileClass, Counts>; abortToFreeP50Ms: number; abortToFreeP99Ms: number; abortToFreeMaxMs: number };
}
interface Report {
  settings: { seed: number; hostile: { maxCallBytes: number | 'Infinity'; requestBytes: number; slowMs: number; past4GiB: boolean; skipped: string[] } };
  phases: Phase[];
}

const MiB = 2 ** 20;
/** Classes whose calls include ones that must be refused, and ones that must give the honest bits. */
const REFUSING: readonly HostileClass[] = ['oversized', 'aliasing', 'large-scale', 'long-abort'];
const MATCHING: readonly HostileClass[] = ['aliasing', 'read-once', 'large-scale', 'past-4gib', 'long-abort'];

const total = (doc: Report, c: HostileClass, key: keyof Counts) => doc.phases.reduce((n, p) => n + p.hostile.classes[c][key], 0);

describe('attnpool stress --hostile', () => {
  it('the default bound: every class exercised, each call refused or matching as it must, no finding, exit 0', async () => {
    const result = await runCli(['stress', '--hostile', '--threads', '1,2', '--duration', '6s', '--seed', '6', '--json'], 90_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout) as Report;
    // The documented default bound, a quarter of the machine's memory; the requests ask for 1.5 times it.
    const bound = Math.floor(totalmem() / 4);
    expect(doc.settings.hostile).toEqual({ maxCallBytes: bound, requestBytes: Math.ceil(1.5 * bound), slowMs: 1000, past4GiB: true, skipped: [] });
    expect(doc.phases.map((p) => p.threads)).toEqual([1, 2]);
    for (const p of doc.phases) {
      expect(p.findings).toEqual([]);
      expect([p.wrongResults, p.unexpectedErrors]).toEqual([0, 0]);
      for (const c of CLASSES) {
        const counts = p.hostile.classes[c];
        expect(counts.findings, `threads=${p.threads} ${c}`).toBe(0);
        expect(counts.calls, `threads=${p.threads} ${c}`).toBeGreaterThan(0);
        // Every call of a class but long-abort is either refused or matched; a long-abort probe is both
        // (its long call refused with an AbortError, its small call matched).
        if (c === 'long-abort') expect([counts.refused, counts.matched]).toEqual([counts.calls, counts.calls]);
        else expect(counts.refused + counts.matched, `threads=${p.threads} ${c}`).toBe(counts.calls);
      }
      const { abortToFreeP50Ms: p50, abortToFreeP99Ms: p99, abortToFreeMaxMs: max } = p.hostile;
      expect(p50 > 0 && p50 <= p99 && p99 <= max && max <= 1000, `abort→free p50 ${p50}, p99 ${p99}, max ${max} ms`).toBe(true);
    }
    for (const c of REFUSING) expect(total(doc, c, 'refused'), `${c} refused`).toBeGreaterThan(0);
    for (const c of MATCHING) expect(total(doc, c, 'matched'), `${c} matched`).toBeGreaterThan(0);
    expect(total(doc, 'oversized', 'matched')).toBe(0);
    expect(total(doc, 'read-once', 'refused') + total(doc, 'past-4gib', 'refused')).toBe(0);
  }, 120_000);

  it('--max-call-bytes Infinity: the 96 MiB requests are accepted, each one an oversized finding, exit 1', async () => {
    const result = await runCli(['stress', '--hostile', '--max-call-bytes', 'Infinity', '--threads', '1', '--duration', '2s', '--concurrency', '4', '--seed', '7', '--json']);
    expect(result.code, result.stderr).toBe(1);
    const doc = JSON.parse(result.stdout) as Report;
    expect(doc.settings.hostile).toMatchObject({ maxCallBytes: 'Infinity', requestBytes: 96 * MiB });
    const oversized = doc.phases[0]!.hostile.classes.oversized;
    expect(oversized.calls).toBeGreaterThan(0);
    expect(oversized).toEqual({ calls: oversized.calls, refused: 0, matched: 0, findings: oversized.calls });
    for (const c of CLASSES.filter((name) => name !== 'oversized')) expect(doc.phases[0]!.hostile.classes[c].findings, c).toBe(0);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines.slice(0, -1).length).toBe(Math.min(oversized.calls, 10));
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/^threads=1 hostile oversized: (attention|multiHeadAttention) .*: was accepted \(RSS grew by -?\d+ MiB meanwhile\); it must be refused$/);
    expect(lines.at(-1)).toBe(`attnpool stress: 0 wrong results, 0 unexpected errors and ${oversized.calls} hostile finding${oversized.calls === 1 ? '' : 's'} (seed 7)`);
  });

  it('--slow-ms 1: small calls after aborts cannot end within 1 ms, so long-abort reports findings, exit 1', async () => {
    const result = await runCli(['stress', '--hostile', '--slow-ms', '1', '--threads', '1', '--duration', '1s', '--concurrency', '4', '--seed', '8', '--json']);
    expect(result.code, result.stderr).toBe(1);
    const doc = JSON.parse(result.stdout) as Report;
    const probes = doc.phases[0]!.hostile.classes['long-abort'];
    expect(probes.calls).toBeGreaterThan(0);
    expect(probes.findings).toBeGreaterThanOrEqual(probes.calls);
    expect(probes.matched).toBe(0);
    expect(result.stderr).toMatch(/^threads=1 hostile long-abort: the small call after an abort ended [\d.]+ ms after it \(slow threshold 1 ms\)$/m);
  });

  it('the text report: abort→free columns, a row per pool size and class, past-4gib skipped on request', async () => {
    const result = await runCli(['stress', '--hostile', '--max-call-bytes', '64MiB', '--no-past-4gib', '--threads', '1', '--duration', '1s', '--seed', '9']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/ +loop delay p99 ms +abort→free p50 ms +abort→free p99 ms$/m);
    expect(result.stdout.match(/^1 +[\d.]+ +\d+ +\d+ +[\d.]+ +[\d.]+ +\d+ +\d+ +0 +0 +\d+ MiB +[\d.]+ +[\d.]+ +[\d.]+$/gm)).toHaveLength(1);
    expect(result.stdout).toMatch(/^hostile calls: maxCallBytes 64 MiB, oversized requests of 96 MiB, slow threshold 1000 ms\nskipped: past-4gib: off \(--no-past-4gib\)$/m);
    expect(result.stdout).toMatch(/^threads +class +calls +refused as expected +same bits as 1 thread +findings$/m);
    for (const c of CLASSES.filter((name) => name !== 'past-4gib')) expect(result.stdout).toMatch(new RegExp(`^1 +${c} +[1-9]\\d* +\\d+ +\\d+ +0$`, 'm'));
    expect(result.stdout).toMatch(/^1 +past-4gib +0 +0 +0 +0$/m);
  });
});
