/**
 * attnpool beside onnxruntime-node, in the same process on the same inputs and thread counts.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/vs-ort.bench.js
 *   node dist/bench/vs-ort.bench.js --only attention-2048,causal-2048 --threads 1,2 --runs 5
 *
 * Options: --only <row,...> (default: issue 3's comparison), --threads 1,2, --runs 3, --warmup 1,
 * --kernel auto|wasm|js, --json. Rows are `<kind>-<S>` with kind attention | causal | layer |
 * layer-causal. Every (row, threads) pair runs in a child process of its own, so its peak RSS is
 * its own (ORT's causal path alone takes ~18 GiB at S=16384) and one crash does not end the table.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { KernelChoice } from '../src/index.js';
import { runRow, type RowResult } from './peer/run-row.js';
import { DEFAULT_ROWS, parseRow, type BenchRow } from './peer/rows.js';
import { tableHeader, tableLine } from './peer/table.js';

const KERNELS: readonly KernelChoice[] = ['auto', 'wasm', 'js'];

interface BenchOptions {
  readonly rows: BenchRow[];
  readonly threadCounts: number[];
  readonly runs: number;
  readonly warmup: number;
  readonly kernel: KernelChoice;
  readonly json: boolean;
  /** Internal: run the first row at the first thread count and print its RowResult as JSON. */
  readonly child: boolean;
}

let options: BenchOptions;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  console.error(`vs-ort.bench: ${(error as Error).message}`);
  process.exit(2);
}
if (options.child) {
  const { rows, threadCounts, warmup, runs, kernel } = options;
  const result = await runRow(rows[0], { threads: threadCounts[0], warmup, runs, kernel });
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  process.exitCode = await printComparison(options);
}

/** Runs every (row, threads) in a child, prints the table (or JSON); returns the exit code. */
async function printComparison(opts: BenchOptions): Promise<number> {
  const results: RowResult[] = [];
  let failures = 0;
  if (!opts.json) console.log(tableHeader(opts.runs, opts.warmup));
  for (const row of opts.rows) {
    for (const threads of opts.threadCounts) {
      try {
        const result = await runInChild(opts, row.id, threads);
        results.push(result);
        if (!opts.json) console.log(tableLine(result));
      } catch (error) {
        failures++;
        console.error(`${row.id} threads=${threads}: ${(error as Error).message}`);
      }
    }
  }
  if (opts.json) console.log(JSON.stringify(results, null, 2));
  return failures ? 1 : 0;
}

/** Runs this script with --child for one (row, threads) and parses the RowResult it prints. */
function runInChild(opts: BenchOptions, row: string, threads: number): Promise<RowResult> {
  const childArgs = [
    fileURLToPath(import.meta.url), '--child', '--only', row, '--threads', String(threads),
    '--runs', String(opts.runs), '--warmup', String(opts.warmup), '--kernel', opts.kernel,
  ];
  return new Promise((resolve, reject) => {
    // execArgv: V8 flags (e.g. Node 20's --experimental-wasm-relaxed-simd) apply to the child's run too.
    const child = spawn(process.execPath, [...process.execArgv, ...childArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as RowResult);
      else reject(new Error(`child process failed (${signal ?? `exit code ${code}`})`));
    });
  });
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string', default: DEFAULT_ROWS.join(',') },
      threads: { type: 'string', default: '1,2' },
      runs: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      kernel: { type: 'string', default: 'auto' },
      json: { type: 'boolean', default: false },
      child: { type: 'boolean', default: false },
    },
  });
  const kernel = KERNELS.find((k) => k === values.kernel);
  if (!kernel) throw new RangeError(`--kernel must be one of ${KERNELS.join(', ')}, got '${values.kernel}'`);
  return {
    rows: values.only.split(',').map((id) => parseRow(id.trim())),
    threadCounts: values.threads.split(',').map((t) => integerOption('--threads', t, 1)),
    runs: integerOption('--runs', values.runs, 1),
    warmup: integerOption('--warmup', values.warmup, 1),
    kernel,
    json: values.json,
    child: values.child,
  };
}

function integerOption(option: string, text: string, min: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(n) || n < min) {
    throw new RangeError(`${option} must be an integer ≥ ${min}, got '${text}'`);
  }
  return n;
}
