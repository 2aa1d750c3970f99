// The pool's threads each run one long serve task (workers/board/serve.ts), started when a phase
// first has tiles for that many threads and restarted whenever it ends while the pool still wants
// it: a tile that threw ends it (the thread lives on and runs the new task), a thread that died ends
// it (piscina starts a new thread for the new task) — either way the board fails the call the thread
// was inside — and a pool idle for PARK_AFTER_MS parks its tasks (they return), so that an idle pool
// does not keep the process alive; the next phase restarts them.

import { availableParallelism } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import { ringAll } from '../../workers/board/doorbell.js';
import { CLOSING, PARK } from '../../workers/board/layout.js';
import type { ServeTask } from '../../workers/board/phase.js';
import type { Board } from './board.js';
import type { BufferRegistry } from './buffer-registry.js';
import type { ResultStock } from './result-stock.js';
import type { ScratchPool } from './scratch-pool.js';

/** Idle time after which the threads park. Restarting them costs one piscina message per thread on
 *  the next call (~50 µs each), so it is paid at most this often. */
const PARK_AFTER_MS = 500;

/** How long a thread that ran out of work spins before it sleeps (workers/board/doorbell.ts). */
const SPIN_MS = 0.3;

/** Threads that spin: thread 0 alone, which a ring wakes first (the lowest idle thread), so that the
 *  caller's ring seldom needs a futex wake — the threads after it are woken by the thread before them,
 *  not by the caller, and spinning them would burn a core each per phase for no caller time — and none
 *  on a single core, where a spinning thread would take the very time the caller needs for its next call. */
function spinningThreads(): number {
  return Math.min(1, availableParallelism() - 1);
}

/** Tells the threads of `board` to return from their serve tasks for good: for close() and for a
 *  pool dropped unclosed (a thread terminated inside its serve loop stalled the process). */
export function closeBoard(board: Int32Array): void {
  Atomics.store(board, CLOSING, 1);
  ringAll(board);
}

export class ServeTasks {
  /** How many threads the pool wants serving: the most any phase had tiles for, so far. */
  #wanted = 0;
  readonly #serving: boolean[];
  #parkTimer: NodeJS.Timeout | undefined;
  /** When the pool last had no call running, or undefined while it has one. */
  #idleSince: number | undefined;

  /** `scratch` and `results`: trimmed when the threads park (an idle pool lets go of them). Not a
   *  callback into the pool: the running serve tasks hold this object, and must not keep a dropped pool
   *  alive. */
  constructor(private readonly piscina: Piscina<ServeTask, void>, private readonly board: Board,
    private readonly registry: BufferRegistry, private readonly scratch: ScratchPool, private readonly results: ResultStock) {
    this.#serving = new Array<boolean>(board.shape.threads).fill(false);
  }

  /** At least `count` threads serving (at most the pool's thread count), unparked. */
  ensure(count: number): void {
    this.#idleSince = undefined;
    Atomics.store(this.board.ints, PARK, 0);
    this.#wanted = Math.max(this.#wanted, Math.min(count, this.board.shape.threads));
    for (let index = 0; index < this.#wanted; index++) if (!this.#serving[index]) this.#start(index);
  }

  /** The pool has no call running: park the threads unless a call comes within PARK_AFTER_MS. One
   *  timer at a time, not one per call: when it fires after calls came and went, it waits again for
   *  what is left of PARK_AFTER_MS since the last of them. */
  idle(): void {
    this.#idleSince = performance.now();
    if (!this.#closed && !this.#parkTimer) this.#parkAfter(PARK_AFTER_MS);
  }

  #parkAfter(ms: number): void {
    this.#parkTimer = setTimeout(() => {
      this.#parkTimer = undefined;
      if (this.#idleSince === undefined || this.#closed) return; // busy: the next idle() arms it again
      const idleFor = performance.now() - this.#idleSince;
      if (idleFor < PARK_AFTER_MS) return this.#parkAfter(PARK_AFTER_MS - idleFor);
      const { ints } = this.board;
      Atomics.store(ints, PARK, 1);
      ringAll(ints);
      this.scratch.trim();
      this.results.trim();
    }, ms).unref();
  }

  /** Serve tasks return at their next look at the board; piscina ends the threads after. */
  close(): void {
    clearTimeout(this.#parkTimer);
    closeBoard(this.board.ints);
  }

  #start(index: number): void {
    this.#serving[index] = true;
    const { port, initial } = this.registry.connect(index);
    const { threads, slots } = this.board.shape;
    const spinMs = index < spinningThreads() ? SPIN_MS : 0;
    const transferList = [port];
    let results: ServeTask['results'];
    if (index === this.#fillerIndex) {
      const { port1, port2 } = new MessageChannel();
      this.results.connect(port1);
      results = { port: port2, table: this.results.table };
      transferList.push(port2);
    }
    const task: ServeTask = { index, board: this.board.ints, threads, slots, port, initial, spinMs, ...(results ? { results } : {}) };
    this.piscina.run(task, { transferList }).then(() => this.#ended(index), (err: unknown) => {
      this.board.failWorker(index, err);
      this.#ended(index);
    });
  }

  /** A task parked, threw or lost its thread: restarted unless the pool closed or is parked (a phase
   *  opened since the task saw PARK cleared it, and must not wait for a thread that left). */
  #ended(index: number): void {
    this.#serving[index] = false;
    this.registry.disconnect(index);
    if (index === this.#fillerIndex) this.results.disconnect();
    if (!this.#closed && Atomics.load(this.board.ints, PARK) === 0 && index < this.#wanted) this.#start(index);
  }

  /** The thread that fills the result stock: thread 1, which serves whenever a phase has two tiles
   *  and is woken by thread 0, not by a ring — so that a ring finds thread 0 idle (spinning) rather
   *  than busy filling; thread 0 in a 1-thread pool. */
  get #fillerIndex(): number {
    return Math.min(1, this.board.shape.threads - 1);
  }

  /** Read from the board: a dropped pool's destroyer closes it without this object. */
  get #closed(): boolean {
    return Atomics.load(this.board.ints, CLOSING) !== 0;
  }
}
