// The bits every pool must reproduce: a call's result on the 1-thread reference pool. If the
// reference run itself fails there is nothing to compare against, so the command ends.

import type { AttentionPool, TensorData } from '../../src/index.js';
import { CliFailure, describeError } from '../errors.js';
import type { ValidCall } from './calls.js';

export async function referenceBits(call: ValidCall, referencePool: AttentionPool): Promise<TensorData[]> {
  try {
    return await call.run(referencePool);
  } catch (err) {
    throw new CliFailure(`the 1-thread reference run failed for ${call.label}: ${describeError(err)}`);
  }
}
