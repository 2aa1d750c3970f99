// `attnpool mha` for a torch user: a weights folder exported from a layer attnpool cannot reproduce
// (add_bias_kv's bias_k/bias_v, kdim/vdim's separate q/k/v_proj_weight, or any other .npy) fails with
// one line naming the file, exit code 1 and no output; files that are not .npy are ignored; and
// --seq-first reads and writes PyTorch's default [S, B, E] layout (files transposed here, checked
// against the float64 reference), while the same files without it fail with the batch_first hint.

import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpyPlain, runCli, tempDir, writeMhaCase, writeNpyPlain } from './cli-helpers.js';
import { expectMaxAbsDiff, expectRelativeToMax, FLOAT32_RTOL, WEIGHTS_ATOL } from './support/compare.js';
import { swapLeadingAxes } from './support/layout.js';
import { mhaInputs } from './support/random.js';
import { referenceMultiHeadAttention } from './support/reference.js';

const root = tempDir('cli-mha-torch');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const READ_FILES = 'in_proj_weight.npy, in_proj_bias.npy, out_proj_weight.npy, out_proj_bias.npy';
const HINT = "(the layout is [B, S, E], batch_first=True; pass batchFirst: false for PyTorch's default [S, B, E])";
const BIAS_KV = 'add_bias_kv (bias_k/bias_v) is not supported; export the layer with add_bias_kv=False';
const SEPARATE = 'separate projection weights (kdim/vdim ≠ embed_dim) are not supported; when kdim = vdim = E, ' +
  'concatenate q_proj_weight, k_proj_weight and v_proj_weight (in that order) into in_proj_weight.npy [3E, E]';

const spec = { seed: 1201, B: 2, Sq: 9, Sk: 13, E: 16, numHeads: 4, selfAttention: false, keyLengths: [13, 6] } as const;
const inputs = mhaInputs(spec);
const options = { numHeads: 4, causal: true, keyPaddingMask: inputs.keyPaddingMask };

/** A case folder: query/key/value in the given layout, the padding mask [B, Sk], and layer/ with the four weights. */
function writeCase(name: string, seqFirst: boolean): string {
  return writeMhaCase(join(root, name), inputs, seqFirst ? swapLeadingAxes : undefined);
}

const INPUT_FILES = ['key.npy', 'key_padding_mask.npy', 'layer', 'query.npy', 'value.npy'];

const layerArgs = (dir: string, weights = join(dir, 'layer')) => ['mha', '--query', join(dir, 'query.npy'),
  '--key', join(dir, 'key.npy'), '--value', join(dir, 'value.npy'), '--key-padding-mask', join(dir, 'key_padding_mask.npy'),
  '--weights', weights, '--num-heads', '4', '--causal', '--out', join(dir, 'out.npy'), '--weights-out', join(dir, 'w.npy'), '--threads', '2'];

/** Exit 1, nothing on stdout, exactly `attnpool mha: <line>` on stderr, and no output file. */
function expectOneLineFailure(result: { code: number; stdout: string; stderr: string }, dir: string, line: string): void {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr).toBe(`attnpool mha: ${line}\n`);
  expect(readdirSync(dir).sort()).toEqual(INPUT_FILES);
}

describe('attnpool mha --weights DIR refuses .npy files it would not read', () => {
  it.concurrent.each([
    { file: 'bias_k.npy', problem: BIAS_KV },
    { file: 'bias_v.npy', problem: BIAS_KV },
    { file: 'q_proj_weight.npy', problem: SEPARATE },
    { file: 'k_proj_weight.npy', problem: SEPARATE },
    { file: 'v_proj_weight.npy', problem: SEPARATE },
    { file: 'in_proj_weight_old.npy', problem: `not a weight attnpool reads (it reads ${READ_FILES}; other .npy files are refused so that no parameter is silently dropped)` },
  ])('$file', async ({ file, problem }) => {
    const dir = writeCase(`refuse-${file}`, false);
    writeNpyPlain(join(dir, 'layer', file), inputs.weights.outProjBias!);
    expectOneLineFailure(await runCli(layerArgs(dir)), dir, `${join(dir, 'layer', file)}: ${problem}`);
  });

  it.concurrent('several such files: the first by name is named', async () => {
    const dir = writeCase('refuse-several', false);
    for (const file of ['v_proj_weight.npy', 'bias_v.npy', 'q_proj_weight.npy', 'bias_k.npy']) writeNpyPlain(join(dir, 'layer', file), inputs.weights.outProjBias!);
    expectOneLineFailure(await runCli(layerArgs(dir)), dir, `${join(dir, 'layer', 'bias_k.npy')}: ${BIAS_KV}`);
  });

  it.concurrent('a missing folder, and a file given as the folder, are named', async () => {
    const dir = writeCase('no-folder', false);
    expectOneLineFailure(await runCli(layerArgs(dir, join(dir, 'no-such-layer'))), dir, `${join(dir, 'no-such-layer')}: no such file or directory`);
    const file = join(dir, 'query.npy');
    expectOneLineFailure(await runCli(layerArgs(dir, file)), dir, `${file}: is a file, not a folder of weights`);
  });

  it.concurrent('files that are not .npy are ignored: the layer runs', async () => {
    const dir = writeCase('other-files', false);
    writeFileSync(join(dir, 'layer', 'README.md'), 'exported from torch.nn.MultiheadAttention(16, 4)\n');
    writeFileSync(join(dir, 'layer', 'config.json'), '{"embed_dim": 16, "num_heads": 4}\n');
    const result = await runCli(layerArgs(dir));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const ref = referenceMultiHeadAttention(inputs.query, inputs.key, inputs.value, inputs.weights, options);
    expectRelativeToMax(readNpyPlain(join(dir, 'out.npy')).data, ref.output, FLOAT32_RTOL, 'output');
  });
});

describe('attnpool mha --seq-first', () => {
  it.concurrent('reads query, key and value as [S, B, E] and writes the output [Sq, B, E]; mask and weights keep theirs', async () => {
    const dir = writeCase('seq-first', true);
    const result = await runCli([...layerArgs(dir), '--seq-first']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^multi-head attention B=2 Sq=9 Sk=13 E=16 heads=4 cross causal padded seq-first: /);
    const out = readNpyPlain(join(dir, 'out.npy'));
    const weights = readNpyPlain(join(dir, 'w.npy'));
    expect(out.shape).toEqual([9, 2, 16]);
    expect(weights.shape).toEqual([2, 9, 13]);
    const ref = referenceMultiHeadAttention(inputs.query, inputs.key, inputs.value, inputs.weights, options);
    expectRelativeToMax(swapLeadingAxes(out).data, ref.output, FLOAT32_RTOL, 'output');
    expectMaxAbsDiff(weights.data, ref.weightsAverage, WEIGHTS_ATOL, 'head-averaged weights');
  });

  it.concurrent('the same [S, B, E] files without --seq-first fail naming key.npy and query.npy, with the batch_first hint', async () => {
    const dir = writeCase('seq-first-missing-flag', true);
    expectOneLineFailure(await runCli(layerArgs(dir)), dir,
      `${join(dir, 'key.npy')}, ${join(dir, 'query.npy')}: multiHeadAttention: key.shape[0] (B) must be equal to query.shape[0] (B) = 9, got 13 ${HINT}`);
  });
});
