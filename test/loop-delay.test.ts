// The stress command's event-loop delay (cli/stress/loop-delay.ts): an idle loop reads about 0, not
// the ≈ 10 ms interval of the sampling timer, and a loop blocked for 60 ms reads about 60 ms.

import { describe, expect, it } from 'vitest';
import { monitorLoopDelay } from '../cli/stress/loop-delay.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* a synchronous stall, as a long call on the calling thread would be */ }
}

describe('stress event-loop delay', () => {
  it('an idle loop: well under the 10 ms sampling interval', async () => {
    const monitor = monitorLoopDelay();
    await sleep(400);
    const p99 = await monitor.stopP99Ms();
    expect(p99).toBeGreaterThanOrEqual(0);
    expect(p99).toBeLessThan(5);
  });

  it('a loop blocked 60 ms again and again: p99 of about 60 ms', async () => {
    const monitor = monitorLoopDelay();
    for (let i = 0; i < 8; i++) {
      await sleep(15);
      blockFor(60);
    }
    const p99 = await monitor.stopP99Ms();
    expect(p99).toBeGreaterThan(45);
    expect(p99).toBeLessThan(100);
  });
});
