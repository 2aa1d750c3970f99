// The package as a user gets it. A copy of this checkout as a clean clone has it (the files git tracks
// or would track, without dist/ or other ignored files, uncommitted edits included) is packed with
// `npm pack`, whose prepack builds it; the tarball is installed into a new project, which imports
// 'attnpool' by name, runs attention on the pool's worker threads, the wasm kernel and the remote
// engine, and runs the CLI through npx. The copy keeps this checkout's dist/ untouched while other
// suites read it. The tarball's file list must hold what runs and nothing that only tests or
// benchmarks use.

import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectMaxAbsDiff } from './support/compare.js';
import { randomTensor, Rng } from './support/random.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// Building (wasm and tsc) and installing take about 40 s on a quiet 2-core machine; several times that under load.
const SETUP_TIMEOUT_MS = 600_000;
const TIMEOUT_MS = 120_000;

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment without what an outer `npm test` sets about its own project (its prefix, package
 *  and script), which would point the inner npm commands at this checkout. The user's npm settings
 *  (npm_config_cache, _registry, …) stay. */
const OUTER_NPM_RUN = /^npm_(package_|lifecycle_|command$|execpath$|node_execpath$|config_local_prefix$)/i;
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !OUTER_NPM_RUN.test(name)));

/** Runs a command; resolves (never rejects) with its exit code and both streams. */
function run(command: string, args: readonly string[], cwd: string, timeoutMs = SETUP_TIMEOUT_MS): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: cleanEnv, timeout: timeoutMs, maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** run(), but a failure throws with the command's stderr. */
async function mustRun(command: string, args: readonly string[], cwd: string): Promise<string> {
  const result = await run(command, args, cwd);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.code}:\n${result.stderr}`);
  return result.stdout;
}

/** Copies what a clone of ROOT would hold (tracked and untracked files, not ignored ones), as they are now. */
async function copyCheckout(to: string): Promise<void> {
  const listed = await mustRun('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], ROOT);
  for (const file of listed.split('\0').filter(Boolean)) {
    if (!existsSync(join(ROOT, file))) continue; // deleted, not yet committed
    // A node_modules symlink escapes .gitignore's `node_modules/` (a directory pattern); never part of a clone.
    if (file === 'node_modules') continue;
    mkdirSync(dirname(join(to, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(to, file));
  }
}

// q, k, v [B, H, S, D], causal: 2·B·H·S·2D·S/2 = 8.4 Mflop, four times INLINE_MAX_FLOPS, so the call
// runs on the worker threads and not on the calling thread.
const B = 1, H = 4, S = 256, D = 16;
const rng = new Rng(2611);
const [q, k, v] = [0, 1, 2].map(() => randomTensor(rng, [B, H, S, D], 'float32', { shared: false }).data as Float32Array);
const inputs = { q: q!, k: k!, v: v! };

// Run in the new project: attention through every way the package starts threads, each engine's output.
const CONSUMER_SCRIPT = `
import { readFileSync } from 'node:fs';
import { AttentionPool, createRemoteEngine, tensor } from 'attnpool';
const { q, k, v } = JSON.parse(readFileSync('inputs.json', 'utf8'));
const shape = [${B}, ${H}, ${S}, ${D}];
const call = (engine) => engine.attention(tensor(shape, q), tensor(shape, k), tensor(shape, v), { causal: true });
const outputs = {};
for (const [name, open] of [
  ['wasm, 1 thread', () => new AttentionPool({ threads: 1, kernel: 'wasm' })],
  ['wasm, 2 threads', () => new AttentionPool({ threads: 2, kernel: 'wasm' })],
  ['js, 2 threads', () => new AttentionPool({ threads: 2, kernel: 'js' })],
  ['remote engine, wasm, 2 threads', () => createRemoteEngine({ threads: 2, kernel: 'wasm' })],
]) {
  const engine = await open();
  try {
    outputs[name] = { kernel: engine.kernel, data: Array.from((await call(engine)).data) };
  } finally {
    await engine.close();
  }
}
console.log(JSON.stringify({ resolved: import.meta.resolve('attnpool'), outputs }));
`;

/** softmax(q·kᵀ / √D, causal) · v in float64, head by head. */
function referenceCausalAttention(q: Float32Array, k: Float32Array, v: Float32Array): Float64Array {
  const out = new Float64Array(B * H * S * D);
  const weights = new Float64Array(S);
  for (let head = 0; head < B * H; head++) {
    const base = head * S * D;
    for (let i = 0; i < S; i++) {
      let max = -Infinity;
      for (let j = 0; j <= i; j++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[base + i * D + d] * k[base + j * D + d];
        weights[j] = dot / Math.sqrt(D);
        max = Math.max(max, weights[j]);
      }
      let sum = 0;
      for (let j = 0; j <= i; j++) sum += (weights[j] = Math.exp(weights[j] - max));
      for (let j = 0; j <= i; j++) {
        for (let d = 0; d < D; d++) out[base + i * D + d] += (weights[j] / sum) * v[base + j * D + d];
      }
    }
  }
  return out;
}

/** The relative paths a built file loads: its imports and re-exports (static and dynamic), and the
 *  files it locates with `new URL(path, import.meta.url)` (worker entries, wasm builds, package.json). */
function relativeReferences(source: string): string[] {
  const imports = source.matchAll(/(?:from\s*|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g);
  const urls = source.matchAll(/new URL\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g);
  return [...imports, ...urls].map((m) => m[1]!);
}

let work: string;
let consumer: string;
let packed: string[];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'attnpool-package-'));
  const clone = join(work, 'clone');
  await copyCheckout(clone);
  // The dependencies npm ci installed here: the build needs the dev ones (assemblyscript, typescript).
  symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'), 'junction');
  const [pack] = JSON.parse(await mustRun('npm', ['pack', '--json', '--pack-destination', work], clone)) as { filename: string }[];
  const tarball = join(work, pack!.filename);
  // The tarball's own listing, not npm's account of it.
  packed = (await mustRun('tar', ['-tzf', tarball], work)).split('\n').filter(Boolean).map((p) => p.replace(/^package\//, ''));

  consumer = join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await mustRun('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline'], consumer);
}, SETUP_TIMEOUT_MS);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('holds the entry, the workers, the CLI, both wasm builds and their shared-memory twins, and the licence', () => {
    for (const file of [
      'package.json', 'README.md', 'LICENSE', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/workers/worker.js',
      'dist/src/remote/engine-host.js', 'dist/cli/main.js', 'dist/cli/ort/ort-peer.js',
      'dist/wasm/kernels.wasm', 'dist/wasm/kernels-relaxed.wasm', 'dist/wasm/kernels-shared.wasm', 'dist/wasm/kernels-relaxed-shared.wasm',
    ]) {
      expect(packed, file).toContain(file);
    }
  });

  it('holds nothing that only tests or benchmarks use, no sources, listings or source maps', () => {
    const unwanted = packed.filter((file) =>
      /^(dist\/(bench|testkit)|test|testkit|bench|src|workers|cli|asm)\//.test(file) ||
      /fault-(worker|plan)|test-hooks|hooks-option|tsbuildinfo/.test(file) || /\.(wat|map|ts)$/.test(file.replace(/\.d\.ts$/, '')));
    expect(unwanted).toEqual([]);
    // Exactly these top-level entries: anything else is a file the whitelist let through.
    expect([...new Set(packed.map((file) => file.split('/').slice(0, file.startsWith('dist/') ? 2 : 1).join('/')))].sort())
      .toEqual(['LICENSE', 'README.md', 'dist/cli', 'dist/src', 'dist/wasm', 'dist/workers', 'package.json']);
  });

  it('every file a shipped file imports or locates is shipped too', () => {
    const shipped = new Set(packed);
    const missing: string[] = [];
    for (const file of packed.filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'))) {
      const source = readFileSync(join(consumer, 'node_modules', 'attnpool', file), 'utf8');
      for (const specifier of relativeReferences(source)) {
        const target = posix.join(posix.dirname(file), specifier);
        const candidates = file.endsWith('.d.ts') ? [target.replace(/\.js$/, '.d.ts'), target] : [target];
        if (!candidates.some((c) => shipped.has(c))) missing.push(`${file} → ${specifier}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('installed into a new project', () => {
  it("import 'attnpool' runs attention on its own worker threads and wasm builds, matching a float64 reference", async () => {
    writeFileSync(join(consumer, 'inputs.json'), JSON.stringify({ q: Array.from(inputs.q), k: Array.from(inputs.k), v: Array.from(inputs.v) }));
    writeFileSync(join(consumer, 'check.mjs'), CONSUMER_SCRIPT);
    const result = await run(process.execPath, ['check.mjs'], consumer, TIMEOUT_MS);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { resolved, outputs } = JSON.parse(result.stdout) as { resolved: string; outputs: Record<string, { kernel: string; data: number[] }> };
    // The installed copy, not this checkout.
    expect(fileURLToPath(resolved)).toBe(join(consumer, 'node_modules', 'attnpool', 'dist', 'src', 'index.js'));

    const reference = referenceCausalAttention(inputs.q, inputs.k, inputs.v);
    expect(Object.keys(outputs)).toHaveLength(4);
    for (const [name, { kernel, data }] of Object.entries(outputs)) {
      expect(kernel, name).toBe(name.includes('js') ? 'js' : 'wasm');
      // float32 arithmetic over ≤ 256 keys of O(1) values: ~1e-7 per output; a wrong mask or scale is ≥ 1e-2.
      expectMaxAbsDiff(data, reference, 2e-6, name);
    }
    expect(outputs['wasm, 2 threads']!.data, 'bit-identical whatever the thread count').toEqual(outputs['wasm, 1 thread']!.data);
  }, TIMEOUT_MS);

  it('npx attnpool --help prints the usage and exits 0', async () => {
    const result = await run('npx', ['--no', '--', 'attnpool', '--help'], consumer, TIMEOUT_MS);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^attnpool <command> \[options\]\n/);
    for (const command of ['bench', 'run', 'mha', 'stress']) expect(result.stdout).toMatch(new RegExp(`^ {2}attnpool ${command}\\b`, 'm'));
  }, TIMEOUT_MS);

  it('bench --vs ort without onnxruntime-node fails at once in one line with an install command, before measuring', async () => {
    // Measuring this configuration first would take minutes (52 calls of 2 × 8·8192²·64 flop on one
    // thread): the timeout fails the test if the check comes after any attnpool run.
    const args = ['--no', '--', 'attnpool', 'bench', '--vs', 'ort', '--seq', '8192', '--threads', '1', '--repeat', '50'];
    const result = await run('npx', args, consumer, TIMEOUT_MS / 2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('attnpool bench: onnxruntime-node and onnx-proto must be installed for --vs ort: ' +
      'ONNXRUNTIME_NODE_INSTALL=skip npm install -D -E onnxruntime-node@1.30.0 onnx-proto@8.0.1\n');
    expect(result.code).toBe(1);
  }, TIMEOUT_MS);
});
