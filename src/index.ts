// attnpool — parallel, bit-exact multi-head attention for Node.js on worker threads.

export { AttentionPool } from './pool/attention-pool.js';
export { COALESCE_MAX_FLOPS, INLINE_MAX_FLOPS } from './pool/call-admission.js';
export type { AttentionPoolOptions, KernelChoice } from './pool/pool-options.js';
export type { AttentionOptions } from './validate/attention-args.js';
export type { CausalOption } from './validate/variant-args.js';
export { alibiSlopes } from './alibi-slopes.js';
export type { AttentionRequest, BatchOptions, BatchRequestOptions } from './validate/batch-args.js';
export type { RotaryOptions, RotarySettings } from './validate/rotary-args.js';
export { mergeAttention, type AttentionPart } from './merge-attention.js';
export type { KvCache } from './kv-cache.js';
export type { KvCacheDType, KvCacheOptions } from './validate/kv-cache-args.js';
export type { PagedKvCache, PagedSequence, PagedKvCacheOptions, PagedDType } from './paged/index.js';
export type { MultiHeadAttentionOptions, MultiHeadAttentionWeights, NeedWeights } from './validate/mha-args.js';
export type { MultiHeadAttentionResult } from './ops/mha-op.js';
export { tensor, zeros, type Tensor, type Shape, type DType, type FloatArray, type TensorData } from './tensor.js';
export { AbortError, PoolClosedError, QueueFullError, WorkerFailedError } from './errors.js';
export type { KernelName } from '../workers/kernels/jobs.js';
export type { WasmBuildChoice, WasmVariant } from '../workers/kernels/wasm/index.js';
export { createRemoteEngine, type RemoteEngine } from './remote/remote-engine.js';
