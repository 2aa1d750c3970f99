// Shared by the CLI suites (test/cli-*.test.ts): run the built binary in a child process, make temp
// folders, and read the .npy files it writes with a reader of its own (so a bug in the CLI's npy code
// cannot hide behind the same bug on the reading side).

import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
