// `attnpool run` end to end through the built binary: every sdpa golden case, its inputs copied to a
// temp folder, must reproduce PyTorch's float64 output within the case's suggested tolerance and its
// log-sum-exp within 1e-5 relative. Rows torch returns as NaN (every key masked) must be zeros in out
// and -Infinity in lse, as attnpool documents.

import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyInto, readNpyPlain, runCli, tempDir } from './cli-helpers.js';
import { expectLseClose, expectRelativeToMax } from './support/compare.js';
import { GOLDEN_DIR, loadGoldenCases, type SdpaCase } from './support/golden.js';

const cases = loadGoldenCases().filter((c): c is SdpaCase => c.kind === 'sdpa');
const root = tempDir('cli-run');
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('attnpool run on the golden sdpa cases', () => {
  it('covers every sdpa case', () => expect(cases.length).toBeGreaterThanOrEqual(12));

  it.concurrent.each(cases)('$name', async (c) => {
    const dir = join(root, c.name);
    const inputs = ['q', 'k', 'v', 'mask', 'bias'].filter((n) => c.files.has(`${n}.npy`));
    copyInto(dir, join(GOLDEN_DIR, c.name), inputs.map((n) => `${n}.npy`));
    const args = inputs.flatMap((n) => [`--${n}`, join(dir, `${n}.npy`)]);
    if (c.causal) args.push('--causal');
    if (c.scale !== undefined) args.push('--scale', String(c.scale));
    args.push('--out', join(dir, 'out.npy'), '--lse', join(dir, 'lse.npy'), '--threads', '2');

    const result = await runCli(['run', ...args]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/wrote .*out\.npy {2}float32 \[/);

    const out = readNpyPlain(join(dir, 'out.npy'));
    const lse = readNpyPlain(join(dir, 'lse.npy'));
    expect(out.descr).toBe('<f4');
    expect(out.shape).toEqual(c.outF64.shape);
    expect(lse.shape).toEqual(c.lse.shape);

    const [, H, Sq, Dv] = c.outF64.shape as number[];
    const nanRows = new Set(c.expectNanRows.map(([b, h, i]) => (b * H! + h) * Sq! + i));
    const finiteRow = (n: number) => !nanRows.has(Math.floor(n / Dv!));
    expectRelativeToMax(out.data, c.outF64.data, c.suggestedOutRtol, `${c.name} out`, finiteRow);
    expectLseClose(lse.data, c.lse.data, `${c.name} lse`);
    for (const row of nanRows) {
      expect([...out.data.subarray(row * Dv!, (row + 1) * Dv!)], `masked row ${row}`).toEqual(new Array(Dv).fill(0));
      expect(lse.data[row]).toBe(-Infinity);
    }
    // Nothing but the inputs and the two outputs: no temporary file left behind.
    expect(readdirSync(dir).sort()).toEqual([...inputs.map((n) => `${n}.npy`), 'lse.npy', 'out.npy'].sort());
  });
});
