// What the dispatch benchmark prints: a latency table (one row per shape and thread count), the kernel
// time of each shape, and a throughput table; or (--json) one document with the same numbers.

import { formatTable } from '../../format.js';
import { machineInfo } from '../machine.js';
import type { DispatchResult, DispatchSettings } from './run.js';
import { describeDispatchShape } from './shapes.js';

const us = (value: number | null): string => (value === null ? '—' : value >= 100 ? value.toFixed(0) : value.toFixed(1));

export function formatDispatch(result: DispatchResult, settings: DispatchSettings): string {
  const build = result.wasmVariant ? ` (${result.wasmVariant} build)` : '';
  const cpuSource = result.threadCpuNote === null ? 'process.threadCpuUsage() over all timed calls / calls' : 'not measured (see the note)';
  const title = `dispatch: per-call cost, calls one after another (${settings.repeat} timed after ${settings.warmup} warm-up), ` +
    `kernel ${result.kernel}${build}; main-thread CPU: ${cpuSource}`;
  const latency = formatTable(
    ['shape', 'path', 'threads', 'main CPU µs per call', 'wall µs median', 'wall µs p90', 'wall / kernel'],
    result.shapes.flatMap((r) => r.runs.map((run) => [
      describeDispatchShape(r.shape), r.onWorkers ? 'workers' : 'inline', String(run.threads), us(run.cpuPerCallUs),
      us(run.wallMedianUs), us(run.wallP90Us), run.wallOverKernel === null ? '—' : `${run.wallOverKernel.toFixed(1)}×`,
    ])),
  );
  const kernels = result.shapes.map((r) => {
    const k = r.kernelTime;
    return `kernel time of ${describeDispatchShape(r.shape)} (${(r.flops / 1e6).toFixed(1)} MFLOP), 1 thread: ${us(k.kernelUs)} µs = ` +
      `${us(k.wallMedianUs[1])} µs (${k.copies[1]} copies in one call) − ${us(k.wallMedianUs[0])} µs (${k.copies[0]}); ` +
      `the other ${us(k.fixedUs)} µs of the 1-copy call are what a call costs whatever its size`;
  });
  const mixTitle = `calls per second: ${result.mix.callers} concurrent callers, each issuing ` +
    `${result.shapes.map((r) => describeDispatchShape(r.shape)).join(' / ')} in turn, for ${(result.mix.durationMs / 1000).toFixed(1)} s`;
  const mix = formatTable(
    ['threads', 'calls', 'calls/s', 'main CPU µs per call', 'main thread busy'],
    result.mix.runs.map((run) => [
      String(run.threads), String(run.calls), run.callsPerSecond.toFixed(0), us(run.cpuPerCallUs),
      run.mainThreadBusy === null ? '—' : `${(run.mainThreadBusy * 100).toFixed(0)}%`,
    ]),
  );
  const batching = result.batching[0];
  const decodeShape = settings.shapes[settings.shapes.length - 1]!;
  const storage = decodeShape.kvDtype && decodeShape.kvDtype !== 'float32' ? `${decodeShape.kvDtype} ` : '';
  const batchingTitle = batching ? `batching: one decode step for each of ${batching.streams} sequences (own ${storage}KvCache each, ` +
    `${Math.round(settings.shapes[settings.shapes.length - 1]!.keys / 4)}–${settings.shapes[settings.shapes.length - 1]!.keys} positions), ` +
    `${batching.rounds} rounds, the three ways alternating round by round` : '';
  const batchingTable = formatTable(
    ['threads', 'way', 'main CPU µs per step', 'wall µs per round (median)', 'steps/s'],
    result.batching.flatMap((b) => b.runs.map((run) => [
      String(b.threads), run.way, us(run.cpuPerStepUs), us(run.wallPerRoundUs), (b.streams / (run.wallPerRoundUs / 1e6)).toFixed(0),
    ])),
  );
  const notes = [
    ...(result.threadCpuNote ? [`note: ${result.threadCpuNote}`] : []),
    ...(result.shapes.some((r) => r.kernelTime.kernelUs <= 0)
      ? ['note: a kernel time at or below 0 µs means the 2-copy call was not slower than the 1-copy one: the machine was too busy; rerun with a larger --repeat']
      : []),
    ...(result.shapes.some((r) => !r.onWorkers) ? ['note: "inline" shapes are at or under INLINE_MAX_FLOPS and run on the calling thread'] : []),
  ];
  return [title, latency, '', ...kernels, '', mixTitle, mix, '', batchingTitle, batchingTable, ...notes].join('\n');
}

export function dispatchDocument(result: DispatchResult, settings: DispatchSettings) {
  const { threads, warmup, repeat, callers, mixDurationMs, streams, seed, pool } = settings;
  return {
    command: 'bench',
    mode: 'dispatch',
    machine: machineInfo(),
    settings: { threads, warmup, repeat, callers, mixDurationMs, streams, seed, kernel: pool.kernel, wasmBuild: pool.wasmBuild },
    ...result,
  };
}
