// Runs an ES-module script in a fresh node process, for what a test cannot see from inside vitest's
// own process: whether the process exits by itself, or memory after a forced GC (--expose-gc).
// The script gets `attnpool`, the URL of the built entry, and reports by printing JSON lines.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface ChildRun {
  /** Every line the script printed, parsed as JSON. */
  readonly reports: readonly unknown[];
  readonly exitCode: number | null;
  /** Time from the first report to the process's exit. */
  readonly exitAfterFirstReportMs: number;
}

export function runChildScript(script: string, { execArgv = [] as string[], killAfterMs = 60_000 } = {}): Promise<ChildRun> {
  const entry = new URL('../../dist/src/index.js', import.meta.url).href;
  // A file, not `node -e`: worker threads inherit the parent's execArgv, and refuse --input-type.
  const file = join(mkdtempSync(join(tmpdir(), 'attnpool-child-')), 'child.mjs');
  writeFileSync(file, `const attnpool = ${JSON.stringify(entry)};\n${script}`);
  const child = spawn(process.execPath, [...execArgv, file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let firstReportAt = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (!firstReportAt && stdout.includes('\n')) firstReportAt = performance.now();
  });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  return new Promise((resolve, reject) => {
    // A child that hangs is killed, so the test reports it instead of hanging itself.
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('exit', (exitCode, signal) => {
      clearTimeout(killer);
      rmSync(dirname(file), { recursive: true, force: true });
      if (!firstReportAt) return reject(new Error(`child ended (code ${exitCode}, signal ${signal}) without a report; stderr: ${stderr}`));
      const reports = stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown);
      resolve({ reports, exitCode, exitAfterFirstReportMs: performance.now() - firstReportAt });
    });
  });
}
