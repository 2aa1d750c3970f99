// The "rotary" and "merge" cases of test/golden-variants (see its README.md), loaded with the same
// checks as test/golden's (size, sha256, dtype and shape of every file against case.json).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { loadNpy, type FileSpec } from './golden.js';
import type { TensorLike } from './random.js';

const DIR = fileURLToPath(new URL('../golden-variants/', import.meta.url));

interface VariantEntry {
  readonly name: string;
  readonly kind: string;
  readonly suggested_out_rtol: number;
  readonly base?: number;
  readonly interleaved?: boolean;
  readonly rotary_dim?: number | null;
  readonly offset?: number;
  readonly parts?: number;
  readonly files: Record<string, FileSpec>;
}

type Loaded = TensorLike<Float32Array | Float64Array | Uint8Array>;

function load(entry: VariantEntry): Map<string, Loaded> {
  const onDisk = JSON.parse(readFileSync(join(DIR, entry.name, 'case.json'), 'utf8')) as Omit<VariantEntry, 'name'>;
  if (!isDeepStrictEqual({ name: entry.name, ...onDisk }, entry)) {
    throw new Error(`golden-variants ${entry.name}: case.json differs from its manifest.json entry`);
  }
  return new Map(Object.entries(entry.files).map(([file, spec]) => [file, loadNpy(join(DIR, entry.name), entry.name, file, spec)]));
}

function f32(files: Map<string, Loaded>, name: string, file: string): TensorLike<Float32Array> {
  const t = files.get(file);
  if (!t || !(t.data instanceof Float32Array)) throw new Error(`golden-variants ${name}/${file}: missing or not float32`);
  return t as TensorLike<Float32Array>;
}

function f64(files: Map<string, Loaded>, name: string, file: string): TensorLike<Float64Array> {
  const t = files.get(file);
  if (!t || !(t.data instanceof Float64Array)) throw new Error(`golden-variants ${name}/${file}: missing or not float64`);
  return t as TensorLike<Float64Array>;
}

export interface RotaryCase {
  readonly name: string;
  readonly rtol: number;
  readonly base: number;
  readonly interleaved: boolean;
  readonly rotaryDim: number | undefined;
  readonly offset: number;
  readonly x: TensorLike<Float32Array>;
  readonly outF64: TensorLike<Float64Array>;
  readonly out: TensorLike<Float32Array>;
}

export interface MergeCase {
  readonly name: string;
  readonly rtol: number;
  readonly parts: readonly { readonly out: TensorLike<Float32Array>; readonly lse: TensorLike<Float32Array> }[];
  readonly outF64: TensorLike<Float64Array>;
  readonly lse: TensorLike<Float32Array>;
}

function entries(kind: string): VariantEntry[] {
  const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as { cases: VariantEntry[] };
  return manifest.cases.filter((c) => c.kind === kind);
}

export function rotaryCases(): RotaryCase[] {
  return entries('rotary').map((e) => {
    const files = load(e);
    if (files.has('positions.npy')) throw new Error(`golden-variants ${e.name}: positions.npy is not read by this loader yet`);
    return {
      name: e.name, rtol: e.suggested_out_rtol, base: e.base ?? 10000, interleaved: e.interleaved ?? false,
      rotaryDim: e.rotary_dim ?? undefined, offset: e.offset ?? 0,
      x: f32(files, e.name, 'x.npy'), outF64: f64(files, e.name, 'out.f64.npy'), out: f32(files, e.name, 'out.npy'),
    };
  });
}

export function mergeCases(): MergeCase[] {
  return entries('merge').map((e) => {
    const files = load(e);
    const parts = Array.from({ length: e.parts ?? 0 }, (_, n) => ({ out: f32(files, e.name, `part${n}_out.npy`), lse: f32(files, e.name, `part${n}_lse.npy`) }));
    return { name: e.name, rtol: e.suggested_out_rtol, parts, outF64: f64(files, e.name, 'out.f64.npy'), lse: f32(files, e.name, 'lse.npy') };
  });
}
