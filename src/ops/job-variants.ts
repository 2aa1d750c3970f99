// The attention variants of a call (validate/variant-args.ts) as the fields of its attention job: only
// those set, so a job without them is the job it was before they existed.

import type { AttentionJob } from '../../workers/kernels/jobs.js';
import type { ScoreVariants } from '../validate/variant-args.js';

export function jobVariants(v: ScoreVariants): Pick<AttentionJob, 'causal' | 'topLeft' | 'softcap' | 'alibiSlopes' | 'sinks'> {
  return {
    causal: v.causal,
    ...(v.topLeft && { topLeft: true }),
    ...(v.softcap !== undefined && { softcap: v.softcap }),
    ...(v.alibiSlopes && { alibiSlopes: v.alibiSlopes }),
    ...(v.sinks && { sinks: v.sinks }),
  };
}
