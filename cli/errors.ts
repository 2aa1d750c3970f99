// The two ways a command ends badly, and how each reaches the user: one line on stderr, never a stack
// trace. A UsageError (exit 2) means the command line itself is wrong; a CliFailure (exit 1) means the
// command ran and something failed: a bad file, a library error, a wrong result.

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export class CliFailure extends Error {
  override readonly name = 'CliFailure';
}

/** A problem with one file: the message starts with the file's path. */
export class FileError extends CliFailure {
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
  }
}

/** The one line printed for an error that ends a command. Errors we did not foresee still get one line:
 *  their name and message, which is what a user can act on. */
export function oneLine(err: unknown): string {
  const text = err instanceof CliFailure || err instanceof UsageError
    ? err.message
    : err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.replace(/\s*\n\s*/g, ' ');
}

/** An error as a finding names it: its class and message. */
export function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

export function exitCodeOf(err: unknown): number {
  return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
}
