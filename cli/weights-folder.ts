// The weights folder of `attnpool mha` may come from a torch layer exported parameter by parameter.
// A .npy file there that attnpool does not read is a parameter the layer would silently go without —
// bias_k/bias_v (add_bias_kv=True) or q/k/v_proj_weight (kdim/vdim ≠ embed_dim) make torch compute
// something else — so any such file fails the command, naming it. Other files (a README, a config
// .json) hold no tensors attnpool could have missed and are left alone.

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FileError } from './errors.js';
import { describeFsError } from './fs-errors.js';

/** What a torch parameter file attnpool does not read stands for, and what to do instead. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  'bias_k.npy': 'add_bias_kv (bias_k/bias_v) is not supported; export the layer with add_bias_kv=False',
  'bias_v.npy': 'add_bias_kv (bias_k/bias_v) is not supported; export the layer with add_bias_kv=False',
  ...Object.fromEntries(['q', 'k', 'v'].map((p) => [`${p}_proj_weight.npy`,
    'separate projection weights (kdim/vdim ≠ embed_dim) are not supported; when kdim = vdim = E, ' +
    'concatenate q_proj_weight, k_proj_weight and v_proj_weight (in that order) into in_proj_weight.npy [3E, E]'])),
};

/** Fails with a FileError on the first .npy file in `dir` (in name order) that is not one of `readFiles`. */
export async function checkWeightsFolder(dir: string, readFiles: readonly string[]): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileError(dir, code === 'ENOTDIR' ? 'is a file, not a folder of weights' : describeFsError(err, 'cannot read the folder'));
  }
  const stray = names.filter((name) => name.toLowerCase().endsWith('.npy') && !readFiles.includes(name)).sort()[0];
  if (stray === undefined) return;
  throw new FileError(join(dir, stray), UNSUPPORTED[stray]
    ?? `not a weight attnpool reads (it reads ${readFiles.join(', ')}; other .npy files are refused so that no parameter is silently dropped)`);
}
