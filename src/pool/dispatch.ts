// Runs one phase of a call: on the calling thread for small problems, else on the worker pool.
//
// piscina.run costs ~40–55 µs per message here — more than a small tile's compute — so a phase posts
// one task per thread ("lane"), not one per tile; each task pulls tile indices from a shared counter.
// While more lanes (of all calls) are open than there are threads, a task returns after
// TASK_TIME_SLICE_MS and its lane re-posts it at the back of the pool's queue: that is how concurrent
// calls share the threads fairly. A call alone on the pool is never sliced: each re-post costs about
// 0.5 ms here (a round trip through this thread and piscina's queue) and the wasm kernel packs K/V
// again for the new message; at 20 ms slices that made a lone S=4096 call ~15 % slower on 1 thread and
// up to 35 % on 2 (measured with the slice forced on and off).

import type { Piscina } from 'piscina';
import { WorkerFailedError } from '../errors.js';
import type { Job, KernelName } from '../../workers/kernels/jobs.js';
import { tileCount } from '../../workers/kernels/jobs.js';
import type { KernelSet } from '../../workers/kernels/select.js';
import { packViews, withPackedField, type Packed } from '../../workers/packed-views.js';
import { runTiles, type TilesOutcome } from '../../workers/run-tiles.js';
import type { PhaseTask } from '../../workers/task.js';
import { suspensionSlot } from '../../workers/kernels/suspended-tile.js';
import type { CallContext } from './call-context.js';

/** A slice long enough that the ~50 µs re-post costs < 0.5 %, short enough that a call waiting
 *  behind a long one starts within tens of milliseconds. */
export const TASK_TIME_SLICE_MS = 20;

export class Dispatcher {
  /** Raised while #openLanes > threads; every task reads it at the end of its slice. */
  readonly #contended = new Int32Array(new SharedArrayBuffer(4));
  #openLanes = 0;

  constructor(
    private readonly piscina: Piscina<Packed<PhaseTask>, TilesOutcome>,
    private readonly threads: number,
    private readonly callingThreadKernels: KernelSet,
  ) {}

  /** `inline`: run on the calling thread (by default when the whole call is small). */
  async runPhase(ctx: CallContext, job: Job, kernel: KernelName, inline = ctx.inline): Promise<void> {
    ctx.throwIfStopped();
    const tiles = tileCount(job);
    if (tiles === 0) return;
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const task: PhaseTask = { job, kernel, counter, abort: ctx.abortFlag, contended: this.#contended, budgetMs: TASK_TIME_SLICE_MS };
    if (inline) {
      runTiles(this.callingThreadKernels[kernel](), { ...task, budgetMs: Infinity });
    } else {
      // Packed once for all of the phase's posts (workers/packed-views.ts: views past 4 GiB).
      const message = packViews(task);
      const lanes = Math.min(this.threads, tiles);
      await Promise.all(Array.from({ length: lanes }, () => this.#lane(ctx, job, message)));
    }
    ctx.throwIfStopped();
  }

  async #lane(ctx: CallContext, job: Job, task: Packed<PhaseTask>): Promise<void> {
    this.#setOpenLanes(this.#openLanes + 1);
    try {
      // Each lane its own slot for an attention tile its task pauses mid-way (workers/run-tiles.ts).
      await this.#runLane(ctx, job.kind === 'attention' ? withPackedField(task, 'suspended', suspensionSlot(job)) : task);
    } finally {
      this.#setOpenLanes(this.#openLanes - 1);
    }
  }

  #setOpenLanes(lanes: number): void {
    this.#openLanes = lanes;
    Atomics.store(this.#contended, 0, lanes > this.threads ? 1 : 0);
  }

  async #runLane(ctx: CallContext, task: Packed<PhaseTask>): Promise<void> {
    for (;;) {
      let outcome: TilesOutcome;
      try {
        outcome = await this.piscina.run(task);
      } catch (err) {
        ctx.stop(new WorkerFailedError(ctx.op, err)); // the other lanes see the flag and return
        return;
      }
      // A stopped call posts nothing more: after close() a new task would start a fresh thread.
      if (outcome !== 'more' || ctx.stopped) return;
    }
  }
}
