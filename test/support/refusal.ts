// Calls refused before they allocate: a RangeError with the expected message, and the process's RSS
// not grown by what the call asked for (GiBs in the suites that use this).

import { expect } from 'vitest';
import { caught } from './compare.js';

const MiB = 2 ** 20;
/** RSS may move by a few MiB for unrelated reasons; allocating or touching the refused tensors would
 *  map GiBs. */
export const RSS_SLACK = 256 * MiB;

export async function expectRefused(call: () => unknown, message: RegExp): Promise<void> {
  const rssBefore = process.memoryUsage().rss;
  const err = await caught(call);
  const grown = process.memoryUsage().rss - rssBefore;
  expect(err, String(err)).toBeInstanceOf(RangeError);
  expect((err as Error).message).toMatch(message);
  expect(grown, 'RSS growth (bytes) across the refused call').toBeLessThan(RSS_SLACK);
}
