// A thread's side of the buffer registry: the shared buffers and the names the pool has registered,
// by id. The serve task starts with the registry as it was and then hears of new ones on its own
// port, in the order the pool registered them; the pool posts a phase's new buffers and names before
// it rings the doorbell, so a descriptor naming an id not yet heard of means the message is queued: it
// is read at once with receiveMessageOnPort rather than waiting for this thread's event loop.
//
// A forgotten buffer's memory is freed only once every thread holding it has collected it, and a
// thread that only runs tiles allocates so little that its full garbage collections come minutes
// apart: under `attnpool stress` (KvCaches and tensors made per call) the threads held 1.3 GiB after
// 30 s. So once FORGOTTEN_BYTES_PER_GC of buffers have been forgotten, the thread runs one full
// collection (v8.queryObjects does one before it counts; ~5 ms for a thread's few-MiB heap).

import { queryObjects } from 'node:v8';
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { RegisteredBuffer, RegistryMessage } from './registry-messages.js';

const FORGOTTEN_BYTES_PER_GC = 64 << 20;

/** What queryObjects counts: nothing (only its collection is wanted). */
class NeverConstructed {}

export class WorkerBuffers {
  readonly #buffers = new Map<number, RegisteredBuffer>();
  readonly #names: string[] = [];
  #forgottenBytes = 0;

  constructor(private readonly port: MessagePort, initial: RegistryMessage) {
    this.#apply(initial);
    port.on('message', (message: RegistryMessage) => this.#apply(message));
    port.unref(); // the serve task keeps the thread busy; the port must not keep it alive after
  }

  /** The buffer registered under `id`. */
  lookup(id: number): RegisteredBuffer {
    let buffer = this.#buffers.get(id);
    while (!buffer) {
      this.#receive('buffer', id);
      buffer = this.#buffers.get(id);
    }
    return buffer;
  }

  /** The name registered under `id`. */
  name(id: number): string {
    let name = this.#names[id];
    while (name === undefined) {
      this.#receive('name', id);
      name = this.#names[id];
    }
    return name;
  }

  /** Applies the next message already posted to this thread. */
  #receive(what: string, id: number): void {
    const received = receiveMessageOnPort(this.port);
    if (!received) throw new Error(`attnpool internal error: ${what} ${id} was never registered with this thread`);
    this.#apply(received.message as RegistryMessage);
  }

  close(): void {
    this.port.close();
    this.#buffers.clear();
  }

  #apply(message: RegistryMessage): void {
    for (const [id, buffer] of message.add ?? []) this.#buffers.set(id, buffer);
    for (const [id, name] of message.names ?? []) this.#names[id] = name;
    for (const id of message.forget ?? []) {
      const buffer = this.#buffers.get(id);
      this.#forgottenBytes += (buffer instanceof WebAssembly.Memory ? buffer.buffer : buffer)?.byteLength ?? 0;
      this.#buffers.delete(id);
    }
    if (this.#forgottenBytes >= FORGOTTEN_BYTES_PER_GC) {
      this.#forgottenBytes = 0;
      collectGarbage();
    }
  }
}

/** One full collection of this thread's heap. v8.queryObjects runs one before it counts; it is
 *  marked experimental, and its one-time ExperimentalWarning (Node 20–26) would reach the user's
 *  stderr from every thread, so the warning is held back for this call only. */
function collectGarbage(): void {
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  try {
    queryObjects(NeverConstructed);
  } finally {
    process.emitWarning = emitWarning;
  }
}
