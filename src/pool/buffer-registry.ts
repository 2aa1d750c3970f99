// The shared buffers the pool's threads hold, each under an id the board's descriptors name
// (workers/board/descriptor.ts), and the names those descriptors use (field names, kinds, dtypes:
// strings of attnpool's own code, never a caller's). A buffer or name is sent to the threads once,
// when a phase first refers to it, not with every phase: a KvCache's buffers, a caller's reused tensors and the pool's scratch
// (scratch-pool.ts) cross once, and a phase costs the calling thread the same at 64 threads as at 1.
// Sending is one message per thread (their ports), batched per phase.
//
// A paged store's shared WebAssembly.Memory is registered the same way (as the memory: a thread runs a
// kernel instance on it, workers/kernels/wasm/paged-instance.ts).
//
// The registry holds buffers weakly: once the calling thread drops one, the threads are told to drop
// it too (FinalizationRegistry), so registering never keeps memory alive.

import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { RegisteredBuffer, RegistryMessage } from '../../workers/board/registry-messages.js';

/** Far more than attnpool's jobs have (~100): more means something put a caller's string in a job. */
const MAX_NAMES = 4096;

export class BufferRegistry {
  readonly #ids = new WeakMap<RegisteredBuffer, number>();
  readonly #live = new Map<number, WeakRef<RegisteredBuffer>>();
  readonly #ports = new Map<number, MessagePort>();
  readonly #finalizer = new FinalizationRegistry<number>((id) => this.#forget(id));
  #nextId = 1;
  #added: [number, RegisteredBuffer][] = [];
  readonly #nameIds = new Map<string, number>();
  #addedNames: [number, string][] = [];
  #forgotten: number[] = [];
  #forgetQueued = false;

  /** The id of `buffer`, registering it (sent with the next flush) when new. */
  idOf(buffer: RegisteredBuffer): number {
    let id = this.#ids.get(buffer);
    if (id === undefined) {
      id = this.#nextId++;
      this.#ids.set(buffer, id);
      this.#live.set(id, new WeakRef(buffer));
      this.#finalizer.register(buffer, id);
      this.#added.push([id, buffer]);
    }
    return id;
  }

  /** The id of `name`, registering it (sent with the next flush) when new. Names are never
   *  forgotten: they are the bounded vocabulary of attnpool's jobs. */
  nameOf(name: string): number {
    let id = this.#nameIds.get(name);
    if (id === undefined) {
      id = this.#nameIds.size;
      if (id >= MAX_NAMES) throw new Error(`attnpool internal error: more than ${MAX_NAMES} names on the board (the last: ${JSON.stringify(name.slice(0, 40))})`);
      this.#nameIds.set(name, id);
      this.#addedNames.push([id, name]);
    }
    return id;
  }

  /** Sends the buffers and names registered since the last flush to every thread. */
  flush(): void {
    if (this.#added.length === 0 && this.#addedNames.length === 0) return;
    const message: RegistryMessage = { add: this.#added, names: this.#addedNames };
    this.#added = [];
    this.#addedNames = [];
    for (const port of this.#ports.values()) port.postMessage(message);
  }

  /** A port for thread `worker`'s new serve task, and the registry as of now for it to start from. */
  connect(worker: number): { readonly port: MessagePort; readonly initial: RegistryMessage } {
    this.disconnect(worker);
    this.flush(); // what is pending goes to the others; the snapshot below has it for this one
    const { port1, port2 } = new MessageChannel();
    port1.unref();
    this.#ports.set(worker, port1);
    const add: [number, RegisteredBuffer][] = [];
    for (const [id, ref] of this.#live) {
      const buffer = ref.deref();
      if (buffer) add.push([id, buffer]);
    }
    return { port: port2, initial: { add, names: [...this.#nameIds].map(([name, id]) => [id, name]) } };
  }

  disconnect(worker: number): void {
    this.#ports.get(worker)?.close();
    this.#ports.delete(worker);
  }

  #forget(id: number): void {
    this.#live.delete(id);
    this.#forgotten.push(id);
    if (this.#forgetQueued) return;
    this.#forgetQueued = true;
    queueMicrotask(() => {
      this.#forgetQueued = false;
      const message: RegistryMessage = { forget: this.#forgotten };
      this.#forgotten = [];
      for (const port of this.#ports.values()) port.postMessage(message);
    });
  }
}
