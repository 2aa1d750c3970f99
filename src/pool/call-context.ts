// The state of one call while it runs: the flag its tasks check between tiles, and the first reason
// it stopped (aborted, pool closed, worker failed). Stopping rejects the call at once; tasks already on
// a thread finish their current tile and return, so no thread is lost and no other call is touched.

export class CallContext {
  /** Int32 in shared memory: non-zero tells every thread working for this call to stop. */
  readonly abortFlag = new Int32Array(new SharedArrayBuffer(4));
  #failure: Error | undefined;
  #onStop: ((err: Error) => void) | undefined;

  constructor(readonly op: string, readonly inline: boolean) {}

  /** Records the first reason to stop, raises the flag and rejects the caller's promise. */
  stop(reason: Error): void {
    if (this.#failure) return;
    this.#failure = reason;
    Atomics.store(this.abortFlag, 0, 1);
    this.#onStop?.(reason);
  }

  onStop(listener: (err: Error) => void): void {
    this.#onStop = listener;
  }

  get stopped(): boolean {
    return this.#failure !== undefined;
  }

  throwIfStopped(): void {
    if (this.#failure) throw this.#failure;
  }
}
