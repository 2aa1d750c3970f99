// Writing results as .npy files, all or nothing: each file is first written to a temporary file in its
// own folder (so the final rename stays on one file system and is atomic), and only when every file is
// complete are they renamed into place. On any failure the temporary files are removed, so a failed
// command never leaves a partial or half-written output behind.

import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { dump } from 'npyjs';
import { FileError } from '../errors.js';
import { describeFsError } from '../fs-errors.js';

export interface NpyOutput {
  readonly file: string;
  readonly data: Float32Array | Float64Array;
  readonly shape: readonly number[];
}

export async function writeNpyFilesAtomically(outputs: readonly NpyOutput[]): Promise<void> {
  const staged: { temp: string; file: string }[] = [];
  const renamed: string[] = [];
  try {
    for (const { file, data, shape } of outputs) {
      const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
      staged.push({ temp, file });
      try {
        await writeFile(temp, new Uint8Array(dump(data, [...shape])), { flag: 'wx' });
      } catch (err) {
        const missingFolder = (err as NodeJS.ErrnoException).code === 'ENOENT';
        throw new FileError(file, missingFolder ? `cannot write: folder ${dirname(file)} does not exist` : describeFsError(err, 'cannot write'));
      }
    }
    for (const { temp, file } of staged) {
      try {
        await rename(temp, file);
      } catch (err) {
        throw new FileError(file, describeFsError(err, 'cannot write'));
      }
      renamed.push(file);
    }
  } catch (err) {
    // A rename can only fail here for a reason like a directory in the way; undo what was placed so the
    // outputs stay all-or-nothing.
    await Promise.all([...staged.map((s) => rm(s.temp, { force: true })), ...renamed.map((f) => rm(f, { force: true }))]);
    throw err;
  }
}

export function describeOutput({ file, data, shape }: NpyOutput): string {
  return `wrote ${file}  ${data instanceof Float64Array ? 'float64' : 'float32'} [${shape.join(', ')}]`;
}
