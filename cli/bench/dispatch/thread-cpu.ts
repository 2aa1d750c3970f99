// CPU time of the calling thread alone: process.threadCpuUsage() (Node ≥ 23.9). process.cpuUsage()
// would count the workers' CPU too — the very cost the dispatch benchmark must keep apart — so where
// the runtime lacks the per-thread call there is no figure at all, and a note says why.

type ThreadCpuUsage = () => NodeJS.CpuUsage;

const threadCpuUsage = (process as { threadCpuUsage?: ThreadCpuUsage }).threadCpuUsage?.bind(process);

/** Why main-thread CPU is not measured here, or null when it is. */
export const THREAD_CPU_NOTE: string | null = threadCpuUsage
  ? null
  : `main-thread CPU not measured: process.threadCpuUsage() needs Node >= 23.9, this is ${process.version} ` +
    '(process.cpuUsage() would add the workers\' CPU, so it is not used instead)';

/** Microseconds of CPU (user + system) this thread has used so far; null without threadCpuUsage. */
export function threadCpuMicros(): number | null {
  if (!threadCpuUsage) return null;
  const { user, system } = threadCpuUsage();
  return user + system;
}
