/**
 * onnxruntime-node as the peer attnpool is measured against: one InferenceSession on a model
 * built in code (./onnx-models.ts), fed and read as plain Float32Arrays in ORT's interleaved
 * [B, S, E] layout (see ./layout.ts to convert from attnpool's [B, H, S, D]).
 *
 * Used by the CLI (`attnpool bench --vs ort`) and by the benchmarks. onnxruntime-node and onnx-proto
 * are devDependencies, not installed with the package, so both are imported lazily: when either is
 * missing, {@link loadOrtRuntime} resolves to null and the caller reports {@link ORT_PEER_MISSING}.
 */
import type { AttentionLayerModelSpec, AttentionModelSpec } from './onnx-models.js';

type OrtModule = typeof import('onnxruntime-node');
type OnnxModelsModule = typeof import('./onnx-models.js');

// The install command works offline from npm's cache: the variable stops onnxruntime-node's
// postinstall from downloading CUDA libraries (which npm < 11.19 runs; 11.19+ skips unapproved scripts).
export const ORT_PEER_MISSING = 'onnxruntime-node and onnx-proto must be installed for --vs ort: ' +
  'ONNXRUNTIME_NODE_INSTALL=skip npm install -D -E onnxruntime-node@1.30.0 onnx-proto@8.0.1';

/** Which model to run, its shape, and how many threads ORT may use. */
export type OrtPeerConfig =
  | ({ readonly model: 'attention' } & AttentionModelSpec & OrtThreads)
  | ({ readonly model: 'layer' } & AttentionLayerModelSpec & OrtThreads);

interface OrtThreads {
  /** ORT `intraOpNumThreads`; set equal to attnpool's `threads` for a fair comparison. */
  readonly threads: number;
}

/**
 * Inputs in ORT layout: query [batch, querySeq, E], key and value [batch, keySeq, E].
 * onnxruntime-node rejects SharedArrayBuffer-backed arrays ("Invalid argument"), so those are
 * copied once per call; pass ordinary Float32Arrays to keep copies out of a timed run.
 */
export interface OrtPeerInputs {
  readonly query: Float32Array;
  readonly key: Float32Array;
  readonly value: Float32Array;
  readonly batch: number;
  readonly querySeq: number;
  /** Defaults to querySeq (self-attention). */
  readonly keySeq?: number;
}

export interface OrtPeer {
  readonly config: OrtPeerConfig;
  /** Runs the model once; resolves to output [batch, querySeq, E]. */
  run(inputs: OrtPeerInputs): Promise<Float32Array>;
  /** Frees the native session; the peer cannot run afterwards. */
  release(): Promise<void>;
}

/** onnxruntime-node and the model builders (which need onnx-proto), once both are loaded. */
export interface OrtRuntime {
  readonly ort: OrtModule;
  readonly models: OnnxModelsModule;
}

/** Loads onnxruntime-node and onnx-proto, or resolves to null when either is not installed. */
export async function loadOrtRuntime(): Promise<OrtRuntime | null> {
  const ort = await importOptional<OrtModule>('onnxruntime-node');
  const onnxProto = await importOptional('onnx-proto');
  if (!ort || !onnxProto) return null;
  // Imported only now that onnx-proto is known to load: a failure here is a broken build, not a
  // missing package, and must not be reported as one.
  return { ort, models: await import('./onnx-models.js') };
}

/** Creates the session, or resolves to null when onnxruntime-node or onnx-proto is not installed. */
export async function loadOrtPeer(config: OrtPeerConfig): Promise<OrtPeer | null> {
  const runtime = await loadOrtRuntime();
  return runtime && openOrtPeer(runtime, config);
}

/** Creates the session on a loaded runtime. */
export async function openOrtPeer({ ort, models }: OrtRuntime, config: OrtPeerConfig): Promise<OrtPeer> {
  if (!Number.isInteger(config.threads) || config.threads < 1) {
    throw new RangeError(`openOrtPeer: config.threads must be a positive integer, got ${config.threads}`);
  }
  const bytes =
    config.model === 'layer' ? models.buildAttentionLayerModel(config) : models.buildAttentionCoreModel(config);
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: config.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const [queryName, keyName, valueName] = models.MODEL_INPUTS;
  const embed = config.embedDim;

  return {
    config,
    async run({ query, key, value, batch, querySeq, keySeq = querySeq }) {
      const input = (name: string, data: Float32Array, seq: number) => {
        const dims = [batch, seq, embed];
        return new ort.Tensor('float32', asOrtInput(name, data, dims), dims);
      };
      const result = await session.run({
        [queryName]: input('query', query, querySeq),
        [keyName]: input('key', key, keySeq),
        [valueName]: input('value', value, keySeq),
      });
      return result[models.MODEL_OUTPUT]!.data as Float32Array;
    },
    release: () => session.release(),
  };
}

function asOrtInput(name: string, data: Float32Array, shape: readonly number[]): Float32Array {
  const expected = shape.reduce((a, b) => a * b, 1);
  if (data.length !== expected) {
    const dims = shape.join(', ');
    throw new RangeError(`ortPeer.run: ${name} must hold [${dims}] = ${expected} values, got ${data.length}`);
  }
  return data.buffer instanceof SharedArrayBuffer ? data.slice() : data;
}

/** import(), but null when the module or a package it imports is not installed. */
async function importOptional<T = unknown>(specifier: string): Promise<T | null> {
  try {
    return (await import(specifier)) as T;
  } catch (error) {
    if (isModuleNotFound(error)) return null;
    throw error;
  }
}

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}
