// Writing a command's output files all or nothing, without ever costing the user a file they had.
// Each output is first written to a temporary file beside its target (same folder, so the rename that
// puts it in place stays on one file system and is atomic). Only when every one is complete are they
// renamed into place, and while that happens each replaced file stays reachable under a backup name:
// should a target turn out not to be replaceable (a directory, a FIFO, a device, a rename the folder
// refuses), the targets already replaced get their old contents back. On any failure no temporary or
// backup file is left behind.

import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, link, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FileError } from './errors.js';
import { describeFsError, describeNotRegular } from './fs-errors.js';

export interface OutputFile {
  /** The path the user gave. */
  readonly file: string;
  readonly bytes: Uint8Array;
}

interface Staged {
  readonly file: string;
  /** Where the bytes go: the file itself or, when it is a symbolic link, the file the link points to. */
  readonly target: string;
  readonly temp: string;
}

interface Replaced {
  readonly target: string;
  /** The target's old contents; undefined when there was no file there before. */
  readonly backup: string | undefined;
}

export async function writeFilesAtomically(outputs: readonly OutputFile[]): Promise<void> {
  const staged: Staged[] = [];
  try {
    for (const { file, bytes } of outputs) {
      const target = await realpath(file).catch(() => file); // not there yet: the path as given
      const twin = staged.find((s) => s.target === target);
      if (twin !== undefined) throw new FileError(file, `is the same file as ${twin.file} (through a symbolic link)`);
      const temp = siblingName(target, 'tmp');
      staged.push({ file, target, temp });
      await writeFile(temp, bytes, { flag: 'wx' }).catch((err: unknown) => {
        const missingFolder = (err as NodeJS.ErrnoException).code === 'ENOENT';
        throw new FileError(file, missingFolder ? `cannot write: folder ${dirname(file)} does not exist` : describeFsError(err, 'cannot write'));
      });
    }
    await replaceAll(staged);
  } finally {
    // After success every temporary file has been renamed away; after a failure these remove the rest.
    await Promise.all(staged.map((s) => rm(s.temp, { force: true })));
  }
}

/** Renames every temporary file over its target; on failure puts back what was replaced and rethrows. */
async function replaceAll(staged: readonly Staged[]): Promise<void> {
  const replaced: Replaced[] = [];
  try {
    for (const s of staged) replaced.push(await replace(s));
  } catch (err) {
    // Best effort, and the first error is the one reported: a backup that cannot be renamed back stays
    // where it is, so the old contents are still there under its name.
    for (const { target, backup } of replaced.reverse()) {
      await (backup === undefined ? rm(target, { force: true }) : rename(backup, target)).catch(() => undefined);
    }
    throw err;
  }
  await Promise.all(replaced.flatMap(({ backup }) => (backup === undefined ? [] : [rm(backup, { force: true })])));
}

async function replace({ file, target, temp }: Staged): Promise<Replaced> {
  const existing = await stat(target).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FileError(file, describeFsError(err, 'cannot write'));
  });
  // Renaming over a directory fails, and over a FIFO or a device it would replace the special file.
  if (existing !== undefined && !existing.isFile()) throw new FileError(file, describeNotRegular(existing));
  let backup: string | undefined;
  try {
    if (existing !== undefined) {
      await chmod(temp, existing.mode & 0o777); // the replaced file's permission bits, not the umask's
      backup = await keepBackup(target);
    }
    await rename(temp, target);
    return { target, backup };
  } catch (err) {
    if (backup !== undefined) await rm(backup, { force: true });
    throw err instanceof FileError ? err : new FileError(file, describeFsError(err, 'cannot write'));
  }
}

/** A second name for the target's current contents: a hard link (instant, no copy), or a copy where the
 *  file system has no hard links. */
async function keepBackup(target: string): Promise<string> {
  const backup = siblingName(target, 'bak');
  await link(target, backup).catch(() => copyFile(target, backup, constants.COPYFILE_EXCL));
  return backup;
}

/** ".results.npy.<pid>.<random>.tmp" beside results.npy: hidden, and unique to this process and call. */
function siblingName(target: string, suffix: 'tmp' | 'bak'): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.${suffix}`);
}
