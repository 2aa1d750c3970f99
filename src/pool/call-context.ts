// The state of one call while it runs: the flag its tiles check, the first reason it stopped (aborted,
// pool closed, worker failed), and for calls on the workers the scratch its phases write. Stopping
// rejects the call at once; threads working for it leave at their next step, so no thread is lost and
// no other call is touched.

import type { Placement } from './call-admission.js';
import type { CallScratch } from './scratch-pool.js';

export class CallContext {
  /** Non-zero tells the calling thread's tiles to stop (the workers read the board's ABORT instead). */
  readonly abortFlag = new Int32Array(1);
  #failure: Error | undefined;
  readonly #listeners: ((err: Error) => void)[] = [];

  readonly inline: boolean;
  readonly coalesce: boolean;

  /** `scratch`: for calls that run on the workers. */
  constructor(readonly op: string, placement: Placement, readonly scratch?: CallScratch) {
    this.inline = placement.inline;
    this.coalesce = placement.coalesce;
  }

  /** Records the first reason to stop, raises the flag and tells the listeners (the caller's promise
   *  rejects, open phases raise their ABORT). */
  stop(reason: Error): void {
    if (this.#failure) return;
    this.#failure = reason;
    Atomics.store(this.abortFlag, 0, 1);
    for (const listener of this.#listeners.splice(0)) listener(reason);
  }

  /** Calls `listener` when the call stops (at once if it has). Returns a function that removes it. */
  onStop(listener: (err: Error) => void): () => void {
    if (this.#failure) {
      listener(this.#failure);
      return () => {};
    }
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  get stopped(): boolean {
    return this.#failure !== undefined;
  }

  throwIfStopped(): void {
    if (this.#failure) throw this.#failure;
  }
}
