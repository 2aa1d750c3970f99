// The filler thread's side of the result stock (src/pool/result-stock.ts): between phases, when it
// has nothing to do, one pool thread makes a fresh result buffer of a size the table asks for, touches
// every page of it — so that the page faults of a new buffer (~45 µs for 128 KiB on a 2-vCPU VM) are
// taken here, not on the calling thread when it copies a result in — and posts it to the pool
// (~28 µs here for 128 KiB: allocation 13, touching 8, posting 6).
//
// A posted buffer's memory stays alive while this thread's SharedArrayBuffer object for it does too.
// Those objects die young, and V8 counts their memory against this thread's heap, so its scavenges
// free them: 12,000 S = 64 calls (1.5 GiB of results) kept the process's RSS at 130 MiB, as without
// the stock. (A full collection every 64 MiB posted, as ./worker-buffers.ts does for buffers it was
// sent, cost ~50 ms each and stalled the thread.)

import type { MessagePort } from 'node:worker_threads';
import { STOCK_SIZES, STOCK_TARGET, stockBytesAt, stockedAt } from './result-stock-table.js';

const PAGE_BYTES = 4096;

export class ResultFiller {
  constructor(private readonly port: MessagePort, private readonly table: Int32Array) {}

  /** Makes and posts one buffer of the first size short of STOCK_TARGET; false when none is. */
  fillOne(): boolean {
    const table = this.table;
    for (let entry = 0; entry < STOCK_SIZES; entry++) {
      const bytes = Atomics.load(table, stockBytesAt(entry));
      if (bytes === 0 || Atomics.load(table, stockedAt(entry)) >= STOCK_TARGET) continue;
      const buffer = new SharedArrayBuffer(bytes);
      const touch = new Uint8Array(buffer);
      for (let at = 0; at < bytes; at += PAGE_BYTES) touch[at] = 0;
      this.port.postMessage(buffer);
      Atomics.add(table, stockedAt(entry), 1);
      return true;
    }
    return false;
  }

  close(): void {
    this.port.close();
  }
}
