// onnxruntime-node on the same inputs as a bench configuration (--vs ort), through the peer in
// cli/ort. ORT's MultiHeadAttention takes heads interleaved per token ([B, S, E]), so attnpool's
// pre-split inputs are converted once, outside the timed calls, and its outputs are converted the same
// way to check that both agree before their times are compared.

import { headsToTokens } from '../ort/layout.js';
import { openOrtPeer, type OrtPeer, type OrtPeerInputs, type OrtRuntime } from '../ort/ort-peer.js';
import type { Workload } from './workload.js';

export interface OrtSide {
  run(): Promise<Float32Array>;
  /** attnpool's output in ORT's layout, to compare the two. */
  toOrtLayout(attnpoolOutput: Float32Array): Float32Array;
  release(): Promise<void>;
}

/** Why ORT cannot run this configuration, or null when it can. */
export function ortUnsupported(work: Workload): string | null {
  if (work.shape.kvHeads !== work.shape.heads) return 'onnxruntime MultiHeadAttention has no grouped-query form; skipped';
  return null;
}

/** The ORT side of a configuration at a thread count; a string says why there is none. */
export async function openOrtSide(runtime: OrtRuntime, work: Workload, threads: number): Promise<OrtSide | string> {
  const reason = ortUnsupported(work);
  if (reason !== null) return reason;
  const { batch, heads, seq, headDim, causal } = work.shape;
  const layout = { batch, heads, seq, headDim };
  const embedDim = heads * headDim;
  let peer: OrtPeer;
  let inputs: OrtPeerInputs;
  if (work.mode === 'attention') {
    peer = await openOrtPeer(runtime, { model: 'attention', numHeads: heads, embedDim, causal, threads });
    // Ordinary (not shared) arrays: the peer would otherwise copy them inside every timed call.
    inputs = {
      query: headsToTokens(work.q.data, layout), key: headsToTokens(work.k.data, layout),
      value: headsToTokens(work.v.data, layout), batch, querySeq: seq,
    };
  } else {
    const w = work.weights;
    peer = await openOrtPeer(runtime, {
      model: 'layer', numHeads: heads, embedDim, causal, threads,
      weights: {
        inProjWeight: w.inProjWeight.data.slice(), inProjBias: w.inProjBias.data.slice(),
        outProjWeight: w.outProjWeight.data.slice(), outProjBias: w.outProjBias.data.slice(),
      },
    });
    const x = work.x.data.slice();
    inputs = { query: x, key: x, value: x, batch, querySeq: seq };
  }
  return {
    run: () => peer.run(inputs),
    toOrtLayout: (out) => (work.mode === 'attention' ? headsToTokens(out, layout) : out),
    release: () => peer.release(),
  };
}
