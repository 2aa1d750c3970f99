/**
 * The decode model of the serving benchmark's onnxruntime peer, built in code: one com.microsoft
 * `GroupQueryAttention` node (onnxruntime's contrib op for grouped-query decoding over a K/V cache).
 *
 * Inputs, as the op defines them (docs/ContribOperators.md of onnxruntime):
 * - `query` [B, 1, H·D], `key` and `value` [B, 1, Hkv·D]: this step's rows, heads interleaved per token;
 * - `past_key`, `past_value` [B, Hkv, P, D] (BNSH, the only past layout the op takes), every sequence
 *   right-padded to the buffer's length P;
 * - `seqlens_k` int32 [B]: each sequence's total length (past + this step) − 1, i.e. its past length;
 * - `total_sequence_length` int32 scalar: the longest total length in the batch.
 * Outputs: `output` [B, 1, H·D], `present_key`, `present_value` [B, Hkv, max(P, total), D]. The op
 * writes the present in place only when present and past are the same buffer; otherwise it copies each
 * sequence's past into the present first (see cli/bench/serve/ort-gqa.ts for what that costs).
 */
import onnxProto from 'onnx-proto';
import { DEFAULT_OPSET, intAttribute, IR_VERSION, MICROSOFT_DOMAIN } from './onnx-models.js';

const { onnx } = onnxProto;

export const GQA_INPUTS = ['query', 'key', 'value', 'past_key', 'past_value', 'seqlens_k', 'total_sequence_length'] as const;
export const GQA_OUTPUTS = ['output', 'present_key', 'present_value'] as const;
/** The node's name: its profiler events are named after it (`gqa_kernel_time`). */
export const GQA_NODE_NAME = 'gqa';

export interface GqaModelSpec {
  readonly numHeads: number;
  readonly kvNumHeads: number;
  /** A multiple of 8 (the op refuses others). */
  readonly headDim: number;
}

export function buildGroupQueryAttentionModel({ numHeads, kvNumHeads, headDim }: GqaModelSpec): Uint8Array {
  for (const [name, n] of [['numHeads', numHeads], ['kvNumHeads', kvNumHeads], ['headDim', headDim]] as const) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`gqa model: ${name} must be a positive integer, got ${n}`);
  }
  if (numHeads % kvNumHeads !== 0) throw new RangeError(`gqa model: kvNumHeads (${kvNumHeads}) must divide numHeads (${numHeads})`);
  if (headDim % 8 !== 0) throw new RangeError(`gqa model: headDim must be a multiple of 8 for GroupQueryAttention, got ${headDim}`);
  const F = onnx.TensorProto.DataType.FLOAT, I32 = onnx.TensorProto.DataType.INT32;
  const dim = (d: number | string) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d });
  const info = (name: string, elemType: number, dims: (number | string)[]) =>
    onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim: dims.map(dim) } } } });
  const [query, key, value, pastKey, pastValue, seqlensK, total] = GQA_INPUTS;
  const [output, presentKey, presentValue] = GQA_OUTPUTS;
  const graph = onnx.GraphProto.create({
    name: 'attnpool-peer-gqa-decode',
    node: [onnx.NodeProto.create({
      name: GQA_NODE_NAME, opType: 'GroupQueryAttention', domain: MICROSOFT_DOMAIN,
      input: [...GQA_INPUTS], output: [...GQA_OUTPUTS],
      attribute: [intAttribute('num_heads', numHeads), intAttribute('kv_num_heads', kvNumHeads)],
    })],
    input: [
      info(query, F, ['batch', 1, numHeads * headDim]),
      info(key, F, ['batch', 1, kvNumHeads * headDim]),
      info(value, F, ['batch', 1, kvNumHeads * headDim]),
      info(pastKey, F, ['batch', kvNumHeads, 'past', headDim]),
      info(pastValue, F, ['batch', kvNumHeads, 'past', headDim]),
      info(seqlensK, I32, ['batch']),
      info(total, I32, []),
    ],
    output: [
      info(output, F, ['batch', 1, numHeads * headDim]),
      info(presentKey, F, ['batch', kvNumHeads, 'present', headDim]),
      info(presentValue, F, ['batch', kvNumHeads, 'present', headDim]),
    ],
  });
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION, producerName: 'attnpool-bench',
    opsetImport: [{ domain: '', version: DEFAULT_OPSET }, { domain: MICROSOFT_DOMAIN, version: 1 }],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}
