// Loads cases of test/golden-variants (see its README.md) that the window-cache suite reads: every .npy
// file of a case checked against its case.json entry (size, sha256, dtype, shape) by golden.ts's
// loader, and case.json checked against the manifest's entry.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { loadNpy, type FileSpec } from './golden.js';
import type { TensorLike } from './random.js';

export const GOLDEN_VARIANTS_DIR = fileURLToPath(new URL('../golden-variants/', import.meta.url));

export interface VariantCase {
  /** case.json's fields, as in the manifest. */
  readonly fields: Readonly<Record<string, unknown>>;
  readonly f32: (file: string) => TensorLike<Float32Array>;
  readonly f64: (file: string) => TensorLike<Float64Array>;
  /** A bool file, as 0/1 bytes. */
  readonly u8: (file: string) => TensorLike<Uint8Array>;
}

export function loadVariantCase(name: string): VariantCase {
  const manifest = JSON.parse(readFileSync(join(GOLDEN_VARIANTS_DIR, 'manifest.json'), 'utf8')) as { cases: { name: string }[] };
  const entry = manifest.cases.find((c) => c.name === name);
  if (!entry) throw new Error(`golden-variants: no case ${name} in manifest.json`);
  const dir = join(GOLDEN_VARIANTS_DIR, name);
  const fields = { name, ...JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) } as Record<string, unknown>;
  if (!isDeepStrictEqual(fields, entry)) throw new Error(`golden-variants ${name}: case.json differs from its manifest.json entry`);
  const specs = fields.files as Record<string, FileSpec>;
  const file = (f: string) => {
    const spec = specs[f];
    if (!spec) throw new Error(`golden-variants ${name}: no file ${f}`);
    return loadNpy(dir, name, f, spec);
  };
  return {
    fields,
    f32: (f) => {
      const t = file(f);
      if (!(t.data instanceof Float32Array)) throw new Error(`golden-variants ${name}/${f}: expected float32`);
      return t as TensorLike<Float32Array>;
    },
    f64: (f) => {
      const t = file(f);
      if (!(t.data instanceof Float64Array)) throw new Error(`golden-variants ${name}/${f}: expected float64`);
      return t as TensorLike<Float64Array>;
    },
    u8: (f) => {
      const t = file(f);
      if (!(t.data instanceof Uint8Array)) throw new Error(`golden-variants ${name}/${f}: expected bool`);
      return t as TensorLike<Uint8Array>;
    },
  };
}
