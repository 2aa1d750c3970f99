// Writing results as .npy files, all or nothing and never at the cost of a file the user had
// (../output-files.ts).

import { dump } from 'npyjs';
import { writeFilesAtomically } from '../output-files.js';

export interface NpyOutput {
  readonly file: string;
  readonly data: Float32Array | Float64Array;
  readonly shape: readonly number[];
}

export async function writeNpyFilesAtomically(outputs: readonly NpyOutput[]): Promise<void> {
  await writeFilesAtomically(outputs.map(({ file, data, shape }) => ({ file, bytes: new Uint8Array(dump(data, [...shape])) })));
}

export function describeOutput({ file, data, shape }: NpyOutput): string {
  return `wrote ${file}  ${data instanceof Float64Array ? 'float64' : 'float32'} [${shape.join(', ')}]`;
}
