// node dist/bench/event-loop.bench.js — how much a server's event loop stalls while attnpool works.
//
// A node:http server on 127.0.0.1 answers GET /health while multi-head attention calls run (default
// S=8192, B=1, E=512, H=8, self-attention, one call after another). perf_hooks.monitorEventLoopDelay
// samples the main thread's event-loop delay meanwhile, and a request loop in the same process times
// the health round trips. Three runs side by side: idle (health requests only), the in-thread
// AttentionPool, and the remote engine (createRemoteEngine: coordinator and pool in a worker).
//
// The query arrives as a plain Float32Array, as a request body would: both engines copy it into
// shared memory on the calling thread (the one copy API.md allows); the weights are shared tensors
// loaded once, as a server would hold them. The request loop is bounded and stops when the calls end.
// Options: --seq N, --calls N, --threads N, --kernel auto|wasm|js, --json.

import { once } from 'node:events';
import { Agent, createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { AttentionPool, createRemoteEngine, type KernelChoice, type Tensor } from '../src/index.js';
import { randomTensor, seededUniform } from './support/random-tensors.js';

const { values } = parseArgs({
  options: {
    seq: { type: 'string', default: '8192' },
    calls: { type: 'string', default: '3' },
    threads: { type: 'string', default: String(availableParallelism()) },
    kernel: { type: 'string', default: 'auto' },
    json: { type: 'boolean', default: false },
  },
});
const S = Number(values.seq), CALLS = Number(values.calls), THREADS = Number(values.threads);
const kernel = values.kernel as KernelChoice;
const B = 1, E = 512, H = 8;
/** A health check every 5 ms (200/s): a busy load balancer's rate, without the request loop itself
 *  taking a core away from the calls. */
const REQUEST_EVERY_MS = 5;
/** Bounds the request loop whatever happens to the calls. */
const MAX_REQUESTS = 100_000;
const IDLE_MS = 3_000;

interface Engine {
  multiHeadAttention: AttentionPool['multiHeadAttention'];
  close(): Promise<void>;
}

interface Row {
  readonly mode: string;
  readonly kernel: string;
  readonly callMsMedian: number | null;
  readonly requests: number;
  readonly healthP99Ms: number;
  readonly healthMaxMs: number;
  readonly loopDelayP50Ms: number;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function plainQuery(): Tensor {
  const next = seededUniform(7);
  const data = new Float32Array(B * S * E);
  for (let i = 0; i < data.length; i++) data[i] = next() * 2 - 1;
  return { data, shape: [B, S, E] };
}

const weights = {
  inProjWeight: randomTensor([3 * E, E], 1), inProjBias: randomTensor([3 * E], 2),
  outProjWeight: randomTensor([E, E], 3), outProjBias: randomTensor([E], 4),
};
for (const w of [weights.inProjWeight, weights.outProjWeight]) for (let i = 0; i < w.data.length; i++) w.data[i] *= 0.05;

/** Runs `work` while the server answers health requests; returns the event loop's and the requests' figures. */
async function measure(mode: string, kernelName: string, work: () => Promise<number[]>): Promise<Row> {
  const server = createServer((req, res) => {
    if (req.url === '/health') res.end('ok');
    else res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const health = () => new Promise<void>((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/health', agent }, (res) => {
      res.resume();
      res.on('end', resolve);
    }).on('error', reject);
  });

  const delay = monitorEventLoopDelay({ resolution: 1 });
  const latencies: number[] = [];
  let stop = false;
  delay.enable();
  const requests = (async () => {
    while (!stop && latencies.length < MAX_REQUESTS) {
      const start = performance.now();
      await health();
      const took = performance.now() - start;
      latencies.push(took);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, REQUEST_EVERY_MS - took)));
    }
  })();
  const callTimes = await work();
  stop = true;
  await requests;
  delay.disable();
  agent.destroy();
  server.close();

  latencies.sort((a, b) => a - b);
  callTimes.sort((a, b) => a - b);
  return {
    mode,
    kernel: kernelName,
    callMsMedian: callTimes.length ? percentile(callTimes, 50) : null,
    requests: latencies.length,
    healthP99Ms: percentile(latencies, 99),
    healthMaxMs: latencies[latencies.length - 1],
    loopDelayP50Ms: delay.percentile(50) / 1e6,
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    loopDelayMaxMs: delay.max / 1e6,
  };
}

/** One call before measuring: threads started, code compiled. */
async function warmUp(engine: Engine): Promise<void> {
  const query = plainQuery();
  await engine.multiHeadAttention(query, query, query, weights, { numHeads: H });
}

/** The measured work: CALLS calls, one after another, each on a fresh plain query. The queries are
 *  made now, before the measurement: filling 4M floats is itself a stall. */
function timedCalls(engine: Engine): () => Promise<number[]> {
  const queries = Array.from({ length: CALLS }, plainQuery);
  return async () => {
    const times: number[] = [];
    for (const query of queries) {
      const start = performance.now();
      await engine.multiHeadAttention(query, query, query, weights, { numHeads: H });
      times.push(performance.now() - start);
    }
    return times;
  };
}

const rows: Row[] = [];
rows.push(await measure('idle', '—', () => new Promise((resolve) => setTimeout(() => resolve([]), IDLE_MS))));
for (const [mode, create] of [
  ['in-thread pool', async () => new AttentionPool({ threads: THREADS, kernel })],
  ['remote engine', () => createRemoteEngine({ threads: THREADS, kernel })],
] as const) {
  const engine = await create();
  await warmUp(engine);
  rows.push(await measure(mode, engine.kernel, timedCalls(engine)));
  await engine.close();
}

if (values.json) {
  console.log(JSON.stringify({ S, B, E, H, threads: THREADS, kernel, calls: CALLS, rows }, null, 2));
} else {
  console.log(`event-loop delay while multiHeadAttention runs: S=${S} B=${B} E=${E} H=${H}, ${THREADS} threads, kernel ${kernel}, ${CALLS} calls per mode, a health request every ${REQUEST_EVERY_MS} ms`);
  console.log('mode            kernel  call ms  health reqs  health p99 ms  health max ms  loop p50 ms  loop p99 ms  loop max ms');
  for (const r of rows) {
    console.log([
      r.mode.padEnd(15), r.kernel.padEnd(6), (r.callMsMedian === null ? '—' : r.callMsMedian.toFixed(0)).padStart(8), String(r.requests).padStart(12),
      r.healthP99Ms.toFixed(2).padStart(14), r.healthMaxMs.toFixed(2).padStart(14),
      r.loopDelayP50Ms.toFixed(2).padStart(12), r.loopDelayP99Ms.toFixed(2).padStart(12), r.loopDelayMaxMs.toFixed(2).padStart(12),
    ].join(' '));
  }
}
