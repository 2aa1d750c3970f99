// Command-line mistakes: exit code 2 and one line on stderr giving the reason (no help dump, no stack
// trace); --help on every command exits 0 and shows examples.

import { describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';

const USAGE_ERRORS: readonly { what: string; args: string[]; reason: RegExp }[] = [
  { what: 'no command', args: [], reason: /^attnpool: name a command: bench, run, mha or stress/ },
  { what: 'an unknown command', args: ['benchmark'], reason: /^attnpool: Unknown argument: benchmark/ },
  { what: 'an unknown option', args: ['bench', '--sequence', '10'], reason: /^attnpool bench: Unknown arguments?: sequence/ },
  { what: 'a missing required option', args: ['run', '--q', 'q.npy', '--k', 'k.npy', '--v', 'v.npy'], reason: /^attnpool run: Missing required argument: out/ },
  { what: 'a thread count of 0', args: ['bench', '--threads', '1,0'], reason: /^attnpool bench: --threads must be a positive integer, got "0"/ },
  { what: 'a non-numeric --seq', args: ['bench', '--seq', 'long'], reason: /^attnpool bench: --seq must be a positive integer, got "long"/ },
  { what: 'an invalid --mode', args: ['bench', '--mode', 'flash'], reason: /^attnpool bench: Invalid values:.*mode/ },
  { what: 'a dispatch-only option in another mode', args: ['bench', '--kv-length', '512'], reason: /^attnpool bench: --kv-length is read only with --mode dispatch/ },
  { what: 'the decode storage in another mode', args: ['bench', '--kv-dtype', 'int8'], reason: /^attnpool bench: --kv-dtype is read only with --mode dispatch/ },
  { what: '--vs with --mode dispatch', args: ['bench', '--mode', 'dispatch', '--vs', 'ort'], reason: /^attnpool bench: --vs ort compares whole calls; --mode dispatch .* takes no --vs/ },
  { what: 'dispatch inputs no machine can hold', args: ['bench', '--mode', 'dispatch', '--kv-length', '1000000000'],
    reason: /^attnpool bench: too large for --mode dispatch: its inputs need \d+ bytes .*--kv-length.*more than half of this machine's \d+ bytes/ },
  { what: '--kv-heads that does not divide --heads', args: ['bench', '--heads', '8', '--kv-heads', '3'], reason: /^attnpool bench: --kv-heads \(3\) must divide --heads \(8\)/ },
  { what: 'an unreadable --duration', args: ['stress', '--duration', 'soon'], reason: /^attnpool stress: --duration must be a duration like 30s/ },
  { what: '--key without --value', args: ['mha', '--query', 'x.npy', '--key', 'k.npy', '--weights', 'w', '--num-heads', '2', '--out', 'y.npy'], reason: /^attnpool mha: --key and --value go together/ },
  { what: 'a non-numeric --scale', args: ['run', '--q', 'q', '--k', 'k', '--v', 'v', '--out', 'o', '--scale', 'big'], reason: /^attnpool run: --scale must be a finite number, got "big"/ },
  { what: 'a --seq no machine can hold', args: ['bench', '--seq', '1000000000'],
    reason: /^attnpool bench: too large: q \[1, 8, 1000000000, 64\] \(--batch 1, --heads 8, --seq 1000000000, --head-dim 64\) has 512000000000 elements and needs 2048000000000 bytes as float32/ },
  { what: '--batch and --heads whose product no machine can hold', args: ['bench', '--batch', '100000', '--heads', '100000', '--seq', '16'],
    reason: /^attnpool bench: too large: .*--batch 100000, --heads 100000.* needs \d+ bytes/ },
  { what: 'a --head-dim no machine can hold', args: ['bench', '--head-dim', '1000000000000', '--seq', '8'],
    reason: new RegExp('^attnpool bench: too large: q \\[1, 8, 8, 1000000000000\\] .*--head-dim 1000000000000\\) has 64000000000000 elements ' +
      "and needs 256000000000000 bytes as float32; (a typed array holds at most \\d+ elements|the inputs and output need \\d+ bytes in all, more than this machine's \\d+ bytes of memory) \\(see attnpool bench --help\\)$", 'm') },
  { what: 'a layer whose weights no machine can hold', args: ['bench', '--mode', 'mha', '--heads', '1000', '--head-dim', '100000', '--seq', '1'],
    reason: /^attnpool bench: too large: in_proj_weight \[300000000, 100000000\] \(--heads 1000, --kv-heads 1000, --head-dim 100000\)/ },
  { what: 'a --concurrency past the maximum', args: ['stress', '--concurrency', '5000', '--duration', '1s', '--threads', '1'],
    reason: /^attnpool stress: --concurrency must be a positive integer up to 1024, got 5000/ },
  { what: 'a --max-call-bytes in decimal units', args: ['stress', '--max-call-bytes', '64MB', '--duration', '1s', '--threads', '1'],
    reason: /^attnpool stress: --max-call-bytes must be a whole number of bytes like 1048576, 64MiB or 1\.5GiB, or Infinity, got "64MB"/ },
  { what: 'a fractional number of bytes', args: ['stress', '--max-call-bytes', '0.5', '--duration', '1s', '--threads', '1'],
    reason: /^attnpool stress: --max-call-bytes must be a whole number of bytes .*, got 0\.5 / },
  { what: 'a --slow-ms of 0', args: ['stress', '--hostile', '--slow-ms', '0', '--duration', '1s', '--threads', '1'],
    reason: /^attnpool stress: --slow-ms must be a positive integer, got 0 / },
  { what: 'the same path for --out and --lse', args: ['run', '--q', 'q.npy', '--k', 'k.npy', '--v', 'v.npy', '--out', 'r.npy', '--lse', './r.npy'],
    reason: /^attnpool run: --out and --lse name the same file \(.*\/r\.npy\)/ },
  { what: 'an output path that is an input', args: ['run', '--q', 'in/q.npy', '--k', 'k.npy', '--v', 'v.npy', '--out', 'in/../in/q.npy'],
    reason: /^attnpool run: --out and --q name the same file \(.*\/in\/q\.npy\)/ },
  { what: 'mha: the same path for --out and --weights-out', args: ['mha', '--query', 'x.npy', '--weights', 'w', '--num-heads', '2', '--out', 'y.npy', '--weights-out', 'y.npy'],
    reason: /^attnpool mha: --out and --weights-out name the same file/ },
  { what: 'mha: an output path that is a weight file', args: ['mha', '--query', 'x.npy', '--weights', 'w', '--num-heads', '2', '--out', 'w/out_proj_bias.npy'],
    reason: /^attnpool mha: --out and --weights \(out_proj_bias\.npy\) name the same file/ },
  { what: 'a thread count the pool refuses', args: ['run', '--q', 'q', '--k', 'k', '--v', 'v', '--out', 'o', '--threads', '5000'], reason: /options\.threads must be an integer from 1 to 1024/ },
];

describe('usage errors', () => {
  it.concurrent.each(USAGE_ERRORS)('$what: exit 2 with a one-line reason', async ({ args, reason }) => {
    const result = await runCli(args);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n'), result.stderr).toHaveLength(2); // one line and its newline
    expect(result.stderr).toMatch(reason);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('--help', () => {
  it.concurrent.each(['bench', 'run', 'mha', 'stress'])('%s --help: exit 0, with examples', async (command) => {
    const result = await runCli([command, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`attnpool ${command}`);
    expect(result.stdout).toMatch(/Examples:\n\s+attnpool /);
  });

  it.concurrent('the top-level help lists every command', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    for (const command of ['bench', 'run', 'mha', 'stress']) expect(result.stdout).toContain(`attnpool ${command} `);
  });
});
