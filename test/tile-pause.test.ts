// Pausing, resuming and stopping an attention tile mid-way (workers/kernels/tile-control.ts), at the
// kernel level where it is deterministic: a control that answers 'pause' every few steps, the tile
// resumed each time on a fresh kernel instance (as on another thread, with nothing cached), must give
// the bits of the tile run straight through; a 'stop' must abandon the tile at its first check.
// Both kernels; layouts the pool produces: several spans per chunk, several chunks per tile (mask and
// bias slices), attention weights, split-KV partials, K/V from a KvCache (pieces), tiles holding the query
// heads of a kv head (grouped-query tiles: a pause mid-tile resumes at a chunk of mixed heads).

import { describe, expect, it } from 'vitest';
import { ATTENTION_TILE, tileCount, type AttentionJob, type Kernel, type SplitKv } from '../dist/workers/kernels/jobs.js';
import { jsKernel } from '../dist/workers/kernels/js/js-kernel.js';
import { SuspendedTile, suspensionSlot } from '../dist/workers/kernels/suspended-tile.js';
import type { StepVerdict, TileControl } from '../dist/workers/kernels/tile-control.js';
import { createWasmKernel, wasmKernels } from '../dist/workers/kernels/wasm/index.js';
import { expectRelativeToMax, expectSameBits, FLOAT32_RTOL } from './support/compare.js';
import { WASM_BUILD } from './support/kernels.js';
import { Rng } from './support/random.js';
import { attentionInputs, attentionJob, attentionResult, attentionTiles, randomBroadcastable, type AttentionCase } from './support/wasm-jobs.js';
import { referenceAttention } from './support/wasm-reference.js';

const wasmModule = wasmKernels(WASM_BUILD)?.module ?? null;
const kernels: ReadonlyArray<{ name: string; fresh: () => Kernel }> = [
  { name: 'js', fresh: () => jsKernel },
  {
    name: 'wasm',
    fresh: () => {
      expect(wasmModule, `the wasm build '${WASM_BUILD}' must be built and valid on this runtime`).not.toBeNull();
      return createWasmKernel(wasmModule!);
    },
  },
];

interface PauseCase {
  readonly label: string;
  readonly spec: AttentionCase;
  readonly split?: number;
  readonly kvSource?: boolean;
  /** Tiles hold all H / Hkv query heads of a kv head, as the planner makes them for GQA. */
  readonly grouped?: boolean;
}
const mb = (seed: number, Sq: number, Sk: number) => {
  const rng = new Rng(seed);
  return { mask: randomBroadcastable([1, 1, Sq, Sk], rng, 'mask'), bias: randomBroadcastable([1, 1, Sq, Sk], rng, 'bias') };
};
const cases: readonly PauseCase[] = [
  // D + Dv = 512: wasm spans of 8192 keys, so the tile crosses a span.
  { label: 'two spans, causal', spec: { seed: 1, B: 1, H: 2, Hkv: 1, Sq: 32, Sk: 8300, D: 256, Dv: 256, causal: true } },
  // Mask and bias rows of 8300 keys: the wasm kernel cuts the 128-row tile into chunks of 100 rows.
  { label: 'several chunks a tile (mask, bias)', spec: { seed: 2, B: 1, H: 1, Hkv: 1, Sq: 128, Sk: 8300, D: 16, Dv: 24, ...mb(2, 128, 8300) } },
  { label: 'attention weights', spec: { seed: 3, B: 1, H: 1, Hkv: 1, Sq: 64, Sk: 8000, D: 32, Dv: 32, weights: true } },
  { label: 'split-KV partials', spec: { seed: 4, B: 1, H: 2, Hkv: 2, Sq: 48, Sk: 5000, D: 32, Dv: 32 }, split: 2048 },
  { label: 'K/V from a KvCache (pieces)', spec: { seed: 5, B: 1, H: 2, Hkv: 1, Sq: 64, Sk: 9000, D: 64, Dv: 64, causal: true }, kvSource: true },
  // 4 heads × 64 rows = 256 tile rows: wasm chunks of 128, so a pause lands in either chunk.
  { label: 'grouped-query tiles (4 heads a tile)', spec: { seed: 6, B: 1, H: 8, Hkv: 2, Sq: 64, Sk: 8300, D: 32, Dv: 32, causal: true }, grouped: true },
  { label: 'grouped-query tiles, split-KV', spec: { seed: 7, B: 1, H: 6, Hkv: 2, Sq: 3, Sk: 20000, D: 64, Dv: 64, causal: true }, grouped: true, split: 8192 },
];

function splitKv(job: AttentionJob, keysPerSplit: number): SplitKv {
  const count = Math.ceil(job.Sk / keysPerSplit), rows = job.B * job.H * job.Sq;
  return {
    keysPerSplit, first: 0, count,
    max: new Float64Array(count * rows).fill(-Infinity), sum: new Float64Array(count * rows), acc: new Float64Array(count * rows * job.Dv),
  };
}

/** A fresh job of the case: every tile (split) of every head, 128-row tiles. */
function jobOf(c: PauseCase): AttentionJob {
  const { B, H, Sq } = c.spec;
  const perHead = attentionJob(attentionInputs(c.spec), attentionTiles(B, H, Sq, [128]));
  const group = H / c.spec.Hkv;
  const base = c.grouped ? {
    ...perHead,
    tiles: ATTENTION_TILE.pack(ATTENTION_TILE.unpack(perHead.tiles).filter((t) => t.h % group === 0).map((t) => ({ ...t, heads: group }))),
  } : perHead;
  const kvSource = c.kvSource ? { kvSource: { id: 1, epoch: 1 } } : {};
  if (c.split === undefined) return { ...base, ...kvSource };
  const split = splitKv(base, c.split);
  const tiles = ATTENTION_TILE.unpack(base.tiles).flatMap((tile) => Array.from({ length: split.count }, (_, s) => ({ ...tile, split: s })));
  return { ...base, ...kvSource, split, tiles: ATTENTION_TILE.pack(tiles) };
}

/** Everything the job wrote. */
function results(job: AttentionJob): Float32Array[] | Float64Array[] {
  if (job.split) return [job.split.max, job.split.sum, job.split.acc];
  const r = [job.out.data as Float32Array, job.lse!.data as Float32Array];
  return job.weights ? [...r, job.weights.data as Float32Array] : r;
}

/** A control answering `verdict(n)` at its n-th check (1-based). */
function controlOf(job: AttentionJob, verdict: (n: number) => StepVerdict): TileControl & { readonly checks: () => number } {
  let n = 0;
  return { suspended: new SuspendedTile(suspensionSlot(job)), check: () => verdict(++n), checks: () => n };
}

describe.each(kernels)('kernel $name', ({ name, fresh }) => {
  describe.each(cases)('$label', (c) => {
    it('paused every 3rd step and resumed on a fresh instance: the same bits as straight through', () => {
      const straight = jobOf(c);
      const once = fresh();
      for (let t = 0; t < tileCount(straight); t++) expect(once.tiles.attention(straight, t)).toBe('done');

      const paused = jobOf(c);
      const control = controlOf(paused, (n) => (n % 3 === 0 ? 'pause' : 'go'));
      let pauses = 0;
      for (let t = 0; t < tileCount(paused); t++) {
        let outcome = fresh().tiles.attention(paused, t, control);
        while (outcome === 'paused') {
          pauses++;
          expect(control.suspended!.tile, 'the slot holds the paused tile').toBe(t);
          outcome = fresh().tiles.attention(paused, t, control);
        }
        expect(outcome).toBe('done');
      }
      // The wasm kernel keeps a chunk's scores for the weights in its own memory: it never pauses there.
      if (name === 'wasm' && c.spec.weights) expect(pauses, 'pauses').toBe(0);
      else expect(pauses, 'pauses').toBeGreaterThan(3);
      const [a, b] = [results(paused), results(straight)];
      a.forEach((x, i) => expectSameBits(x, b[i], `result array ${i}`));
      if (!c.split) {
        const ref = referenceAttention(attentionInputs(c.spec));
        expectRelativeToMax(attentionResult(paused).out, ref.out, FLOAT32_RTOL, 'out vs reference');
      }
    });

    it('stopped at the first check: the tile is abandoned, its rows never written', () => {
      const job = jobOf(c);
      const control = controlOf(job, () => 'stop');
      expect(fresh().tiles.attention(job, 0, control)).toBe('stopped');
      expect(control.checks(), 'checks').toBe(1);
      if (!job.split) {
        const out = attentionResult(job).out;
        expect(out.every((x) => x === 7), 'out keeps its sentinel').toBe(true);
      }
    });
  });
});
