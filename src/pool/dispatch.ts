// Runs one phase of a call: on the calling thread for small problems, else on the pool's threads
// through the board (board.ts, workers/board/). A phase on the threads costs the calling thread an
// encoding of its descriptor and one Atomics.notify, whatever the number of threads: no message per
// thread or per phase, no buffer per phase (buffers a phase refers to are registered with the threads
// once, buffer-registry.ts).

import type { Job, KernelName } from '../../workers/kernels/jobs.js';
import { tileCount } from '../../workers/kernels/jobs.js';
import type { KernelSet } from '../../workers/kernels/select.js';
import { suspensionSlotLength } from '../../workers/kernels/suspended-tile.js';
import { encodeDescriptor } from '../../workers/board/descriptor.js';
import type { PauseSlots, PhaseDescriptor } from '../../workers/board/phase.js';
import { runTiles } from '../../workers/run-tiles.js';
import type { Board } from './board.js';
import type { BufferRegistry } from './buffer-registry.js';
import type { CallContext } from './call-context.js';
import { scratchArray } from './scratch-pool.js';
import type { ServeTasks } from './serve-tasks.js';

/** Tile lists up to this many int32 travel inside the descriptor (a call's fresh list then needs no
 *  registering); longer ones, of calls long enough not to notice, are registered like any buffer. */
const INLINE_TILE_INTS = 4096;

export class Dispatcher {
  constructor(
    private readonly board: Board,
    private readonly serveTasks: ServeTasks,
    private readonly registry: BufferRegistry,
    private readonly callingThreadKernels: KernelSet,
  ) {}

  /** `inline`: run on the calling thread (by default when the whole call is small). */
  async runPhase(ctx: CallContext, job: Job, kernel: KernelName, inline = ctx.inline): Promise<void> {
    ctx.throwIfStopped();
    const tiles = tileCount(job);
    if (tiles === 0) return;
    if (inline) {
      runTiles(this.callingThreadKernels[kernel](), { job, kernel, abort: ctx.abortFlag });
    } else {
      const threads = Math.min(this.board.shape.threads, tiles);
      this.serveTasks.ensure(threads);
      const phase: PhaseDescriptor = { job, kernel, ...(job.kind === 'attention' ? { pauses: pauseSlots(ctx, job, threads) } : {}) };
      const descriptor = encodeDescriptor(phase, {
        idOf: (buffer) => this.registry.idOf(buffer),
        inline: (view) => view === job.tiles && job.tiles.length <= INLINE_TILE_INTS,
      });
      await this.board.runPhase(ctx, descriptor, tiles);
    }
    ctx.throwIfStopped();
  }
}

/** One pause slot per thread that may work on the phase (workers/board/phase.ts). */
function pauseSlots(ctx: CallContext, job: Job & { kind: 'attention' }, threads: number): PauseSlots {
  const slotLength = suspensionSlotLength(job);
  // Only a slot's header is read before the slot is written: tile + 1, 0 for empty.
  const slots = scratchArray(ctx.scratch, Float64Array, threads * slotLength, false);
  for (let i = 0; i < threads; i++) slots[i * slotLength] = 0;
  return { states: scratchArray(ctx.scratch, Int32Array, threads), slots, slotLength };
}
