// The ALiBi slopes of the paper (Press, Smith, Lewis 2022, "Train short, test long"), for
// options.alibiSlopes: a geometric sequence per head, steeper for the first heads.

import { rangeError, typeError } from './errors.js';

/** The ALiBi paper's slopes for `heads` heads (Press et al. 2022, and BLOOM's code): for a power of two
 *  n, 2^(−8k/n) for k = 1 … n; otherwise those of the largest power of two n below `heads`, then every
 *  other slope of 2n's (2^(−4k/n) for odd k) until there are `heads`. */
export function alibiSlopes(heads: number): Float64Array {
  if (typeof heads !== 'number') throw typeError('alibiSlopes', 'heads', 'a number', heads);
  if (!Number.isInteger(heads) || heads < 1) throw rangeError('alibiSlopes', 'heads', 'a positive integer', heads);
  let n = 1;
  while (2 * n <= heads) n *= 2;
  const slopes = new Float64Array(heads);
  for (let k = 1; k <= n; k++) slopes[k - 1] = 2 ** (-8 * k / n);
  for (let k = 1; n + k <= heads; k++) slopes[n + k - 1] = 2 ** (-8 * (2 * k - 1) / (2 * n));
  return slopes;
}
