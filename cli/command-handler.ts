// Wraps a command's work so that whatever goes wrong ends as one line on stderr and the right exit
// code (see ./errors.ts), never as a stack trace or an unhandled rejection.

import { exitCodeOf, oneLine } from './errors.js';

export function commandHandler<A>(command: string, work: (args: A) => Promise<void>): (args: A) => Promise<void> {
  return async (args) => {
    try {
      await work(args);
    } catch (err) {
      process.stderr.write(`attnpool ${command}: ${oneLine(err)}\n`);
      process.exitCode = exitCodeOf(err);
    }
  };
}
