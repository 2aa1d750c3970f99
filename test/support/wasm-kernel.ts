// Set-up shared by the suites that call the wasm kernel directly on hand-built jobs (wasm-kernel*.test.ts,
// wasm-gemm.test.ts): a fresh kernel on the pinned build, all of a job's tiles in order, and one run
// checked against the float64 reference.

import { expect } from 'vitest';
import type { AttentionJob, Kernel } from '../../dist/workers/kernels/jobs.js';
import { tileCount } from '../../dist/workers/kernels/jobs.js';
import { createWasmKernel, wasmKernels } from '../../dist/workers/kernels/wasm/index.js';
import { expectLseClose, expectMaxAbsDiff, expectRelativeToMax, FLOAT32_RTOL, WEIGHTS_ATOL } from './compare.js';
import { WASM_BUILD } from './kernels.js';
import { attentionJob, attentionResult, attentionTiles, strayWrites, type AttentionInputs } from './wasm-jobs.js';
import { referenceAttention } from './wasm-reference.js';

const wasmModule = wasmKernels(WASM_BUILD)?.module ?? null;

/** A fresh wasm kernel on the pinned build; fails the test if that build cannot run here. */
export function newKernel(): Kernel {
  expect(wasmModule, `the ${WASM_BUILD} wasm build must be built and valid on this runtime`).not.toBeNull();
  return createWasmKernel(wasmModule!);
}

/** Every tile of the job, in order. */
export function runAll(kernel: Kernel, job: AttentionJob): void {
  for (let t = 0; t < tileCount(job); t++) kernel.tiles.attention(job, t);
}

/** Runs the case on `kernel` with the given row cuts; checks it against the float64 reference. */
export function checkAgainstReference(kernel: Kernel, inputs: AttentionInputs, cuts: readonly number[] = [], label = ''): AttentionJob {
  const { B, H, Sq, Sk, Dv } = inputs.spec;
  const job = attentionJob(inputs, attentionTiles(B, H, Sq, cuts));
  runAll(kernel, job);
  const ref = referenceAttention(inputs);
  const got = attentionResult(job);
  expectRelativeToMax(got.out, ref.out, FLOAT32_RTOL, `${label} out`);
  expectLseClose(got.lse, ref.lse, `${label} lse`);
  if (got.weights) expectMaxAbsDiff(got.weights, ref.weights, WEIGHTS_ATOL, `${label} weights`);
  expect(strayWrites(job.out, { B, H, rows: Sq, cols: Dv }, 7), `${label} writes outside out`).toBe(0);
  if (job.weights) expect(strayWrites(job.weights, { B, H, rows: Sq, cols: Sk }, 7), `${label} writes outside weights`).toBe(0);
  return job;
}
