// The main thread's end of the remote engine: the host worker, its comlink proxy, and the requests
// waiting on it. comlink has no notion of a peer dying (a request to a dead worker never settles), so
// the link rejects every waiting request itself when the worker fails or exits. While nothing is
// waiting the worker is unref'd: an engine its owner forgot to close does not keep the process alive.

import { releaseProxy, wrap, type Remote } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { Worker } from 'node:worker_threads';
import { WorkerFailedError } from '../errors.js';
import { unwrap, type Answer, type EngineHostApi } from './wire.js';

const HOST_URL = new URL('./engine-host.js', import.meta.url);
const OP = 'remote engine';

export class HostLink {
  readonly #worker = new Worker(HOST_URL);
  readonly #host: Remote<EngineHostApi> = wrap<EngineHostApi>(nodeEndpoint(this.#worker));
  readonly #waiting = new Set<(err: Error) => void>();
  #ended: Error | undefined;

  constructor() {
    this.#worker.unref();
    this.#worker.on('error', (err) => this.#end(new WorkerFailedError(OP, err)));
    this.#worker.on('exit', (code) => this.#end(new WorkerFailedError(OP, `its host thread exited with code ${code}`)));
  }

  get ended(): boolean {
    return this.#ended !== undefined;
  }

  /** Sends one request and resolves with its value, or rejects with the host's error rebuilt (or
   *  with WorkerFailedError if the host thread dies first). */
  request<T>(send: (host: Remote<EngineHostApi>) => Answer<T>): Promise<T> {
    if (this.#ended) return Promise.reject(this.#ended);
    return new Promise<T>((resolve, reject) => {
      if (this.#waiting.size === 0) this.#worker.ref();
      this.#waiting.add(reject);
      send(this.#host).then(unwrap).then(resolve, reject).finally(() => this.#settled(reject));
    });
  }

  /** A one-way message (no answer awaited). */
  notify(send: (host: Remote<EngineHostApi>) => Promise<unknown>): void {
    if (!this.#ended) send(this.#host).catch(() => {});
  }

  /** Ends the host thread; waiting requests reject with `reason`. */
  async terminate(reason: Error): Promise<void> {
    this.#end(reason);
    this.#host[releaseProxy]();
    await this.#worker.terminate();
  }

  #settled(reject: (err: Error) => void): void {
    if (this.#waiting.delete(reject) && this.#waiting.size === 0) this.#worker.unref();
  }

  #end(reason: Error): void {
    if (this.#ended) return;
    this.#ended = reason;
    for (const reject of this.#waiting) reject(reason);
    this.#waiting.clear();
    this.#worker.unref();
  }
}
