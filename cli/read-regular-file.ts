// Reading an input file only if it is a regular file: /dev/zero would be read until memory runs out, a
// FIFO would block the command until some process writes to it, a directory holds no data.

import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { FileError } from './errors.js';
import { describeFsError, describeNotRegular } from './fs-errors.js';

export async function readRegularFile(file: string): Promise<Buffer> {
  // stat first: opening a FIFO for reading blocks until a writer opens it.
  const before = await stat(file).catch((err: unknown) => {
    throw new FileError(file, describeFsError(err, 'cannot read'));
  });
  if (!before.isFile()) throw new FileError(file, describeNotRegular(before));
  // O_NONBLOCK keeps open() from blocking should the path have become a FIFO since; fstat then checks
  // what was actually opened.
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK).catch((err: unknown) => {
    throw new FileError(file, describeFsError(err, 'cannot read'));
  });
  try {
    const opened = await handle.stat();
    if (!opened.isFile()) throw new FileError(file, describeNotRegular(opened));
    return await handle.readFile();
  } catch (err) {
    throw err instanceof FileError ? err : new FileError(file, describeFsError(err, 'cannot read'));
  } finally {
    await handle.close();
  }
}
