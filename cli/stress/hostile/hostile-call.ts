// What `stress --hostile` fires besides the ordinary mix: calls built to break one of the library's
// protections, each of a class the report counts on its own. A call either must be refused (a
// RangeError with a given message, at once) or must give exactly the bits of its honest twin on the
// 1-thread reference pool.

import type { AttentionPool } from '../../../src/index.js';
import type { ValidCall } from '../calls.js';

export const HOSTILE_CLASSES = ['oversized', 'aliasing', 'read-once', 'large-scale', 'past-4gib', 'long-abort'] as const;
export type HostileClass = (typeof HOSTILE_CLASSES)[number];

interface HostileCallBase {
  readonly hostileClass: HostileClass;
  readonly label: string;
  /** Never two of these in flight: they share a buffer, or would allocate much were they wrongly accepted. */
  readonly oneAtATime?: true;
}

export interface RefusedCall extends HostileCallBase {
  readonly kind: 'refused';
  /** The RangeError's message. */
  readonly expected: RegExp;
  /** An oversized request's claim: the process's RSS must not grow by half of it across the refusal,
   *  and the pool must serve a valid call right after. */
  readonly requestBytes?: number;
  run(pool: AttentionPool): Promise<unknown>;
}

export interface MatchingCall extends HostileCallBase {
  readonly kind: 'matching';
  /** Run once on the 1-thread reference pool: the bits `hostile` must give on every pool. */
  readonly honest: ValidCall;
  readonly hostile: ValidCall;
  /** No result may hold a NaN (the honest call's own bits are checked too). */
  readonly noNaN?: true;
}

export type HostileCall = RefusedCall | MatchingCall;

/** `async` turns a synchronous throw into a rejection, as callers of the pool see it either way. */
export function refused(hostileClass: HostileClass, label: string, expected: RegExp, run: (pool: AttentionPool) => Promise<unknown>): RefusedCall {
  return { kind: 'refused', hostileClass, label, expected, run: async (pool) => run(pool) };
}
