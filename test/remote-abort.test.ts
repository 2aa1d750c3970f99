// Cancellation through the remote engine: the shared suite of test/support/faults-abort.ts. An
// AbortSignal cannot cross threads; the engine forwards the abort to its host by message.

import { createRemoteEngine } from '../dist/src/index.js';
import { describeAbortBehaviour } from './support/faults-abort.js';

describeAbortBehaviour('remote engine', async () => {
  const engine = await createRemoteEngine({ threads: 2, kernel: 'js' });
  return { engine, threads: engine.threads };
});
