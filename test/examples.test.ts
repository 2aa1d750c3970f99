// Every script in examples/ (found by readdir, so a new one is covered at once) runs as a child process
// of the current node against the built package, resolved by its own name ('attnpool', the package's
// self-reference through package.json "exports"). Each must exit 0, write nothing to stderr, and print
// exactly its expected `ok:` lines, each an independent check inside the example: the measured
// max |Δ| against a plain-JS float64 reference, under the bound pinned here (so an example cannot pass
// by loosening its own bound).

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const EXAMPLES_DIR = fileURLToPath(new URL('../examples/', import.meta.url));

/** The `ok:` lines of each example, in order: [label, bound on max |Δ|]. */
const EXPECTED_CHECKS: Readonly<Record<string, ReadonlyArray<readonly [string, number]>>> = {
  'quick-start.mjs': [['attention out', 1e-5], ['attention lse', 1e-5], ['layer output', 1e-5], ['layer attnWeights', 1e-5]],
  'float64.mjs': [['float64 out', 1e-12], ['float64 lse', 1e-12], ['float32 out', 1e-5]],
  'kv-cache-decode.mjs': [
    ['prefill, 12 tokens', 1e-5],
    ...[12, 13, 14, 15].map((t) => [`decode step at position ${t}, cache.length ${t + 1}`, 1e-5] as const),
  ],
  'serving-loop.mjs': [
    ['system prompt prefill', 1e-5],
    ...[[5, 12], [17, 9], [3, 20], [30, 6], [11, 15], [8, 11]].map(([prompt, count], n) =>
      [`request ${n}: ${prompt}-token prompt, ${count} tokens generated`, 1e-5] as const),
  ],
};

const OK_LINE = /^ok: (.+): max \|Δ\| vs reference (\S+) < (\S+)$/;

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function runExample(file: string): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(EXAMPLES_DIR, file)], { cwd: EXAMPLES_DIR, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

const examples = readdirSync(EXAMPLES_DIR, { withFileTypes: true })
  .filter((entry) => entry.isFile() && entry.name.endsWith('.mjs'))
  .map((entry) => entry.name)
  .sort();

/** The lines of `text` strictly between the first two lines that start with `marker`. */
function between(text: string, marker: (line: string) => boolean): string {
  const lines = text.split('\n');
  const first = lines.findIndex(marker);
  const second = lines.findIndex((line, i) => i > first && marker(line));
  if (first < 0 || second < 0) throw new Error('markers not found');
  return lines.slice(first + 1, second).join('\n');
}

describe('examples/', () => {
  it("the README's first code block under 'Using the library' is quick-start.mjs's part between its ✂ lines", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Using the library'));
    const block = between(section, (line) => line.startsWith('```'));
    const example = between(readFileSync(join(EXAMPLES_DIR, 'quick-start.mjs'), 'utf8'), (line) => line.startsWith('// ✂'));
    expect(block).toBe(example);
  });

  it('holds the examples the README points to', () => {
    expect(examples).toEqual(expect.arrayContaining(['quick-start.mjs', 'float64.mjs', 'kv-cache-decode.mjs', 'serving-loop.mjs']));
  });

  it.each(examples)('%s runs cleanly and prints its checks, each within its bound', async (file) => {
    const { code, stdout, stderr } = await runExample(file);
    expect(stderr, 'stderr').toBe('');
    expect(code, 'exit code').toBe(0);
    const okLines = stdout.split('\n').filter((line) => line.startsWith('ok:'));
    const expected = EXPECTED_CHECKS[file];
    if (expected === undefined) throw new Error(`EXPECTED_CHECKS has no entry for examples/${file}: list the ok lines it prints`);
    expect(okLines.map((line) => OK_LINE.exec(line)?.[1]), 'the ok lines, in order').toEqual(expected.map(([label]) => label));
    okLines.forEach((line, n) => {
      const [, label, measured, bound] = OK_LINE.exec(line) ?? [];
      expect(Number(bound), `${label}: bound`).toBe(expected[n][1]);
      expect(Number(measured) < expected[n][1], `${label}: measured ${measured}`).toBe(true);
    });
  });
});
