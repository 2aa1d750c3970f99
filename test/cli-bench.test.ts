// `attnpool bench` end to end on tiny configurations: --json parses and carries the documented fields
// with consistent numbers; --vs ort adds onnxruntime rows that agree with attnpool; the text output has one table per configuration; with stderr not a
// terminal there is no progress bar; --wasm-build pins the wasm kernel's build.

import { describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';

const TINY = ['--seq', '16,24', '--heads', '2', '--head-dim', '8', '--threads', '1,2', '--repeat', '2', '--warmup', '1'];

// The CLI runs in a child started without V8 flags: its 'auto' build is relaxed-simd from Node 22 on
// (relaxed SIMD on by default), simd on Node 20 (which needs --experimental-wasm-relaxed-simd for it).
const RELAXED_BY_DEFAULT = Number(process.versions.node.split('.')[0]) >= 22;
const AUTO_BUILD = RELAXED_BY_DEFAULT ? 'relaxed-simd' : 'simd';

interface Run {
  impl: string; threads: number; medianMs: number; minMs: number; maxMs: number; gflops: number;
  speedup: number | null; efficiency: number | null; peakRssBytes: number; bitIdentical?: boolean;
}

describe('attnpool bench', () => {
  it.concurrent('--json: one document with the documented fields', async () => {
    const result = await runCli(['bench', ...TINY, '--causal', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout) as {
      command: string; machine: Record<string, unknown>; settings: Record<string, unknown>;
      configurations: { shape: Record<string, unknown>; kernel: string; wasmVariant: string | null; gflopPerCall: number; runs: Run[]; notes: string[] }[];
    };
    expect(doc.command).toBe('bench');
    expect(Object.keys(doc.machine).sort()).toEqual(['availableParallelism', 'cpu', 'node', 'platform']);
    expect(doc.settings).toMatchObject({ repeat: 2, warmup: 1, kernel: 'auto', wasmBuild: 'auto', seed: 1, vs: null });
    expect(doc.configurations.map((c) => c.shape)).toEqual([16, 24].map((seq) => ({
      mode: 'attention', batch: 1, heads: 2, kvHeads: 2, seq, headDim: 8, causal: true,
    })));
    for (const config of doc.configurations) {
      const seq = config.shape.seq as number;
      expect(['js', 'wasm']).toContain(config.kernel);
      expect(config.wasmVariant).toBe(config.kernel === 'wasm' ? AUTO_BUILD : null);
      expect(config.gflopPerCall).toBeCloseTo((4 * 2 * seq * seq * 8) / 1e9, 12); // 4·B·H·S²·D
      expect(config.runs.map((r) => [r.impl, r.threads])).toEqual([['attnpool', 1], ['attnpool', 2]]);
      const [one, two] = config.runs as [Run, Run];
      for (const r of config.runs) {
        expect(r.minMs).toBeGreaterThan(0);
        expect(r.minMs <= r.medianMs && r.medianMs <= r.maxMs).toBe(true);
        expect(r.gflops).toBeCloseTo(config.gflopPerCall / (r.medianMs / 1000), 6);
        expect(r.peakRssBytes).toBeGreaterThan(10 * 2 ** 20);
        expect(r.bitIdentical).toBe(true);
      }
      expect(one.speedup).toBe(1);
      expect(one.efficiency).toBe(1);
      expect(two.speedup).toBeCloseTo(one.medianMs / two.medianMs, 10);
      expect(two.efficiency).toBeCloseTo(two.speedup! / 2, 10);
    }
  });

  // onnxruntime-node is a devDependency, so it is installed wherever this suite runs.
  it.concurrent.each(['attention', 'mha'])('--vs ort (%s): onnxruntime on the same inputs agrees with attnpool', async (mode) => {
    const result = await runCli(['bench', '--seq', '32', '--heads', '2', '--head-dim', '8', '--threads', '1', '--repeat', '2',
      '--warmup', '1', '--mode', mode, '--causal', '--vs', 'ort', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [config] = (JSON.parse(result.stdout) as { configurations: { runs: (Run & { maxAbsDiff?: number })[]; notes: string[] }[] }).configurations;
    expect(config!.notes).toEqual([]);
    expect(config!.runs.map((r) => [r.impl, r.threads])).toEqual([['attnpool', 1], ['onnxruntime', 1]]);
    const ort = config!.runs[1]!;
    expect(ort.maxAbsDiff).toBeGreaterThanOrEqual(0);
    expect(ort.maxAbsDiff).toBeLessThan(1e-5); // float32 rounding only: a wrong layout or mask is O(0.1)
    expect(ort.speedup).toBe(1);
  });

  it.concurrent('text: a titled table per configuration, no progress bar off a terminal', async () => {
    const result = await runCli(['bench', ...TINY, '--mode', 'mha']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const titles = result.stdout.split('\n').filter((line) => line.startsWith('multi-head attention layer'));
    expect(titles).toHaveLength(2);
    expect(titles[0]).toMatch(/B=1 H=2 S=16 E=16 \(D=8\) {2}non-causal/);
    for (const title of titles) expect(title).toMatch(new RegExp(`kernel (wasm \\(${AUTO_BUILD} build\\)|js)$`));
    expect(result.stdout.match(/^impl +threads +median ms +min–max ms +GFLOP\/s +speedup +efficiency +peak RSS +check$/gm)).toHaveLength(2);
    expect(result.stdout.match(/^attnpool +[12] +[\d.]+ +[\d.]+–[\d.]+ +[\d.]+ +[\d.]+× +\d+% +\d+ MiB +bit-identical$/gm)).toHaveLength(4);
    expect(result.stdout).not.toContain('\r');
  });

  const ONE_RUN = ['--seq', '16', '--heads', '1', '--head-dim', '8', '--threads', '1', '--repeat', '1', '--warmup', '0', '--json'];
  const wasmVariantOf = (stdout: string) => (JSON.parse(stdout) as { configurations: { wasmVariant: string | null }[] }).configurations[0]!.wasmVariant;

  it.concurrent('--wasm-build simd runs the plain-SIMD build on every runtime', async () => {
    const result = await runCli(['bench', ...ONE_RUN, '--kernel', 'wasm', '--wasm-build', 'simd']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(wasmVariantOf(result.stdout)).toBe('simd');
  });

  it.concurrent(`--wasm-build relaxed-simd ${RELAXED_BY_DEFAULT ? 'runs the fused build' : 'is a usage error naming the flag Node 20 needs'}`, async () => {
    const result = await runCli(['bench', ...ONE_RUN, '--wasm-build', 'relaxed-simd']);
    if (RELAXED_BY_DEFAULT) {
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(wasmVariantOf(result.stdout)).toBe('relaxed-simd');
    } else {
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^attnpool bench: AttentionPool: options\.wasmBuild must be 'auto' or 'simd' here \(.*--experimental-wasm-relaxed-simd.*\), got "relaxed-simd"\n$/);
    }
  });

  it.concurrent('--wasm-build with --kernel js, or an unknown build, is a usage error', async () => {
    const js = await runCli(['bench', ...ONE_RUN, '--kernel', 'js', '--wasm-build', 'simd']);
    expect(js.code).toBe(2);
    expect(js.stderr).toContain("options.wasmBuild with options.kernel 'js' must be 'auto'");
    const unknown = await runCli(['bench', ...ONE_RUN, '--wasm-build', 'fma']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^attnpool bench: .*wasm-build.*fma/);
  });
});
