// A failed command never costs the user a file: outputs are written to temporary files beside their
// targets and renamed into place only when all are complete; when one target cannot be replaced, the
// ones already replaced get their old contents back. A successful command replaces existing files
// completely, keeps their permission bits, and writes through symbolic links.

import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpyPlain, runCli, tempDir } from './cli-helpers.js';
import { expectLseClose, expectRelativeToMax } from './support/compare.js';
import { GOLDEN_DIR, loadGoldenCases, type SdpaCase } from './support/golden.js';

const root = tempDir('cli-output-files');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TINY = join(GOLDEN_DIR, 'sdpa-tiny');
const MHA = join(GOLDEN_DIR, 'mha-self'); // E = 32, 4 heads
const tiny = loadGoldenCases().find((c): c is SdpaCase => c.name === 'sdpa-tiny')!;
const USER_BYTES = Buffer.from('results the user had before this command\n');

function caseDir(name: string, files: readonly string[], from = TINY): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const f of files) copyFileSync(join(from, f), join(dir, f));
  return dir;
}

const runArgs = (dir: string, out: string, extra: string[] = []) =>
  ['run', '--q', join(dir, 'q.npy'), '--k', join(dir, 'k.npy'), '--v', join(dir, 'v.npy'), '--out', out, ...extra];

function expectOneLine(result: { code: number; stdout: string; stderr: string }, command: string, file: string, says: RegExp): void {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr.split('\n'), result.stderr).toHaveLength(2);
  expect(result.stderr.startsWith(`attnpool ${command}: ${file}: `), result.stderr).toBe(true);
  expect(result.stderr).toMatch(says);
}

describe('a failed command keeps the files the user had', () => {
  it.concurrent('run --out results.npy --lse <a directory>: results.npy keeps its bytes, nothing is left behind', async () => {
    const dir = caseDir('run-lse-directory', ['q.npy', 'k.npy', 'v.npy']);
    writeFileSync(join(dir, 'results.npy'), USER_BYTES);
    mkdirSync(join(dir, 'lse-folder'));
    const result = await runCli(runArgs(dir, join(dir, 'results.npy'), ['--lse', join(dir, 'lse-folder')]));
    expectOneLine(result, 'run', join(dir, 'lse-folder'), /is a directory, not a regular file/);
    expect(readFileSync(join(dir, 'results.npy'))).toEqual(USER_BYTES);
    expect(readdirSync(dir).sort()).toEqual(['k.npy', 'lse-folder', 'q.npy', 'results.npy', 'v.npy']);
    expect(readdirSync(join(dir, 'lse-folder'))).toEqual([]);
  });

  it.concurrent('mha --out y.npy --weights-out <a directory>: y.npy keeps its bytes', async () => {
    const dir = caseDir('mha-weights-out-directory', ['query.npy'], MHA);
    const layer = join(dir, 'layer');
    mkdirSync(layer);
    for (const f of ['in_proj_weight.npy', 'in_proj_bias.npy', 'out_proj_weight.npy', 'out_proj_bias.npy']) copyFileSync(join(MHA, f), join(layer, f));
    writeFileSync(join(dir, 'y.npy'), USER_BYTES);
    mkdirSync(join(dir, 'w-folder'));
    const result = await runCli(['mha', '--query', join(dir, 'query.npy'), '--weights', layer, '--num-heads', '4',
      '--out', join(dir, 'y.npy'), '--weights-out', join(dir, 'w-folder')]);
    expectOneLine(result, 'mha', join(dir, 'w-folder'), /is a directory, not a regular file/);
    expect(readFileSync(join(dir, 'y.npy'))).toEqual(USER_BYTES);
    expect(readdirSync(dir).sort()).toEqual(['layer', 'query.npy', 'w-folder', 'y.npy']);
  });

  it.concurrent('run --out <a FIFO>: refused, the FIFO stays a FIFO', async () => {
    const dir = caseDir('run-out-fifo', ['q.npy', 'k.npy', 'v.npy']);
    const fifo = join(dir, 'out.npy');
    execFileSync('mkfifo', [fifo]);
    const result = await runCli(runArgs(dir, fifo), 20_000);
    expectOneLine(result, 'run', fifo, /is a FIFO \(named pipe\), not a regular file/);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['k.npy', 'out.npy', 'q.npy', 'v.npy']);
  });
});

describe('a successful command replaces its outputs completely', () => {
  it.concurrent('existing --out and --lse files: replaced by the results, permission bits kept, no temporary files', async () => {
    const dir = caseDir('run-replace', ['q.npy', 'k.npy', 'v.npy']);
    writeFileSync(join(dir, 'out.npy'), USER_BYTES);
    writeFileSync(join(dir, 'lse.npy'), Buffer.alloc(4096, 7)); // longer than the new file: nothing of it may remain
    chmodSync(join(dir, 'out.npy'), 0o600);
    const result = await runCli(runArgs(dir, join(dir, 'out.npy'), ['--lse', join(dir, 'lse.npy')]));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expectRelativeToMax(readNpyPlain(join(dir, 'out.npy')).data, tiny.outF64.data, tiny.suggestedOutRtol, 'out');
    expectLseClose(readNpyPlain(join(dir, 'lse.npy')).data, tiny.lse.data, 'lse');
    expect(statSync(join(dir, 'out.npy')).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['k.npy', 'lse.npy', 'out.npy', 'q.npy', 'v.npy']);
  });

  it.concurrent('--out through a symbolic link: the link stays, the file it points to gets the result', async () => {
    const dir = caseDir('run-symlink', ['q.npy', 'k.npy', 'v.npy']);
    mkdirSync(join(dir, 'store'));
    writeFileSync(join(dir, 'store', 'real.npy'), USER_BYTES);
    symlinkSync(join('store', 'real.npy'), join(dir, 'link.npy'));
    const result = await runCli(runArgs(dir, join(dir, 'link.npy')));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(readlinkSync(join(dir, 'link.npy'))).toBe(join('store', 'real.npy'));
    expectRelativeToMax(readNpyPlain(join(dir, 'store', 'real.npy')).data, tiny.outF64.data, tiny.suggestedOutRtol, 'out');
    expect(readdirSync(join(dir, 'store'))).toEqual(['real.npy']);
  });
});
