// The grouped-query layer on the command line: `attnpool mha --num-kv-heads` on .npy files written here
// (in_proj_weight [E + 2·Hkv·hd, E]) against the float64 reference; grouped-query weights without the
// flag fail naming the weight file; and `attnpool bench --mode mha --kv-heads` times the grouped-query layer.

import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpyPlain, runCli, tempDir, writeMhaCase } from './cli-helpers.js';
import { expectMaxAbsDiff, expectRelativeToMax, FLOAT32_RTOL, WEIGHTS_ATOL } from './support/compare.js';
import { mhaInputs } from './support/random.js';
import { referenceMultiHeadAttention } from './support/reference.js';

const root = tempDir('cli-mha-gqa');
afterAll(() => rmSync(root, { recursive: true, force: true }));

// E = 32, 8 heads of 4, 2 kv heads: in_proj_weight [32 + 2·2·4, 32] = [48, 32].
const spec = { seed: 951, B: 2, Sq: 9, Sk: 13, E: 32, numHeads: 8, numKvHeads: 2, selfAttention: false, keyLengths: [13, 8] } as const;
const inputs = mhaInputs(spec);

function writeCase(name: string): string {
  return writeMhaCase(join(root, name), inputs);
}

const layerArgs = (dir: string) => ['mha', '--query', join(dir, 'query.npy'), '--key', join(dir, 'key.npy'), '--value', join(dir, 'value.npy'),
  '--key-padding-mask', join(dir, 'key_padding_mask.npy'), '--weights', join(dir, 'layer'), '--num-heads', '8', '--causal',
  '--out', join(dir, 'out.npy'), '--threads', '2'];

describe('attnpool mha --num-kv-heads', () => {
  it.concurrent('runs the grouped-query layer: output and per-head weights match the reference', async () => {
    const dir = writeCase('ok');
    const result = await runCli([...layerArgs(dir), '--num-kv-heads', '2', '--weights-out', join(dir, 'w.npy'), '--per-head-weights']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^multi-head attention B=2 Sq=9 Sk=13 E=32 heads=8 kv-heads=2 cross causal padded: /);
    const ref = referenceMultiHeadAttention(inputs.query, inputs.key, inputs.value, inputs.weights,
      { numHeads: 8, numKvHeads: 2, causal: true, keyPaddingMask: inputs.keyPaddingMask });
    const out = readNpyPlain(join(dir, 'out.npy'));
    const weights = readNpyPlain(join(dir, 'w.npy'));
    expect(out.shape).toEqual([2, 9, 32]);
    expect(weights.shape).toEqual([2, 8, 9, 13]);
    expectRelativeToMax(out.data, ref.output, FLOAT32_RTOL, 'output');
    expectMaxAbsDiff(weights.data, ref.weightsPerHead, WEIGHTS_ATOL, 'per-head weights');
  });

  it.concurrent('grouped-query weights without --num-kv-heads: exit 1 naming in_proj_weight.npy, no output left', async () => {
    const dir = writeCase('missing-flag');
    const result = await runCli(layerArgs(dir));
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')).toHaveLength(2);
    expect(result.stderr).toContain(join(dir, 'layer', 'in_proj_weight.npy'));
    expect(result.stderr).toMatch(/weights\.inProjWeight\.shape\[0\] must be equal to 3E = 96, got 48$/m);
    expect(readdirSync(dir).sort()).toEqual(['key.npy', 'key_padding_mask.npy', 'layer', 'query.npy', 'value.npy']);
  });

  it.concurrent('--num-kv-heads that does not divide --num-heads: usage error, exit 2', async () => {
    const dir = writeCase('bad-flag');
    const result = await runCli([...layerArgs(dir), '--num-kv-heads', '3']);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.split('\n')).toHaveLength(2);
    expect(result.stderr).toMatch(/^attnpool mha: --num-kv-heads \(3\) must divide --num-heads \(8\)/);
  });
});

describe('attnpool bench --mode mha --kv-heads', () => {
  it.concurrent('times the grouped-query layer, counts its smaller projections, and skips onnxruntime with the reason', async () => {
    const result = await runCli(['bench', '--mode', 'mha', '--seq', '24', '--heads', '4', '--kv-heads', '1', '--head-dim', '8',
      '--threads', '1,2', '--repeat', '2', '--warmup', '1', '--causal', '--vs', 'ort', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [config] = (JSON.parse(result.stdout) as {
      configurations: { shape: Record<string, unknown>; gflopPerCall: number; runs: { impl: string; threads: number; bitIdentical?: boolean }[]; notes: string[] }[];
    }).configurations;
    expect(config!.shape).toEqual({ mode: 'mha', batch: 1, heads: 4, kvHeads: 1, seq: 24, headDim: 8, causal: true });
    const [S, E, kvDim] = [24, 32, 8];
    // 4·B·H·S²·D of attention, plus Q and out E×E and K and V E×kvDim projections, 2 flops per multiply-add
    expect(config!.gflopPerCall).toBeCloseTo((4 * 4 * S * S * 8 + 2 * S * E * (2 * E + 2 * kvDim)) / 1e9, 12);
    expect(config!.runs.map((r) => [r.impl, r.threads, r.bitIdentical])).toEqual([['attnpool', 1, true], ['attnpool', 2, true]]);
    expect(config!.notes).toEqual(['onnxruntime MultiHeadAttention has no grouped-query form; skipped']);
  });

  it.concurrent('text: the layer\'s title names Hkv', async () => {
    const result = await runCli(['bench', '--mode', 'mha', '--seq', '16', '--heads', '4', '--kv-heads', '2', '--head-dim', '8',
      '--threads', '1', '--repeat', '1', '--warmup', '0']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^multi-head attention layer {2}B=1 H=4 Hkv=2 S=16 E=32 \(D=8\) {2}non-causal {2}·/m);
  });
});
