// The remote engine's worker: hosts one AttentionPool off the main thread and serves it through
// comlink. Validation, planning, intermediate allocations and the pool's own messaging with its
// threads all happen here, so the caller's event loop only posts a message and receives the result.

import { expose } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { parentPort } from 'node:worker_threads';
import { kvCacheOver } from '../kv-cache.js';
import { AttentionPool } from '../pool/attention-pool.js';
import { packViews, unpackViews } from '../../workers/packed-views.js';
import type { Answer, EngineHostApi } from './wire.js';
import { toWireError } from './wire.js';

let pool: AttentionPool | undefined;
/** Calls in progress, by the id the main thread gave them, so abort(id) can reach their signal. */
const running = new Map<number, AbortController>();

async function settle<T>(work: () => Promise<T>): Answer<T> {
  try {
    return packViews({ ok: true, value: await work() });
  } catch (err) {
    return packViews({ ok: false, error: toWireError(err) });
  }
}

function openPool(): AttentionPool {
  if (!pool) throw new Error('remote engine: the host received a call before open()');
  return pool;
}

/** Runs one call with an AbortController registered under its id for as long as it runs. The
 *  controller is registered synchronously, before any await: comlink delivers abort(id) after the
 *  call's own message, so an abort always finds its call. */
function track<T>(callId: number, body: (signal: AbortSignal) => Promise<T>): Answer<T> {
  const controller = new AbortController();
  running.set(callId, controller);
  return settle(() => body(controller.signal)).finally(() => running.delete(callId));
}

const host: EngineHostApi = {
  open: (options) => settle(async () => {
    pool = new AttentionPool(options);
    return { threads: pool.threads, kernel: pool.kernel, wasmVariant: pool.wasmVariant };
  }),
  attention: (callId, args) => track(callId, (signal) => {
    const [q, k, v, options] = unpackViews(args);
    return openPool().attention(q, k, v, { ...options, signal });
  }),
  attentionOverCache: (callId, args) => track(callId, (signal) => {
    const [q, cache, options] = unpackViews(args);
    return openPool().attention(q, kvCacheOver(cache), { ...options, signal });
  }),
  attentionBatch: (callId, requests) => track(callId, (signal) => openPool().attentionBatch(unpackViews(requests).map((request) => (request.cache
    ? { q: request.q, kv: kvCacheOver(request.cache), options: request.options }
    : { q: request.q, k: request.k, v: request.v, options: request.options })), { signal })),
  multiHeadAttention: (callId, args) => track(callId, (signal) => {
    const [query, key, value, weights, options] = unpackViews(args);
    return openPool().multiHeadAttention(query, key, value, weights, { ...options, signal });
  }),
  abort: (callId) => running.get(callId)?.abort(),
  close: () => settle(async () => {
    await pool?.close();
  }),
};

if (!parentPort) throw new Error('engine-host.js must run as a worker thread (see remote-engine.ts)');
expose(host, nodeEndpoint(parentPort));
