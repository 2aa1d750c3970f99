// Peak resident memory of this process over a stretch of work. Workers are threads of this process, so
// their memory counts too. process.resourceUsage().maxRSS never goes down, which would hide a smaller
// configuration behind a bigger earlier one; sampling the current RSS while the main thread waits for
// the workers gives a per-configuration peak (to within the sampling interval).

const SAMPLE_INTERVAL_MS = 5;

export interface RssSampler {
  /** Takes a sample now: for callers whose work may keep the timer from firing (a busy event loop). */
  sample(): void;
  /** Stops sampling; the peak RSS seen, in bytes (the same value on every later call). */
  stop(): number;
}

export function sampleRss(): RssSampler {
  let peak = process.memoryUsage.rss();
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage.rss());
  };
  const timer = setInterval(sample, SAMPLE_INTERVAL_MS);
  timer.unref(); // never what keeps the process alive
  let stopped = false;
  return {
    sample,
    stop() {
      if (!stopped) {
        clearInterval(timer);
        sample();
        stopped = true;
      }
      return peak;
    },
  };
}
