// Input paths must name regular files: /dev/zero would be read without end, a FIFO would block the
// command until some writer came, a directory is no tensor. Each is refused with exit 1 and one line
// naming the path, before anything is read from it.

import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from './cli-helpers.js';
import { GOLDEN_DIR } from './support/golden.js';

const root = tempDir('cli-input-files');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TINY = join(GOLDEN_DIR, 'sdpa-tiny');
const MHA = join(GOLDEN_DIR, 'mha-self'); // E = 32, 4 heads

function caseDir(name: string, files: readonly string[], from = TINY): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const f of files) copyFileSync(join(from, f), join(dir, f));
  return dir;
}

/** Each kind of path that is not a regular file, made in `dir`, and the words that must name it. */
const NOT_REGULAR: readonly { kind: string; make: (dir: string) => string; says: string }[] = [
  { kind: 'a character device (/dev/zero)', make: () => '/dev/zero', says: 'is a character device, not a regular file' },
  { kind: 'a FIFO', make: (dir) => { execFileSync('mkfifo', [join(dir, 'fifo.npy')]); return join(dir, 'fifo.npy'); },
    says: 'is a FIFO (named pipe), not a regular file' },
  { kind: 'a directory', make: (dir) => { mkdirSync(join(dir, 'folder.npy')); return join(dir, 'folder.npy'); },
    says: 'is a directory, not a regular file' },
];

function expectRefused(result: { code: number; stdout: string; stderr: string }, command: string, path: string, says: string): void {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr).toBe(`attnpool ${command}: ${path}: ${says}\n`);
}

describe('inputs that are not regular files', () => {
  it.concurrent.each(NOT_REGULAR)('run --q $kind: exit 1 at once, one line naming it', async ({ kind, make, says }) => {
    const dir = caseDir(`run-${kind.replace(/\W+/g, '-')}`, ['k.npy', 'v.npy']);
    const q = make(dir);
    const before = readdirSync(dir).sort();
    // A FIFO opened for reading would block until the timeout: 20 s is far more than a refusal needs.
    const result = await runCli(['run', '--q', q, '--k', join(dir, 'k.npy'), '--v', join(dir, 'v.npy'), '--out', join(dir, 'out.npy')], 20_000);
    expectRefused(result, 'run', q, says);
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it.concurrent.each(NOT_REGULAR)('mha, a weight file that is $kind: exit 1, one line naming it', async ({ kind, make, says }) => {
    const dir = caseDir(`mha-${kind.replace(/\W+/g, '-')}`, ['query.npy'], MHA);
    const layer = join(dir, 'layer');
    mkdirSync(layer);
    for (const f of ['in_proj_weight.npy', 'out_proj_weight.npy', 'out_proj_bias.npy']) copyFileSync(join(MHA, f), join(layer, f));
    // The weights folder holds only weight names: the bias is a symbolic link to the odd file beside it.
    const made = make(dir);
    const bias = join(layer, 'in_proj_bias.npy');
    execFileSync('ln', ['-s', made, bias]);
    const result = await runCli(['mha', '--query', join(dir, 'query.npy'), '--weights', layer, '--num-heads', '4', '--out', join(dir, 'y.npy')], 20_000);
    expectRefused(result, 'mha', bias, says);
    expect(readdirSync(dir)).not.toContain('y.npy');
  });
});
