// Admission of calls. Up to `running` calls execute at once; their phase tasks interleave in the
// worker pool's FIFO queue, and each task gives its thread back after a time slice (run-tiles.ts), so
// a short call admitted next to a long one finishes in about its own time rather than after it.
// Calls beyond that wait here in arrival order, at most `maxQueue` of them; the next one is refused
// at once. Intermediate buffers are allocated only once a call runs, so memory is bounded by the
// running calls whatever rate callers push at.

import { AbortError, PoolClosedError, QueueFullError } from '../errors.js';

interface Waiter {
  readonly op: string;
  readonly admit: () => void;
  readonly refuse: (err: Error) => void;
}

export class CallGate {
  #running = 0;
  readonly #waiting: Waiter[] = [];
  #closed = false;

  constructor(private readonly maxRunning: number, private readonly maxQueue: number) {}

  /** Admits the call at once (undefined), or queues it (a promise that resolves when it may run).
   *  Throws when it is refused at once: the gate closed, `signal` aborted, the queue full. Once admitted,
   *  the caller must call release() exactly once. */
  enter(op: string, signal: AbortSignal | undefined): Promise<void> | undefined {
    if (this.#closed) throw new PoolClosedError(op);
    if (signal?.aborted) throw new AbortError(op);
    if (this.#running < this.maxRunning) {
      this.#running++;
      return undefined;
    }
    if (this.#waiting.length >= this.maxQueue) throw new QueueFullError(op, this.maxQueue);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#remove(waiter);
        reject(new AbortError(op));
      };
      const waiter: Waiter = {
        op,
        admit: () => { signal?.removeEventListener('abort', onAbort); resolve(); },
        refuse: (err) => { signal?.removeEventListener('abort', onAbort); reject(err); },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next.admit(); // the slot passes straight to the next waiter
    else this.#running--;
  }

  /** Refuses every waiting call and all later ones. */
  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) waiter.refuse(new PoolClosedError(waiter.op));
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  #remove(waiter: Waiter): void {
    const i = this.#waiting.indexOf(waiter);
    if (i >= 0) this.#waiting.splice(i, 1);
  }
}
