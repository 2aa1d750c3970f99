#!/usr/bin/env node
// attnpool's command line: bench, run, mha and stress. Exit codes: 0 success, 1 failure (bad file,
// wrong result, stress finding), 2 usage error; every error is one line on stderr.

import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { benchCommand } from './commands/bench.js';
import { mhaCommand } from './commands/mha.js';
import { runCommand } from './commands/run.js';
import { stressCommand } from './commands/stress.js';
import { EXIT_FAILURE, EXIT_USAGE, oneLine } from './errors.js';

// dist/cli/main.js → the package root's package.json (also when installed under node_modules).
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

// Anything that escapes a command's own handling still ends as one line, not a stack trace.
process.on('uncaughtException', (err) => {
  process.stderr.write(`attnpool: ${oneLine(err)}\n`);
  process.exit(EXIT_FAILURE);
});

const COMMANDS = [benchCommand, runCommand, mhaCommand, stressCommand].map((c) => String(c.command));

const cli = yargs(hideBin(process.argv))
  .scriptName('attnpool')
  .usage('$0 <command> [options]\n\nParallel, bit-exact multi-head attention on worker threads.')
  .command(benchCommand)
  .command(runCommand)
  .command(mhaCommand)
  .command(stressCommand)
  .demandCommand(1, 'name a command: bench, run, mha or stress')
  .recommendCommands()
  .strict()
  .help()
  .alias('h', 'help')
  .version(version)
  .example('$0 bench', 'measure scaling on this machine (about half a minute on 2 cores)')
  .example('$0 run --help', 'how to run attention on your own .npy files')
  .wrap(Math.min(120, process.stdout.columns ?? 120))
  // Only usage errors reach here (commands catch their own failures): print the reason on one line and
  // point at --help instead of dumping the whole help text.
  .fail((message, err) => {
    const reason = message ?? (err ? oneLine(err) : 'invalid command line');
    const named = process.argv[2] ?? '';
    const command = COMMANDS.includes(named) ? ` ${named}` : '';
    process.stderr.write(`attnpool${command}: ${reason.replace(/\s*\n\s*/g, ' ')} (see attnpool${command} --help)\n`);
    process.exit(EXIT_USAGE);
  });

await cli.parseAsync();
