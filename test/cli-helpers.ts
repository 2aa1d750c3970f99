// Shared by the CLI suites (test/cli-*.test.ts): run the built binary in a child process, make temp
// folders, and read and write .npy files with a reader and writer of their own (so a bug in the CLI's npy
// code cannot hide behind the same bug on the test's side).

import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MhaInputs } from './support/random.js';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node dist/cli/main.js …args`; resolves (never rejects) with the exit code and both streams. */
export function runCli(args: readonly string[], timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: timeoutMs, maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `attnpool-${label}-`));
}

/** Copies `files` from `fromDir` into `dir` (created if needed): tests never write into the golden folder. */
export function copyInto(dir: string, fromDir: string, files: readonly string[]): void {
  mkdirSync(dir, { recursive: true });
  for (const f of files) copyFileSync(join(fromDir, f), join(dir, f));
}

export interface PlainNpy {
  readonly descr: string;
  readonly shape: number[];
  readonly data: Float32Array | Float64Array;
}

/** A deliberately small .npy reader for float32/float64 files: version 1.0 header, C order. */
export function readNpyPlain(file: string): PlainNpy {
  const bytes = readFileSync(file);
  if (bytes.subarray(0, 6).toString('latin1') !== '\x93NUMPY') throw new Error(`${file}: bad magic`);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  const descr = /'descr': *'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order': *(True|False)/.exec(header)?.[1];
  const shapeText = /'shape': *\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran !== 'False' || shapeText === undefined) throw new Error(`${file}: unexpected header ${header}`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const body = bytes.subarray(10 + headerLength);
  const copy = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
  const data = descr === '<f4' ? new Float32Array(copy) : descr === '<f8' ? new Float64Array(copy) : undefined;
  if (data === undefined) throw new Error(`${file}: unexpected dtype ${descr}`);
  if (data.length !== shape.reduce((n, d) => n * d, 1)) throw new Error(`${file}: ${data.length} values for shape [${shape}]`);
  return { descr, shape, data };
}

/** The header dict numpy.save writes for these fields. */
export function numpyDict(descr: string, shape: readonly number[], fortran = false): string {
  return `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
}

/** `dict` padded with spaces and ended by '\n' as numpy pads it: magic, length and header fill a multiple of 64 bytes. */
export function numpyPadded(dict: string, major: 1 | 2 | 3 = 1): string {
  const preamble = major === 1 ? 10 : 12;
  return dict.padEnd(Math.ceil((preamble + dict.length + 1) / 64) * 64 - preamble - 1) + '\n';
}

/** A .npy file with exactly this header text (no padding added) in format version `major`
 *  (1: uint16 length, latin1; 2: uint32 length, latin1; 3: uint32 length, utf-8). */
export function rawNpy(header: string, data: Uint8Array, major: 1 | 2 | 3 = 1): Buffer {
  const text = Buffer.from(header, major === 3 ? 'utf8' : 'latin1');
  const head = Buffer.alloc(major === 1 ? 10 : 12);
  Buffer.from('\x93NUMPY', 'latin1').copy(head);
  head[6] = major;
  if (major === 1) head.writeUInt16LE(text.length, 8);
  else head.writeUInt32LE(text.length, 8);
  return Buffer.concat([head, text, data]);
}

/** A version 1.0 .npy file with the given header fields and data bytes, padded as numpy pads it. */
export function npy(descr: string, shape: readonly number[], data: Uint8Array, fortran = false): Buffer {
  return rawNpy(numpyPadded(numpyDict(descr, shape, fortran)), data);
}

/** Writes a float32/float64 tensor as a version 1.0 .npy file, C order. */
export function writeNpyPlain(file: string, t: { readonly data: Float32Array | Float64Array; readonly shape: readonly number[] }): void {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  writeFileSync(file, npy(t.data instanceof Float64Array ? '<f8' : '<f4', t.shape, bytes));
}

type FloatTensor = { readonly data: Float32Array | Float64Array; readonly shape: readonly number[] };

/** A case folder for `attnpool mha`: query/key/value (each passed through `layout`, e.g. into [S, B, E]),
 *  the padding mask [B, Sk], and layer/ with the four weights under PyTorch's names. */
export function writeMhaCase(dir: string, inputs: MhaInputs, layout: (t: FloatTensor) => FloatTensor = (t) => t): string {
  mkdirSync(join(dir, 'layer'), { recursive: true });
  writeNpyPlain(join(dir, 'query.npy'), layout(inputs.query));
  writeNpyPlain(join(dir, 'key.npy'), layout(inputs.key));
  writeNpyPlain(join(dir, 'value.npy'), layout(inputs.value));
  const padding = inputs.keyPaddingMask!;
  writeFileSync(join(dir, 'key_padding_mask.npy'), npy('|u1', padding.shape, padding.data));
  const w = inputs.weights;
  writeNpyPlain(join(dir, 'layer', 'in_proj_weight.npy'), w.inProjWeight);
  writeNpyPlain(join(dir, 'layer', 'in_proj_bias.npy'), w.inProjBias!);
  writeNpyPlain(join(dir, 'layer', 'out_proj_weight.npy'), w.outProjWeight);
  writeNpyPlain(join(dir, 'layer', 'out_proj_bias.npy'), w.outProjBias!);
  return dir;
}
