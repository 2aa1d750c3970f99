/**
 * ONNX models for the onnxruntime peer, built in code (no .onnx files in the repo).
 *
 * Both models take `query` [B, Sq, E], `key` and `value` [B, Sk, E] with heads interleaved per
 * token (element (s, h, d) at s·E + h·D + d) and give `output` [B, Sq, E]. B, Sq and Sk are
 * symbolic, so one session serves every batch size and sequence length.
 *
 * - {@link buildAttentionCoreModel}: one com.microsoft `MultiHeadAttention` node — the attention
 *   core, softmax(q·kᵀ / √D) · v per head, optionally causal (`unidirectional = 1`).
 * - {@link buildAttentionLayerModel}: `torch.nn.MultiheadAttention` (batch_first) with its weights
 *   baked in as initializers: MatMul + Add in-projections → `MultiHeadAttention` → MatMul + Add
 *   out-projection. The fused com.microsoft `Attention` op would also fit, but it only does
 *   self-attention and materialises every score even without a mask, while `MultiHeadAttention`
 *   takes ORT's flash path; MatMul + Add gives PyTorch's `y = x·Wᵀ + b` for self- and cross-attention.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Names of the graph inputs and output, shared by both models. */
export const MODEL_INPUTS = ['query', 'key', 'value'] as const;
export const MODEL_OUTPUT = 'output';

/** What both models need to know: heads and embedding width (E = heads · D). */
export interface AttentionModelSpec {
  readonly numHeads: number;
  readonly embedDim: number;
  /** Query i sees key j iff j <= i (ORT `unidirectional = 1`; Sq = Sk in this use). */
  readonly causal: boolean;
}

/** PyTorch `nn.MultiheadAttention` parameters; W is stored [out, in] and y = x·Wᵀ + b. */
export interface LayerWeights {
  /** [3E, E]: rows [0, E) are Wq, [E, 2E) Wk, [2E, 3E) Wv. */
  readonly inProjWeight: Float32Array;
  /** [3E] */
  readonly inProjBias?: Float32Array;
  /** [E, E] */
  readonly outProjWeight: Float32Array;
  /** [E] */
  readonly outProjBias?: Float32Array;
}

export interface AttentionLayerModelSpec extends AttentionModelSpec {
  readonly weights: LayerWeights;
}

// ai.onnx opset 17 / IR 8 is what onnx-proto 8 (onnx 1.10.2 schema) describes; ORT 1.30 loads it.
export const IR_VERSION = 8;
export const DEFAULT_OPSET = 17;
export const MICROSOFT_DOMAIN = 'com.microsoft';

/** Serialized model: one `MultiHeadAttention` node between the inputs and the output. */
export function buildAttentionCoreModel(spec: AttentionModelSpec): Uint8Array {
  checkSpec(spec);
  const [query, key, value] = MODEL_INPUTS;
  return encodeModel('attnpool-peer-attention-core', spec.embedDim, [], [
    multiHeadAttentionNode(spec, [query, key, value], MODEL_OUTPUT),
  ]);
}

/** Serialized model: projections around `MultiHeadAttention`, weights stored as initializers. */
export function buildAttentionLayerModel(spec: AttentionLayerModelSpec): Uint8Array {
  checkSpec(spec);
  const e = spec.embedDim;
  const w = spec.weights;
  checkLength('weights.inProjWeight', w.inProjWeight, 3 * e * e);
  checkLength('weights.outProjWeight', w.outProjWeight, e * e);
  if (w.inProjBias) checkLength('weights.inProjBias', w.inProjBias, 3 * e);
  if (w.outProjBias) checkLength('weights.outProjBias', w.outProjBias, e);

  const parts: GraphParts = { initializers: [], nodes: [] };
  const projected = ['q', 'k', 'v'] as const;
  MODEL_INPUTS.forEach((input, part) => {
    // Rows [part·E, (part+1)·E) of in_proj_weight and entries of in_proj_bias belong to q, k, v.
    const weight = w.inProjWeight.subarray(part * e * e, (part + 1) * e * e);
    const bias = w.inProjBias?.subarray(part * e, (part + 1) * e);
    appendLinear(parts, `${input}_proj`, input, projected[part], weight, bias, e);
  });
  parts.nodes.push(multiHeadAttentionNode(spec, projected, 'attention'));
  appendLinear(parts, 'out_proj', 'attention', MODEL_OUTPUT, w.outProjWeight, w.outProjBias, e);
  return encodeModel('attnpool-peer-attention-layer', e, parts.initializers, parts.nodes);
}

function multiHeadAttentionNode(
  spec: AttentionModelSpec,
  inputs: readonly [string, string, string],
  output: string,
): InstanceType<typeof onnx.NodeProto> {
  const attribute = [intAttribute('num_heads', spec.numHeads)];
  if (spec.causal) attribute.push(intAttribute('unidirectional', 1));
  return onnx.NodeProto.create({
    name: 'mha',
    opType: 'MultiHeadAttention',
    domain: MICROSOFT_DOMAIN,
    input: [...inputs],
    output: [output],
    attribute,
  });
}

interface GraphParts {
  readonly initializers: InstanceType<typeof onnx.TensorProto>[];
  readonly nodes: InstanceType<typeof onnx.NodeProto>[];
}

/**
 * Appends `y = x·Wᵀ + b` (W given [out, in] = [E, E]). MatMul wants B = Wᵀ [in, out], so the
 * initializer holds the transpose (a constant B is what ORT pre-packs for its GEMM).
 */
function appendLinear(
  parts: GraphParts,
  prefix: string,
  x: string,
  y: string,
  weight: Float32Array,
  bias: Float32Array | undefined,
  e: number,
): void {
  const weightName = `${prefix}_weight_t`;
  const product = bias ? `${prefix}_matmul` : y;
  parts.initializers.push(floatInitializer(weightName, [e, e], transposeSquare(weight, e)));
  parts.nodes.push(onnx.NodeProto.create({ opType: 'MatMul', input: [x, weightName], output: [product] }));
  if (!bias) return;
  parts.initializers.push(floatInitializer(`${prefix}_bias`, [e], bias));
  parts.nodes.push(onnx.NodeProto.create({ opType: 'Add', input: [product, `${prefix}_bias`], output: [y] }));
}

function encodeModel(
  graphName: string,
  embedDim: number,
  initializer: InstanceType<typeof onnx.TensorProto>[],
  node: InstanceType<typeof onnx.NodeProto>[],
): Uint8Array {
  const [query, key, value] = MODEL_INPUTS;
  const graph = onnx.GraphProto.create({
    name: graphName,
    node,
    initializer,
    input: [
      tokensValueInfo(query, 'query_seq', embedDim),
      tokensValueInfo(key, 'key_seq', embedDim),
      tokensValueInfo(value, 'key_seq', embedDim),
    ],
    output: [tokensValueInfo(MODEL_OUTPUT, 'query_seq', embedDim)],
  });
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'attnpool-bench',
    opsetImport: [
      { domain: '', version: DEFAULT_OPSET },
      { domain: MICROSOFT_DOMAIN, version: 1 },
    ],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/** float32 [batch, seqName, embedDim] with symbolic batch and sequence dimensions. */
function tokensValueInfo(name: string, seqName: string, embedDim: number): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: 'batch' }, { dimParam: seqName }, { dimValue: embedDim }] },
      },
    },
  });
}

function floatInitializer(name: string, dims: number[], values: Float32Array): InstanceType<typeof onnx.TensorProto> {
  // rawData is little-endian IEEE 754, which is how Float32Array stores it on every Node target.
  const rawData = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData });
}

export function intAttribute(name: string, i: number): InstanceType<typeof onnx.AttributeProto> {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
}

function transposeSquare(m: Float32Array, n: number): Float32Array {
  const t = new Float32Array(n * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) t[c * n + r] = m[r * n + c];
  return t;
}

function checkSpec(spec: AttentionModelSpec): void {
  const { numHeads, embedDim } = spec;
  if (!Number.isInteger(numHeads) || numHeads < 1) {
    throw new RangeError(`onnx model: numHeads must be a positive integer, got ${numHeads}`);
  }
  if (!Number.isInteger(embedDim) || embedDim < 1 || embedDim % numHeads !== 0) {
    throw new RangeError(`onnx model: embedDim must be a positive multiple of numHeads (${numHeads}), got ${embedDim}`);
  }
}

function checkLength(name: string, values: Float32Array, expected: number): void {
  if (values.length !== expected) {
    throw new RangeError(`onnx model: ${name} must hold ${expected} values, got ${values.length}`);
  }
}
