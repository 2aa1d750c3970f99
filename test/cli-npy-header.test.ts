// The header of a .npy file is a Python dict literal that numpy reads with ast.literal_eval and then
// checks: exactly the keys 'descr', 'fortran_order' and 'shape', a bool, a tuple of ints, at most 10000
// characters. attnpool must read every header numpy writes as numpy does, and refuse (exit 1, one line
// naming the file) every header that numpy would refuse or could read differently: duplicate keys, a
// 'shape' inside another value, trailing text, wrong types. The q file of the sdpa-tiny golden case is
// rewritten here with each header; its data bytes stay the same.

import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { numpyDict, numpyPadded, rawNpy, readNpyPlain, runCli, tempDir } from './cli-helpers.js';
import { expectRelativeToMax } from './support/compare.js';
import { GOLDEN_DIR, loadGoldenCases, type SdpaCase } from './support/golden.js';

const root = tempDir('cli-npy-header');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TINY = join(GOLDEN_DIR, 'sdpa-tiny'); // q, k, v: float32 [1, 1, 4, 3]
const tiny = loadGoldenCases().find((c): c is SdpaCase => c.name === 'sdpa-tiny')!;
const qData = new Uint8Array(tiny.q.data.buffer, tiny.q.data.byteOffset, tiny.q.data.byteLength);
const SHAPE = "'shape': (1, 1, 4, 3)";

function caseDir(name: string, q: Buffer): string {
  const dir = join(root, name.replace(/\W+/g, '-'));
  mkdirSync(dir, { recursive: true });
  for (const f of ['k.npy', 'v.npy']) copyFileSync(join(TINY, f), join(dir, f));
  writeFileSync(join(dir, 'q.npy'), q);
  return dir;
}

const runArgs = (dir: string) =>
  ['run', '--q', join(dir, 'q.npy'), '--k', join(dir, 'k.npy'), '--v', join(dir, 'v.npy'), '--out', join(dir, 'out.npy')];

/** Headers numpy reads as float32 [1, 1, 4, 3], C order: each must give the golden output. */
const ACCEPTED: readonly { kind: string; file: Buffer }[] = [
  { kind: 'version 1.0 as numpy.save writes it', file: rawNpy(numpyPadded(numpyDict('<f4', [1, 1, 4, 3])), qData, 1) },
  { kind: 'version 2.0 (uint32 header length)', file: rawNpy(numpyPadded(numpyDict('<f4', [1, 1, 4, 3]), 2), qData, 2) },
  { kind: 'version 3.0 (utf-8 header)', file: rawNpy(numpyPadded(numpyDict('<f4', [1, 1, 4, 3]), 3), qData, 3) },
  { kind: 'compact, no padding, no newline', file: rawNpy(`{'descr':'<f4','fortran_order':False,'shape':(1,1,4,3)}`, qData) },
  { kind: 'keys in another order, double quotes, tabs and newlines',
    file: rawNpy(`{"shape":\t(1, 1, 4, 3,),\n 'descr': "<f4",\n 'fortran_order': False}\n`, qData) },
  { kind: 'a header of exactly 10000 characters (numpy\'s limit)',
    file: rawNpy(numpyDict('<f4', [1, 1, 4, 3]).padEnd(9999) + '\n', qData) },
];

/** Headers numpy refuses, or would read as another array than a first-match reader does. */
const REFUSED: readonly { kind: string; header: string; message: RegExp }[] = [
  { kind: "two 'shape' keys", header: `{'descr': '<f4', 'fortran_order': False, ${SHAPE}, 'shape': (1, 1, 2, 6), }`,
    message: /malformed header: duplicate key 'shape'/ },
  { kind: "a 'shape' hidden inside another key's string",
    header: `{'descr': '<f4', 'note': "${SHAPE}", 'fortran_order': False, 'shape': (2, 6), }`,
    message: /header keys must be exactly 'descr', 'fortran_order' and 'shape' \(as numpy requires\), got 'descr', 'note', 'fortran_order', 'shape'/ },
  { kind: "no 'fortran_order'", header: `{'descr': '<f4', ${SHAPE}, }`,
    message: /header keys must be exactly 'descr', 'fortran_order' and 'shape' \(as numpy requires\), got 'descr', 'shape'$/m },
  { kind: 'text after the dict', header: `{'descr': '<f4', 'fortran_order': False, ${SHAPE}, } x`,
    message: /malformed header: unexpected "x" after the dict at character \d+/ },
  { kind: 'fortran_order 0 instead of False', header: `{'descr': '<f4', 'fortran_order': 0, ${SHAPE}, }`,
    message: /malformed header: expected a string, True, False or a tuple of integers at character \d+, got "0"/ },
  { kind: 'a parenthesized integer is not a tuple', header: `{'descr': '<f4', 'fortran_order': False, 'shape': (12), }`,
    message: /malformed header: \(12\) is not a tuple .*\(12,\)/ },
  { kind: 'a shape given as a list', header: `{'descr': '<f4', 'fortran_order': False, 'shape': [1, 1, 4, 3], }`,
    message: /malformed header: expected a string, True, False or a tuple of integers at character \d+, got "\["/ },
  { kind: 'a negative dimension', header: `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, -4, 3), }`,
    message: /malformed header: expected a non-negative integer at character \d+, got "-"/ },
  { kind: "'descr' that is not a string", header: `{'descr': True, 'fortran_order': False, ${SHAPE}, }`,
    message: /'descr' must be a string, got True/ },
  { kind: "'shape' that is not a tuple", header: `{'descr': '<f4', 'fortran_order': False, 'shape': 'big', }`,
    message: /'shape' must be a tuple of non-negative integers, got 'big'/ },
  { kind: 'an unterminated string', header: `{'descr': '<f4`, message: /malformed header: unterminated string at character 10/ },
  { kind: 'a missing comma', header: `{'descr': '<f4' 'fortran_order': False, ${SHAPE}, }`,
    message: /malformed header: expected ',' or '\}' at character 16, got "'"/ },
  { kind: 'not a dict', header: `('<f4', False, (1, 1, 4, 3))`, message: /malformed header: expected '\{' at character 0/ },
  { kind: 'a header of 10001 characters', header: numpyDict('<f4', [1, 1, 4, 3]).padEnd(10000) + '\n',
    message: /header of 10001 characters is longer than numpy's limit of 10000 \(max_header_size\)/ },
];

function expectOneLineFailure(result: { code: number; stdout: string; stderr: string }, file: string, message: RegExp): void {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr.split('\n'), result.stderr).toHaveLength(2);
  expect(result.stderr.startsWith(`attnpool run: ${file}: `), result.stderr).toBe(true);
  expect(result.stderr).toMatch(message);
}

describe('.npy headers numpy writes', () => {
  it.concurrent.each(ACCEPTED)('$kind: read as float32 [1, 1, 4, 3]', async ({ kind, file }) => {
    const dir = caseDir(`ok ${kind}`, file);
    const result = await runCli(runArgs(dir));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const out = readNpyPlain(join(dir, 'out.npy'));
    expect(out.shape).toEqual([1, 1, 4, 3]);
    expectRelativeToMax(out.data, tiny.outF64.data, tiny.suggestedOutRtol, kind);
  });
});

describe('.npy headers that must be refused', () => {
  it.concurrent.each(REFUSED)('$kind: exit 1, one line naming the file', async ({ kind, header, message }) => {
    const dir = caseDir(`bad ${kind}`, rawNpy(header, qData));
    expectOneLineFailure(await runCli(runArgs(dir)), join(dir, 'q.npy'), message);
    expect(readdirSync(dir).sort()).toEqual(['k.npy', 'q.npy', 'v.npy']);
  });

  it.concurrent('a 430 KiB crafted header is refused at once, not parsed for seconds', async () => {
    // Many "'shape': (" with no closing parenthesis until the end made a first-match regex quadratic.
    const header = `{'descr': '<f4', 'fortran_order': False, 'x': "${"'shape': (".repeat(44_000)}", ${SHAPE}, }\n`;
    const dir = caseDir('huge header', rawNpy(header, qData, 2));
    const started = performance.now();
    const result = await runCli(runArgs(dir));
    expectOneLineFailure(result, join(dir, 'q.npy'), new RegExp(`header of ${header.length} characters is longer than numpy's limit of 10000`));
    expect(performance.now() - started).toBeLessThan(15_000);
  });

  it.concurrent('a header declaring more bytes than the file holds stays a truncated header', async () => {
    const file = rawNpy(numpyPadded(numpyDict('<f4', [1, 1, 4, 3]), 2), qData, 2);
    file.writeUInt32LE(0xffff_fff0, 8);
    const dir = caseDir('declared too long', file);
    expectOneLineFailure(await runCli(runArgs(dir)), join(dir, 'q.npy'), /truncated header \(it declares 4294967280 bytes/);
    expect(readFileSync(join(dir, 'q.npy'))).toEqual(file);
  });
});
