// Loads the golden vectors in test/golden (see its README.md and ORIGIN.md): every case listed in manifest.json,
// every .npy file of each case, each checked against its case.json entry (size, sha256, dtype, shape)
// before use, so a truncated or swapped file fails loudly instead of making a test pass by accident.
// The folder is a copy of the project's shared cases kept in the repository; ATTNPOOL_GOLDEN_DIR overrides it
// (e.g. to try a newer set of cases before copying it in).

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { parse } from 'npyjs';
import { product, type TensorLike } from './random.js';

export const GOLDEN_DIR = process.env.ATTNPOOL_GOLDEN_DIR ?? fileURLToPath(new URL('../golden/', import.meta.url));

export interface FileSpec {
  readonly shape: number[];
  readonly dtype: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** The fields of case.json the tests use (README: "Common case.json fields"). */
interface CaseJson {
  readonly name: string;
  readonly kind: 'sdpa' | 'mha';
  readonly causal: boolean;
  readonly num_heads: number;
  readonly expect_nan_rows: number[][];
  readonly suggested_out_rtol: number;
  readonly scale?: number | null;
  readonly num_kv_heads?: number;
  readonly embed_dim?: number;
  readonly self_attention?: boolean;
  readonly files: Record<string, FileSpec>;
}

interface CaseCommon {
  readonly name: string;
  readonly causal: boolean;
  readonly numHeads: number;
  readonly suggestedOutRtol: number;
  /** Every .npy file of the case, by file name (for the loader checks). */
  readonly files: ReadonlyMap<string, TensorLike<Float32Array | Float64Array | Uint8Array>>;
}

export interface SdpaCase extends CaseCommon {
  readonly kind: 'sdpa';
  /** undefined = the default 1 / sqrt(D). */
  readonly scale: number | undefined;
  readonly numKvHeads: number;
  /** [b, h, i] rows that torch returns as NaN (attnpool: zeros, lse −Infinity). */
  readonly expectNanRows: ReadonlyArray<readonly [number, number, number]>;
  readonly q: TensorLike<Float32Array>;
  readonly k: TensorLike<Float32Array>;
  readonly v: TensorLike<Float32Array>;
  readonly mask?: TensorLike<Uint8Array>;
  readonly bias?: TensorLike<Float32Array>;
  readonly outF64: TensorLike<Float64Array>;
  readonly lse: TensorLike<Float32Array>;
}

export interface MhaCase extends CaseCommon {
  readonly kind: 'mha';
  readonly embedDim: number;
  readonly selfAttention: boolean;
  /** [b, i] rows that torch returns as NaN (attnpool: output row = outProjBias, weights row zeros). */
  readonly expectNanRows: ReadonlyArray<readonly [number, number]>;
  readonly query: TensorLike<Float32Array>;
  readonly key: TensorLike<Float32Array>;
  readonly value: TensorLike<Float32Array>;
  readonly inProjWeight: TensorLike<Float32Array>;
  readonly inProjBias: TensorLike<Float32Array>;
  readonly outProjWeight: TensorLike<Float32Array>;
  readonly outProjBias: TensorLike<Float32Array>;
  readonly keyPaddingMask?: TensorLike<Uint8Array>;
  readonly outF64: TensorLike<Float64Array>;
  readonly attnWeights: TensorLike<Float32Array>;
  readonly attnWeightsAvg: TensorLike<Float32Array>;
}

export type GoldenCase = SdpaCase | MhaCase;

function fail(where: string, what: string): never {
  throw new Error(`golden ${where}: ${what}`);
}

/** Parses one .npy file with npyjs and checks it against its case.json entry. */
export function loadNpy(dir: string, caseName: string, file: string, spec: FileSpec): TensorLike<Float32Array | Float64Array | Uint8Array> {
  const where = `${caseName}/${file}`;
  const bytes = readFileSync(join(dir, file));
  if (bytes.byteLength !== spec.bytes) fail(where, `${bytes.byteLength} bytes, case.json says ${spec.bytes}`);
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== spec.sha256) fail(where, `sha256 ${sha}, case.json says ${spec.sha256}`);

  // A fresh ArrayBuffer: Node's Buffer may be a slice of a shared pool, and npyjs views the whole buffer.
  const parsed = parse(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  // npyjs drops the byte-order character ('<' or '|'); both mean "as stored" on this little-endian host.
  if (!['<', '|'].includes(spec.dtype[0]) || spec.dtype.slice(1) !== parsed.dtype) fail(where, `dtype ${parsed.dtype}, case.json says ${spec.dtype}`);
  if (parsed.fortranOrder) fail(where, 'stored in Fortran order');
  if (!isDeepStrictEqual(parsed.shape, spec.shape)) fail(where, `shape [${parsed.shape}], case.json says [${spec.shape}]`);

  const raw: unknown = parsed.data;
  let data: Float32Array | Float64Array | Uint8Array;
  if (parsed.dtype === 'f4' && raw instanceof Float32Array) data = raw;
  else if (parsed.dtype === 'f8' && raw instanceof Float64Array) data = raw;
  else if (parsed.dtype === 'b1' && Array.isArray(raw)) data = Uint8Array.from(raw as boolean[], (x) => (x ? 1 : 0)); // npyjs gives booleans
  else fail(where, `unexpected dtype ${parsed.dtype}`);
  if (data.length !== product(spec.shape)) fail(where, `${data.length} elements for shape [${spec.shape}]`);
  return { data, shape: spec.shape };
}

function typed<A extends Float32Array | Float64Array | Uint8Array>(
  files: ReadonlyMap<string, TensorLike<Float32Array | Float64Array | Uint8Array>>,
  caseName: string,
  file: string,
  Ctor: new (n: number) => A,
): TensorLike<A> {
  const t = files.get(file) ?? fail(`${caseName}/${file}`, 'missing');
  if (!(t.data instanceof Ctor)) fail(`${caseName}/${file}`, `expected ${Ctor.name}`);
  return t as TensorLike<A>;
}

function optional<A extends Float32Array | Float64Array | Uint8Array>(
  files: ReadonlyMap<string, TensorLike<Float32Array | Float64Array | Uint8Array>>,
  caseName: string,
  file: string,
  Ctor: new (n: number) => A,
): TensorLike<A> | undefined {
  return files.has(file) ? typed(files, caseName, file, Ctor) : undefined;
}

function loadCase(entry: CaseJson): GoldenCase {
  const dir = join(GOLDEN_DIR, entry.name);
  // case.json holds the manifest entry's metadata without the name (the folder is the name).
  const caseJson = { name: entry.name, ...JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) } as CaseJson;
  if (!isDeepStrictEqual(caseJson, entry)) fail(entry.name, 'case.json differs from its manifest.json entry');
  const onDisk = readdirSync(dir).filter((f) => f.endsWith('.npy')).sort();
  if (!isDeepStrictEqual(onDisk, Object.keys(caseJson.files).sort())) fail(entry.name, `case.json lists [${Object.keys(caseJson.files)}], folder has [${onDisk}]`);

  const files = new Map(Object.entries(caseJson.files).map(([file, spec]) => [file, loadNpy(dir, entry.name, file, spec)] as const));
  const f32 = (file: string): TensorLike<Float32Array> => typed(files, entry.name, file, Float32Array);
  const common = {
    name: caseJson.name,
    causal: caseJson.causal,
    numHeads: caseJson.num_heads,
    suggestedOutRtol: caseJson.suggested_out_rtol,
    files,
    outF64: typed(files, entry.name, 'out.f64.npy', Float64Array),
  };
  if (caseJson.kind === 'sdpa') {
    return {
      ...common,
      kind: 'sdpa',
      scale: caseJson.scale ?? undefined,
      numKvHeads: caseJson.num_kv_heads ?? fail(entry.name, 'num_kv_heads missing'),
      expectNanRows: caseJson.expect_nan_rows.map(([b, h, i]) => [b, h, i] as const),
      q: f32('q.npy'),
      k: f32('k.npy'),
      v: f32('v.npy'),
      mask: optional(files, entry.name, 'mask.npy', Uint8Array),
      bias: optional(files, entry.name, 'bias.npy', Float32Array),
      lse: f32('lse.npy'),
    };
  }
  if (caseJson.kind !== 'mha') fail(entry.name, `unknown kind ${String(caseJson.kind)}`);
  return {
    ...common,
    kind: 'mha',
    embedDim: caseJson.embed_dim ?? fail(entry.name, 'embed_dim missing'),
    selfAttention: caseJson.self_attention ?? fail(entry.name, 'self_attention missing'),
    expectNanRows: caseJson.expect_nan_rows.map(([b, i]) => [b, i] as const),
    query: f32('query.npy'),
    key: f32('key.npy'),
    value: f32('value.npy'),
    inProjWeight: f32('in_proj_weight.npy'),
    inProjBias: f32('in_proj_bias.npy'),
    outProjWeight: f32('out_proj_weight.npy'),
    outProjBias: f32('out_proj_bias.npy'),
    keyPaddingMask: optional(files, entry.name, 'key_padding_mask.npy', Uint8Array),
    attnWeights: f32('attn_weights.npy'),
    attnWeightsAvg: f32('attn_weights_avg.npy'),
  };
}

/** The manifest's case entries, in its order. */
export function manifestEntries(): readonly CaseJson[] {
  const manifest = JSON.parse(readFileSync(join(GOLDEN_DIR, 'manifest.json'), 'utf8')) as { cases: CaseJson[] };
  return manifest.cases;
}

/** Every case of the manifest, loaded and checked. Synchronous, so test files can list cases at collection time. */
export function loadGoldenCases(): GoldenCase[] {
  return manifestEntries().map(loadCase);
}
