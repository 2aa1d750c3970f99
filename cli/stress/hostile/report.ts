// The text report of the hostile calls: one row per pool size and class.

import { formatTable, mib } from '../../format.js';
import type { PhaseResult } from '../fire.js';
import { HOSTILE_CLASSES } from './hostile-call.js';
import type { HostileRun } from './hostile-run.js';

export function formatHostile(run: HostileRun, phases: readonly PhaseResult[]): string {
  const rows = phases.flatMap((p) => HOSTILE_CLASSES.map((c) => {
    const counts = p.hostile!.classes[c];
    return [String(p.threads), c, String(counts.calls), String(counts.refused), String(counts.matched), String(counts.findings)];
  }));
  const bound = run.settings.maxCallBytes === Infinity ? 'Infinity' : mib(run.settings.maxCallBytes);
  return [
    `hostile calls: maxCallBytes ${bound}, oversized requests of ${mib(run.requestBytes)}, slow threshold ${run.settings.slowMs} ms`,
    ...run.skipped.map((reason) => `skipped: ${reason}`),
    formatTable(['threads', 'class', 'calls', 'refused as expected', 'same bits as 1 thread', 'findings'], rows),
  ].join('\n');
}
