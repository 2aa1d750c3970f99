// Malformed and mismatched .npy files: each kind must end the command with exit code 1 and one line on
// stderr that names the file and the problem, and must leave no output file (nor a temporary one)
// behind. The bad files are built here byte by byte from a valid golden input.

import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { npy, runCli, tempDir } from './cli-helpers.js';
import { GOLDEN_DIR } from './support/golden.js';

const root = tempDir('cli-npy-errors');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TINY = join(GOLDEN_DIR, 'sdpa-tiny'); // q, k, v: float32 [1, 1, 4, 3]
const goodQ = readFileSync(join(TINY, 'q.npy'));

const f32Bytes = (n: number) => new Uint8Array(new Float32Array(n).fill(0.5).buffer);

/** Each case: the bad q file's bytes, and what the one-line message must say. */
const BAD_Q: readonly { kind: string; bytes: Buffer; message: RegExp }[] = [
  { kind: 'bad magic', bytes: Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), goodQ.subarray(4)]), message: /not a \.npy file \(bad magic/ },
  { kind: 'empty file', bytes: Buffer.alloc(0), message: /empty file/ },
  { kind: 'truncated header', bytes: goodQ.subarray(0, 40), message: /truncated header/ },
  { kind: 'unsupported dtype (int32)', bytes: npy('<i4', [1, 1, 4, 3], f32Bytes(12)), message: /unsupported dtype '<i4'/ },
  { kind: 'unsupported dtype (big-endian)', bytes: npy('>f4', [1, 1, 4, 3], f32Bytes(12)), message: /unsupported dtype '>f4' \(big-endian\)/ },
  { kind: 'Fortran order', bytes: npy('<f4', [1, 1, 4, 3], f32Bytes(12), true), message: /Fortran-order array is not supported/ },
  { kind: 'truncated data', bytes: goodQ.subarray(0, goodQ.length - 5), message: /truncated data: shape \[1, 1, 4, 3\] of float32 needs 48 bytes, the file holds 43/ },
  { kind: 'trailing bytes', bytes: Buffer.concat([goodQ, Buffer.alloc(4)]), message: /4 unexpected bytes after the data/ },
  { kind: 'malformed header', bytes: npy('<f4', [1, 1, 4, 3], f32Bytes(12)).fill(0x20, 10, 30), message: /malformed header/ },
  { kind: 'a mask dtype where floats belong', bytes: npy('|b1', [1, 1, 4, 3], new Uint8Array(12)), message: /dtype '\|b1' is not a float dtype/ },
];

function caseDir(name: string): string {
  const dir = join(root, name.replace(/\W+/g, '-'));
  mkdirSync(dir, { recursive: true });
  for (const f of ['q.npy', 'k.npy', 'v.npy']) copyFileSync(join(TINY, f), join(dir, f));
  return dir;
}

const runArgs = (dir: string, extra: string[] = []) =>
  ['run', '--q', join(dir, 'q.npy'), '--k', join(dir, 'k.npy'), '--v', join(dir, 'v.npy'), '--out', join(dir, 'out.npy'), ...extra];

/** Exit 1, exactly one line on stderr naming `file` and matching `message`, nothing on stdout. */
function expectFileFailure(result: { code: number; stdout: string; stderr: string }, file: string, message: RegExp): void {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr.endsWith('\n') && result.stderr.split('\n').length === 2, `one line: ${result.stderr}`).toBe(true);
  // The files come first: "attnpool run: <file>[, <other file>]: <problem>".
  const rest = result.stderr.replace(/^attnpool (?:run|mha): /, '');
  expect(rest.startsWith(`${file}: `) || rest.startsWith(`${file}, `), result.stderr).toBe(true);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe('malformed .npy inputs', () => {
  it.concurrent.each(BAD_Q)('$kind: exit 1, a one-line message naming the file, no output', async ({ kind, bytes, message }) => {
    const dir = caseDir(kind);
    writeFileSync(join(dir, 'q.npy'), bytes);
    const result = await runCli(runArgs(dir, ['--lse', join(dir, 'lse.npy')]));
    expectFileFailure(result, join(dir, 'q.npy'), message);
    expect(readdirSync(dir).sort()).toEqual(['k.npy', 'q.npy', 'v.npy']);
  });

  it.concurrent('a shape mismatch: exit 1, both files named, the one at fault first', async () => {
    const dir = caseDir('shape-mismatch');
    writeFileSync(join(dir, 'q.npy'), npy('<f4', [1, 1, 4, 2], f32Bytes(8)));
    const result = await runCli(runArgs(dir));
    expectFileFailure(result, join(dir, 'k.npy'), /attention: k\.shape\[3\] \(D\) must be equal to q\.shape\[3\] \(D\) = 2, got 3/);
    expect(result.stderr).toContain(`${join(dir, 'k.npy')}, ${join(dir, 'q.npy')}: `);
    expect(readdirSync(dir).sort()).toEqual(['k.npy', 'q.npy', 'v.npy']);
  });

  it.concurrent('a missing file: exit 1, named, no output', async () => {
    const dir = caseDir('missing');
    rmSync(join(dir, 'v.npy'));
    expectFileFailure(await runCli(runArgs(dir)), join(dir, 'v.npy'), /no such file or directory/);
    expect(readdirSync(dir).sort()).toEqual(['k.npy', 'q.npy']);
  });

  it.concurrent('a float mask: exit 1, named as a wrong mask dtype', async () => {
    const dir = caseDir('float-mask');
    writeFileSync(join(dir, 'm.npy'), npy('<f4', [4, 4], f32Bytes(16)));
    expectFileFailure(await runCli(runArgs(dir, ['--mask', join(dir, 'm.npy')])), join(dir, 'm.npy'), /dtype '<f4' is not a mask dtype/);
    expect(readdirSync(dir)).not.toContain('out.npy');
  });

  it.concurrent('a mask that does not broadcast: exit 1, the mask file named', async () => {
    const dir = caseDir('mask-shape');
    writeFileSync(join(dir, 'm.npy'), npy('|b1', [4, 5], new Uint8Array(20).fill(1)));
    expectFileFailure(await runCli(runArgs(dir, ['--mask', join(dir, 'm.npy')])), join(dir, 'm.npy'), /mask\.shape must be broadcastable/);
    expect(readdirSync(dir)).not.toContain('out.npy');
  });

  it.concurrent('outputs are all or nothing: an unwritable --lse leaves no --out either', async () => {
    const dir = caseDir('unwritable-lse');
    const lse = join(dir, 'no-such-folder', 'lse.npy');
    expectFileFailure(await runCli(runArgs(dir, ['--lse', lse])), lse, /cannot write: folder .* does not exist/);
    expect(readdirSync(dir).sort()).toEqual(['k.npy', 'q.npy', 'v.npy']);
  });

  it.concurrent('mha: a malformed weight file is named by its path in the weights folder', async () => {
    const dir = caseDir('mha-weights');
    const golden = join(GOLDEN_DIR, 'mha-self');
    mkdirSync(join(dir, 'layer'));
    copyFileSync(join(golden, 'query.npy'), join(dir, 'x.npy'));
    for (const f of ['in_proj_bias.npy', 'out_proj_weight.npy', 'out_proj_bias.npy']) copyFileSync(join(golden, f), join(dir, 'layer', f));
    const weight = readFileSync(join(golden, 'in_proj_weight.npy'));
    writeFileSync(join(dir, 'layer', 'in_proj_weight.npy'), weight.subarray(0, weight.length - 4));
    const result = await runCli(['mha', '--query', join(dir, 'x.npy'), '--weights', join(dir, 'layer'), '--num-heads', '4', '--out', join(dir, 'y.npy')]);
    expectFileFailure(result, join(dir, 'layer', 'in_proj_weight.npy'), /truncated data/);
    expect(readdirSync(dir)).not.toContain('y.npy');
  });

  it.concurrent('mha: a weight of the wrong shape is named by its file', async () => {
    const dir = caseDir('mha-weight-shape');
    const golden = join(GOLDEN_DIR, 'mha-self'); // E = 32
    mkdirSync(join(dir, 'layer'));
    copyFileSync(join(golden, 'query.npy'), join(dir, 'x.npy'));
    for (const f of ['in_proj_weight.npy', 'in_proj_bias.npy', 'out_proj_bias.npy']) copyFileSync(join(golden, f), join(dir, 'layer', f));
    writeFileSync(join(dir, 'layer', 'out_proj_weight.npy'), npy('<f4', [32, 16], f32Bytes(32 * 16)));
    const result = await runCli(['mha', '--query', join(dir, 'x.npy'), '--weights', join(dir, 'layer'), '--num-heads', '4', '--out', join(dir, 'y.npy')]);
    expectFileFailure(result, join(dir, 'layer', 'out_proj_weight.npy'), /outProjWeight/);
    expect(readdirSync(dir)).not.toContain('y.npy');
  });
});
