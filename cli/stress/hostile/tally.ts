// The counts of one phase's hostile calls, per class, and the abort→free latencies of the long-abort
// probe. Findings go to the phase's list of findings as well (a few are kept; the counts are complete).

import { quantile } from '../../format.js';
import { HOSTILE_CLASSES, type HostileClass } from './hostile-call.js';

export interface ClassCounts {
  /** Hostile calls fired. */
  calls: number;
  /** Refused as they must be: the expected RangeError (an AbortError for long-abort), promptly. */
  refused: number;
  /** Gave the bits of the honest call on the 1-thread pool. */
  matched: number;
  findings: number;
}

export interface HostilePhaseResult {
  readonly classes: Readonly<Record<HostileClass, Readonly<ClassCounts>>>;
  /** From a long call's abort to the end of a small call issued right after it. */
  readonly abortToFreeP50Ms: number;
  readonly abortToFreeP99Ms: number;
  readonly abortToFreeMaxMs: number;
}

export class HostileTally {
  readonly #classes = Object.fromEntries(HOSTILE_CLASSES.map((c) => [c, { calls: 0, refused: 0, matched: 0, findings: 0 }])) as Record<HostileClass, ClassCounts>;
  readonly #abortToFreeMs: number[] = [];

  constructor(private readonly note: (detail: string) => void) {}

  fired(c: HostileClass): void {
    this.#classes[c].calls++;
  }

  refused(c: HostileClass): void {
    this.#classes[c].refused++;
  }

  matched(c: HostileClass): void {
    this.#classes[c].matched++;
  }

  finding(c: HostileClass, detail: string): void {
    this.#classes[c].findings++;
    this.note(`hostile ${c}: ${detail}`);
  }

  abortToFree(ms: number): void {
    this.#abortToFreeMs.push(ms);
  }

  get findings(): number {
    return HOSTILE_CLASSES.reduce((n, c) => n + this.#classes[c].findings, 0);
  }

  result(): HostilePhaseResult {
    const latencies = this.#abortToFreeMs;
    return {
      classes: this.#classes,
      abortToFreeP50Ms: quantile(latencies, 0.5),
      abortToFreeP99Ms: quantile(latencies, 0.99),
      abortToFreeMaxMs: latencies.length === 0 ? NaN : Math.max(...latencies),
    };
  }
}
