// A command line that names one file twice where that loses data: two outputs on one path (the second
// would replace the first), or an output on an input's path (the input would be replaced by a result).

import { resolve } from 'node:path';
import { UsageError } from './errors.js';

/** Paths by the option that names them ('--out', '--weights (in_proj_weight.npy)'); undefined = not given. */
export type PathsByOption = Readonly<Record<string, string | undefined>>;

/** Throws a UsageError naming both options when an output's path, after path.resolve, is another
 *  output's or an input's. Inputs may share a path (self-attention reads one file as query, key and value). */
export function checkDistinctPaths(outputs: PathsByOption, inputs: PathsByOption): void {
  const seen = new Map<string, string>(); // resolved path → the first output option naming it
  for (const [option, path] of Object.entries(outputs)) {
    if (path === undefined) continue;
    const resolved = resolve(path);
    const input = Object.entries(inputs).find(([, p]) => p !== undefined && resolve(p) === resolved)?.[0];
    const earlier = seen.get(resolved);
    const pair = input !== undefined ? `${option} and ${input}` : earlier !== undefined ? `${earlier} and ${option}` : undefined;
    if (pair !== undefined) throw new UsageError(`${pair} name the same file (${resolved}); give each output a path of its own`);
    seen.set(resolved, option);
  }
}
