// How a file-system problem reads in a one-line error: the cause in words, not an errno dump.

import type { Stats } from 'node:fs';

export function describeFsError(err: unknown, action: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT': return 'no such file or directory';
    case 'EISDIR': return 'is a directory, not a regular file';
    case 'EACCES': case 'EPERM': return `${action}: permission denied`;
    default: return `${action}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Why a path that exists is not a regular file ("is a FIFO (named pipe), not a regular file"). */
export function describeNotRegular(stats: Stats): string {
  const kind = stats.isDirectory() ? 'a directory'
    : stats.isFIFO() ? 'a FIFO (named pipe)'
    : stats.isCharacterDevice() ? 'a character device'
    : stats.isBlockDevice() ? 'a block device'
    : stats.isSocket() ? 'a socket'
    : 'an unknown kind of file';
  return `is ${kind}, not a regular file`;
}
