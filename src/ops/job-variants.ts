// The attention variants of a call (validate/variant-args.ts) as the fields of its attention job: those
// not set are undefined (topLeft too when false), which the board's descriptor leaves out, so a job
// without them reaches the threads as the job it was before they existed. Always the same five
// fields: a job literal reads them one by one (attention-op.ts) rather than spreading them.

import type { AttentionJob } from '../../workers/kernels/jobs.js';
import type { ScoreVariants } from '../validate/variant-args.js';

export function jobVariants(v: ScoreVariants): Pick<AttentionJob, 'causal' | 'topLeft' | 'softcap' | 'alibiSlopes' | 'sinks'> {
  return { causal: v.causal, topLeft: v.topLeft || undefined, softcap: v.softcap, alibiSlopes: v.alibiSlopes, sinks: v.sinks };
}
