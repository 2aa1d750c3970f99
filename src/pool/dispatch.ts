// Runs one phase of a call: on the calling thread for small problems, else on the pool's threads
// through the board (board.ts, workers/board/). A phase on the threads costs the calling thread an
// encoding of its descriptor and one Atomics.notify, whatever the number of threads: no message per
// thread or per phase, no buffer per phase (buffers a phase refers to are registered with the threads
// once, buffer-registry.ts).
//
// Coalescing. Phases submitted together by small calls (call-admission.ts COALESCE_MAX_FLOPS), or by
// one call (attentionBatch's requests), are opened as one phase of several parts: their tiles are
// pulled from one counter, in the order submitted, and the calling thread pays one slot, one doorbell
// and one waiter for all of them. A larger call's phases keep a phase of their own, so that the
// fairness slices between phases (workers/board/serve.ts) still let a short call pass a long one.
// "Together" means
//   - in the same turn of the microtask queue: phases are collected until a microtask queued by the
//     first of them runs — the calls of one `Promise.all`, the requests of `attentionBatch`, calls
//     made in one callback;
//   - or while the pool is busy: every thread is inside a phase and a phase of small calls still has
//     tiles to take. A new small phase then waits until that phase's last tile is taken — when a
//     thread would first be free to start it anyway — and whatever small phases arrived meanwhile
//     open together; so do phases waiting for a free slot.
// A lone phase on an idle pool waits for one microtask and nothing else. Bits do not change: a tile is a pure
// function of its job and index (workers/kernels/jobs.ts), whichever phase it is pulled from.

import type { Job, KernelName } from '../../workers/kernels/jobs.js';
import { tileCount } from '../../workers/kernels/jobs.js';
import type { KernelSet } from '../../workers/kernels/select.js';
import { runTiles } from '../../workers/run-tiles.js';
import type { Board, BoardPart } from './board.js';
import type { CallContext } from './call-context.js';
import type { ServeTasks } from './serve-tasks.js';

interface Submitted extends BoardPart {
  readonly kernel: KernelName;
}

export class Dispatcher {
  #submitted: Submitted[] = [];
  #flushing = false;

  constructor(
    private readonly board: Board,
    private readonly serveTasks: ServeTasks,
    private readonly callingThreadKernels: KernelSet,
    /** The test hook of pool-hooks.ts. */
    private readonly onPhase?: (parts: number) => void,
  ) {}

  /** `inline`: run on the calling thread (by default when the whole call is small). */
  async runPhase(ctx: CallContext, job: Job, kernel: KernelName, inline = ctx.inline): Promise<void> {
    ctx.throwIfStopped();
    if (tileCount(job) === 0) return;
    if (inline) {
      runTiles(this.callingThreadKernels[kernel](), { job, kernel, abort: ctx.abortFlag });
    } else {
      await new Promise<void>((settle) => {
        this.#submitted.push({ ctx, job, kernel, settle });
        if (this.#flushing) return;
        this.#flushing = true;
        queueMicrotask(() => void this.#flush());
      });
    }
    ctx.throwIfStopped();
  }

  /** Opens what was submitted, one phase per group that may share one, taking in whatever is
   *  submitted while the pool is busy or a slot is awaited. */
  async #flush(): Promise<void> {
    while (this.#submitted.length > 0) {
      const busy = this.#submitted[0].ctx.coalesce ? this.board.whenBusy() : undefined;
      if (busy) await busy; // not `await undefined`: a lone call's phase opens in this turn
      const free = this.board.acquire();
      const slot = typeof free === 'number' ? free : await free;
      const first = this.#submitted[0];
      const parts: Submitted[] = [];
      const others: Submitted[] = [];
      for (const submitted of this.#submitted) {
        if (submitted.ctx.stopped) submitted.settle(); // its call has rejected already
        else (shareAPhase(first, submitted) ? parts : others).push(submitted);
      }
      const { kernel } = first;
      this.#submitted = others;
      if (parts.length === 0) {
        this.board.release(slot);
        continue;
      }
      try {
        this.serveTasks.ensure(parts.reduce((sum, { job }) => sum + tileCount(job), 0));
        this.board.open(slot, kernel, parts, first.ctx.coalesce);
        this.onPhase?.(parts.length);
      } catch (err) { // an internal error (a descriptor that cannot be encoded): those calls fail, not the pool
        this.board.release(slot);
        for (const { ctx, settle } of parts) {
          ctx.stop(err instanceof Error ? err : new Error(String(err)));
          settle();
        }
      }
    }
    this.#flushing = false;
  }
}

function shareAPhase(a: Submitted, b: Submitted): boolean {
  return a.kernel === b.kernel && (a.ctx === b.ctx || (a.ctx.coalesce && b.ctx.coalesce));
}
