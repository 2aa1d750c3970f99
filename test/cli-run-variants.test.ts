// `attnpool run` with the attention variants, end to end through the built binary: every sdpa-variant
// golden case (--causal top-left|bottom-right, --window, --softcap, --alibi slopes.npy, --sinks, --mask;
// the reduced-precision cases over their decoded k_stored / v_stored) within the case's tolerance and
// lse within 1e-5; --alibi auto gives the paper's slopes; bad values end with exit code 2 (usage) or 1
// (the library refused a file), one line on stderr, and no output file.

import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyInto, readNpyPlain, runCli, tempDir } from './cli-helpers.js';
import { expectRelativeToMax } from './support/compare.js';
import { GOLDEN_VARIANTS_DIR, loadVariantCase } from './support/golden-ring.js';

const NAMES = ['var-topleft-causal', 'var-topleft-tall', 'var-softcap', 'var-alibi-causal', 'var-sinks', 'var-sinks-masked-row',
  'var-kv-f16', 'var-kv-int8', 'var-window-sinks'];
const root = tempDir('cli-run-variants');
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The case's files in a folder of its own, and the run arguments its case.json asks for. */
function argsFor(name: string, dir: string, alibi?: 'auto'): string[] {
  const c = loadVariantCase(name);
  const f = c.fields as Record<string, unknown>;
  const files = f.files as Record<string, unknown>;
  const stored = f.kv_dtype !== null;
  const inputs: [string, string][] = [['q', 'q.npy'], ['k', stored ? 'k_stored.npy' : 'k.npy'], ['v', stored ? 'v_stored.npy' : 'v.npy']];
  if ('mask.npy' in files) inputs.push(['mask', 'mask.npy']);
  if ('sinks.npy' in files) inputs.push(['sinks', 'sinks.npy']);
  if ('alibi_slopes.npy' in files && alibi !== 'auto') inputs.push(['alibi', 'alibi_slopes.npy']);
  copyInto(dir, join(GOLDEN_VARIANTS_DIR, name), inputs.map(([, file]) => file));
  const args = inputs.flatMap(([flag, file]) => [`--${flag}`, join(dir, file)]);
  if (alibi === 'auto') args.push('--alibi', 'auto');
  if (f.causal !== null) args.push('--causal', f.causal as string);
  if (f.window !== null) args.push('--window', String(f.window));
  if (f.softcap !== null) args.push('--softcap', String(f.softcap));
  if (f.scale !== null) args.push('--scale', String(f.scale));
  return [...args, '--out', join(dir, 'out.npy'), '--lse', join(dir, 'lse.npy'), '--threads', '2'];
}

function expectGolden(name: string, dir: string): void {
  const c = loadVariantCase(name);
  const out = readNpyPlain(join(dir, 'out.npy')), lse = readNpyPlain(join(dir, 'lse.npy'));
  expectRelativeToMax(out.data, c.f64('out.f64.npy').data, c.fields.suggested_out_rtol as number, `${name} out`);
  const expectedLse = c.f32('lse.npy').data;
  for (let n = 0; n < expectedLse.length; n++) {
    if (expectedLse[n] === -Infinity) expect(lse.data[n]).toBe(-Infinity);
    else expect(Math.abs(lse.data[n]! - expectedLse[n]!), `${name} lse[${n}]`).toBeLessThanOrEqual(1e-5);
  }
}

describe('attnpool run with the variants', () => {
  it.concurrent.each(NAMES)('%s', async (name) => {
    const dir = join(root, name);
    const result = await runCli(['run', ...argsFor(name, dir)]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expectGolden(name, dir);
  });

  it('--alibi auto: the paper\'s slopes for q\'s head count', async () => {
    const dir = join(root, 'alibi-auto');
    const result = await runCli(['run', ...argsFor('var-alibi-causal', dir, 'auto')]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/causal alibi: /);
    expectGolden('var-alibi-causal', dir);
  });

  it.each([
    ['--causal sideways', ['--causal', 'sideways'], 2, /--causal must be top-left, bottom-right, true or false.*got "sideways"/],
    ['--softcap abc', ['--softcap', 'abc'], 2, /--softcap must be a finite number, got "abc"/],
    ['--softcap 0', ['--softcap', '0'], 1, /options\.softcap must be a finite number > 0, got 0/],
    ['--sinks of the wrong length', ['--sinks', 'WRONG'], 1, /three\.npy.*options\.sinks\.shape\[0\] must be equal to H \(q\.shape\[1\]\) = 2, got 3/],
    ['--alibi of the wrong length', ['--alibi', 'WRONG'], 1, /three\.npy.*options\.alibiSlopes\.shape\[0\] must be equal to H/],
  ] as const)('%s: exits with its code, one line, no output', async (_label, extra, code, message) => {
    const dir = join(root, `bad-${code}-${extra[0].slice(2)}-${extra[1]}`);
    copyInto(dir, join(GOLDEN_VARIANTS_DIR, 'var-sinks-masked-row'), ['q.npy', 'k.npy', 'v.npy']);
    const wrong = join(dir, 'three.npy'); // a float32 [3] file: q has H = 2 heads
    writeThreeFloats(wrong);
    const args = extra.map((a) => (a === 'WRONG' ? wrong : a));
    const result = await runCli(['run', '--q', join(dir, 'q.npy'), '--k', join(dir, 'k.npy'), '--v', join(dir, 'v.npy'), ...args, '--out', join(dir, 'out.npy')]);
    expect(result.code).toBe(code);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
    expect(existsSync(join(dir, 'out.npy'))).toBe(false);
  });
});

/** A float32 .npy of shape [3] (format 1.0, header padded to 64 bytes). */
function writeThreeFloats(file: string): void {
  const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  const padded = header + ' '.repeat(128 - 10 - header.length - 1) + '\n';
  const head = Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0]), Buffer.from(Uint16Array.of(padded.length).buffer), Buffer.from(padded)]);
  writeFileSync(file, Buffer.concat([head, Buffer.from(Float32Array.of(0.1, 0.2, 0.3).buffer)]));
}
