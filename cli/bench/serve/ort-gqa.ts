// The serving benchmark's peer: onnxruntime-node's GroupQueryAttention (cli/ort/gqa-model.ts) over the
// same streams, batched: B = streams, each stream's past right-padded in one [B, Hkv, P, D] buffer per
// side, seqlens_k = past lengths. Two ways of running it, both timed by the harness:
// - 'output only': fetch `output` alone and write the step's row into the past buffer in JS, onnxruntime-node
//   1.30's fastest path. The op still builds a present of its own: it copies every stream's past into it first.
// - 'in place': present_key/present_value pre-allocated as the past tensors themselves, so past and present
//   share one buffer and the op appends in place (measured here: its kernel time falls ~4×). But
//   onnxruntime-node then hands both presents back as new ArrayBuffers — a copy of both caches per step —
//   so this path is slow in Node; its profiler's kernel time (a second, profiling session) is the figure
//   fair to onnxruntime's kernel.
// The ORT feed of a step holds position L−1 (the last one attnpool's cache holds) as the "new" row, and the
// past holds [0, L−1): both sides attend the query to exactly the same L positions.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import type { OrtRuntime } from '../../ort/ort-peer.js';
import { finalLength, type ServeShape, type StepRows } from './streams.js';
import type { Tensor } from '../../../src/index.js';

export interface OrtGqaPeer {
  /** The output-only path: one run, then the step's row written into the past in JS. Resolves to output [B, 1, H·D]. */
  outputOnly(): Promise<Float32Array>;
  /** The in-place path on the profiling session (present = past). */
  inPlace(): Promise<Float32Array>;
  /** Untimed, before a step: its queries into the feed. */
  beginStep(rows: StepRows): void;
  /** Untimed, after both paths ran a step: the next step's feed holds that step's appended rows. */
  endStep(rows: StepRows): void;
  /** The GroupQueryAttention node's kernel time of each in-place run, in ms, from onnxruntime's profiler
   *  (ends profiling: call once, after the last step). */
  kernelTimesMs(): number[];
  release(): Promise<void>;
}

const NODE_KERNEL_EVENT = (node: string) => `${node}_kernel_time`;

export async function openOrtGqa(runtime: OrtRuntime, shape: ServeShape, lengths: readonly number[], threads: number,
  initial: (stream: number) => { k: Tensor; v: Tensor }): Promise<OrtGqaPeer> {
  const { ort } = runtime;
  const models = await import('../../ort/gqa-model.js');
  const { heads: H, kvHeads: Hkv, headDim: D } = shape;
  const B = lengths.length;
  const P = Math.max(...lengths.map((l) => finalLength(shape, l)));
  const bytes = models.buildGroupQueryAttentionModel({ numHeads: H, kvNumHeads: Hkv, headDim: D });
  const options: InferenceSession.SessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' };
  const profileDir = mkdtempSync(join(tmpdir(), 'attnpool-serve-ort-'));
  const plain = await ort.InferenceSession.create(bytes, options);
  const profiled = await ort.InferenceSession.create(bytes, { ...options, enableProfiling: true, profileFilePrefix: join(profileDir, 'gqa') });

  const pastKey = new Float32Array(B * Hkv * P * D), pastValue = new Float32Array(B * Hkv * P * D);
  const newKey = new Float32Array(B * Hkv * D), newValue = new Float32Array(B * Hkv * D);
  const query = new Float32Array(B * H * D);
  const seqlensK = new Int32Array(B);
  lengths.forEach((length, b) => {
    const { k, v } = initial(b);
    for (let h = 0; h < Hkv; h++) {
      const from = h * length * D, to = (b * Hkv + h) * P * D;
      pastKey.set(k.data.subarray(from, from + (length - 1) * D), to);
      pastValue.set(v.data.subarray(from, from + (length - 1) * D), to);
      newKey.set(k.data.subarray(from + (length - 1) * D, from + length * D), (b * Hkv + h) * D);
      newValue.set(v.data.subarray(from + (length - 1) * D, from + length * D), (b * Hkv + h) * D);
    }
    seqlensK[b] = length - 1;
  });
  const pastKeyTensor = new ort.Tensor('float32', pastKey, [B, Hkv, P, D]);
  const pastValueTensor = new ort.Tensor('float32', pastValue, [B, Hkv, P, D]);
  const feeds = (): Record<string, OrtTensor> => ({
    query: new ort.Tensor('float32', query, [B, 1, H * D]),
    key: new ort.Tensor('float32', newKey, [B, 1, Hkv * D]),
    value: new ort.Tensor('float32', newValue, [B, 1, Hkv * D]),
    past_key: pastKeyTensor, past_value: pastValueTensor,
    seqlens_k: new ort.Tensor('int32', seqlensK, [B]),
    total_sequence_length: new ort.Tensor('int32', Int32Array.of(Math.max(...seqlensK) + 1), []),
  });
  /** The step's row of every stream into the past, at its position seqlens_k. */
  const writeNewRows = () => {
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < Hkv; h++) {
        const at = ((b * Hkv + h) * P + seqlensK[b]!) * D, from = (b * Hkv + h) * D;
        pastKey.set(newKey.subarray(from, from + D), at);
        pastValue.set(newValue.subarray(from, from + D), at);
      }
    }
  };

  return {
    async outputOnly() {
      const out = await plain.run(feeds(), ['output']);
      writeNewRows();
      return out.output!.data as Float32Array;
    },
    async inPlace() {
      const out = await profiled.run(feeds(), { output: null, present_key: pastKeyTensor, present_value: pastValueTensor });
      return out.output!.data as Float32Array;
    },
    beginStep(rows) {
      rows.q.forEach((q, b) => query.set(q.data, b * H * D));
    },
    endStep(rows) {
      rows.k.forEach((k, b) => newKey.set(k.data, b * Hkv * D));
      rows.v.forEach((v, b) => newValue.set(v.data, b * Hkv * D));
      for (let b = 0; b < B; b++) seqlensK[b] = seqlensK[b]! + 1;
    },
    kernelTimesMs() {
      profiled.endProfiling();
      const file = readdirSync(profileDir).find((f) => f.endsWith('.json'));
      if (file === undefined) throw new Error(`onnxruntime wrote no profile into ${profileDir}`);
      const events = JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as { cat?: string; name?: string; dur?: number }[];
      return events.filter((e) => e.cat === 'Node' && e.name === NODE_KERNEL_EVENT(models.GQA_NODE_NAME)).map((e) => e.dur! / 1000);
    },
    async release() {
      await plain.release();
      await profiled.release();
      rmSync(profileDir, { recursive: true, force: true });
    },
  };
}
