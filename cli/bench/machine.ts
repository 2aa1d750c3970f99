// The machine a benchmark ran on, as bench --json reports it.

import { availableParallelism, cpus } from 'node:os';

export function machineInfo() {
  return { cpu: cpus()[0]?.model ?? 'unknown', availableParallelism: availableParallelism(), node: process.version, platform: `${process.platform} ${process.arch}` };
}
