// attnpool's input errors name the arguments involved (`attention: k.shape[3] (D) must be equal to
// q.shape[3] (D) = 64, got 32`); on the command line the user knows those arguments as files, so the
// files are put in front of the message, the one at fault first.

import { CliFailure, FileError } from './errors.js';

/** `files` maps argument paths as the library names them (`k`, `mask`, `weights.inProjWeight`) to file paths. */
export function blameFile(err: unknown, files: Readonly<Record<string, string | undefined>>): CliFailure {
  const message = err instanceof Error ? err.message : String(err);
  if (!(err instanceof TypeError || err instanceof RangeError)) {
    return new CliFailure(err instanceof Error && err.name !== 'Error' ? `${err.name}: ${message}` : message);
  }
  const named = Object.entries(files)
    .flatMap(([argument, file]) => {
      const at = file === undefined ? -1 : firstMention(message, argument);
      return at < 0 ? [] : [{ at, file: file! }];
    })
    .sort((a, b) => a.at - b.at)
    .map((m) => m.file);
  const unique = [...new Set(named)];
  return unique.length === 0 ? new CliFailure(message) : new FileError(unique.join(', '), message);
}

/** Where the message first refers to `argument` as a value (`k.shape`, `options.mask.shape`, `q[0]`);
 *  the look-behind keeps `k` from matching inside `mask.shape`. */
function firstMention(message: string, argument: string): number {
  const escaped = argument.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return message.search(new RegExp(`(?<![\\w.])(?:options\\.)?${escaped}(?=[.\\[])`));
}
