// The result stock (src/pool/result-stock.ts, workers/board/result-filler.ts): fresh result buffers a
// pool thread makes and touches in advance, so that the calling thread does not take their page
// faults. Every buffer handed out is new, zeroed, exactly the size asked for and handed out once;
// sizes outside [MIN_STOCK_BYTES, MAX_STOCK_BYTES] are never stocked; at most STOCK_TARGET per size
// and STOCK_SIZES sizes, the least recently used giving way; trim() lets everything go. Then through a
// pool: results of calls in a loop never share memory and have the bits of a pool's first call.

import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { AttentionPool, tensor } from '../dist/src/index.js';
import { ResultStock } from '../dist/src/pool/result-stock.js';
import { ResultFiller } from '../dist/workers/board/result-filler.js';
import { MAX_STOCK_BYTES, MIN_STOCK_BYTES, STOCK_SIZES, STOCK_TARGET } from '../dist/workers/board/result-stock-table.js';

function stockAndFiller(): { stock: ResultStock; filler: ResultFiller; close(): void } {
  const stock = new ResultStock();
  const { port1, port2 } = new MessageChannel();
  stock.connect(port1);
  const filler = new ResultFiller(port2, stock.table);
  return { stock, filler, close: () => { filler.close(); stock.disconnect(); } };
}

const allZero = (buffer: SharedArrayBuffer) => new Uint8Array(buffer).every((x) => x === 0);

describe('ResultStock and ResultFiller', () => {
  it('stocks a size asked for again, up to STOCK_TARGET, and hands out new zeroed buffers of exactly that size', () => {
    const { stock, filler, close } = stockAndFiller();
    try {
      const bytes = 128 << 10;
      expect(filler.fillOne(), 'nothing asked for yet').toBe(false);
      expect(stock.take(bytes), 'nothing in stock yet').toBeUndefined();
      expect(filler.fillOne(), 'a size asked for once is not stocked').toBe(false);
      expect(stock.take(bytes), 'still nothing in stock').toBeUndefined();
      for (let i = 0; i < STOCK_TARGET; i++) expect(filler.fillOne(), `fill ${i + 1}`).toBe(true);
      expect(filler.fillOne(), 'at STOCK_TARGET').toBe(false);
      const handed = new Set<SharedArrayBuffer>();
      for (let i = 0; i < STOCK_TARGET; i++) {
        const buffer = stock.take(bytes);
        expect(buffer).toBeInstanceOf(SharedArrayBuffer);
        expect(buffer!.byteLength).toBe(bytes);
        expect(allZero(buffer!), 'zeroed').toBe(true);
        expect(handed.has(buffer!), 'handed out once').toBe(false);
        handed.add(buffer!);
        new Uint8Array(buffer!).fill(7); // a caller's result: must never come back
      }
      expect(stock.take(bytes), 'stock used up').toBeUndefined();
      expect(filler.fillOne(), 'short again').toBe(true);
      const next = stock.take(bytes)!;
      expect(handed.has(next)).toBe(false);
      expect(allZero(next)).toBe(true);
    } finally {
      close();
    }
  });

  it('stocks sizes a loop alternates between, not a size asked for once among many', () => {
    const { stock, filler, close } = stockAndFiller();
    try {
      const [a, b] = [MIN_STOCK_BYTES, 2 * MIN_STOCK_BYTES];
      stock.take(a);
      stock.take(b);
      expect(filler.fillOne(), 'each asked for once').toBe(false);
      stock.take(a);
      stock.take(b);
      while (filler.fillOne());
      expect(stock.take(a)?.byteLength, 'a, asked for again').toBe(a);
      expect(stock.take(b)?.byteLength, 'b, asked for again').toBe(b);
      const once = 3 * MIN_STOCK_BYTES;
      stock.take(once);
      for (let i = 0; i < STOCK_SIZES; i++) stock.take(4 * MIN_STOCK_BYTES + 8 * i); // other sizes push it out
      stock.take(once);
      while (filler.fillOne()); // stocks a and b again, nothing else
      expect(stock.take(once), 'asked again only after STOCK_SIZES other new sizes: not stocked').toBeUndefined();
    } finally {
      close();
    }
  });

  it('never stocks a size outside its bounds, gives way to the least recently used size, and lets all go on trim()', () => {
    const { stock, filler, close } = stockAndFiller();
    try {
      expect(stock.take(MIN_STOCK_BYTES - 4)).toBeUndefined();
      expect(stock.take(MAX_STOCK_BYTES + 4)).toBeUndefined();
      expect(filler.fillOne(), 'sizes out of bounds are not asked for').toBe(false);
      const sizes = Array.from({ length: STOCK_SIZES + 1 }, (_, i) => MIN_STOCK_BYTES + 8 * i);
      for (const bytes of sizes.slice(0, STOCK_SIZES)) {
        stock.take(bytes);
        stock.take(bytes);
      }
      while (filler.fillOne());
      expect(stock.take(sizes[0])!.byteLength, 'sizes[0] in stock (and now the most recently used)').toBe(sizes[0]);
      stock.take(sizes[STOCK_SIZES]);
      stock.take(sizes[STOCK_SIZES]); // asked for again: takes over the least recently used entry, sizes[1]
      expect(stock.take(sizes[1]), 'sizes[1] gave way: its buffers are dropped').toBeUndefined();
      expect(filler.fillOne(), 'the new size is short').toBe(true);
      stock.trim();
      expect(filler.fillOne(), 'after trim(), no size is asked for').toBe(false);
      for (const bytes of sizes) expect(stock.take(bytes), `after trim(): ${bytes}`).toBeUndefined();
    } finally {
      close();
    }
  });
});

describe('results through the stock', () => {
  let pool: AttentionPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  it.each([1, 2])('%i thread(s): results in a loop never share memory, are exactly their size, and have the first call\'s bits', async (threads) => {
    pool = new AttentionPool({ threads });
    const q = tensor([1, 8, 64, 64]); // a 128 KiB result, on the threads
    for (let i = 0; i < q.data.length; i++) q.data[i] = Math.sin(i * 0.11);
    const first = await pool.attention(q, q, q);
    const bits = Buffer.from(first.data.buffer).toString('base64');
    const results = [first];
    for (let i = 0; i < 24; i++) {
      if (i % 3 === 0) await new Promise((resolve) => setTimeout(resolve, 5)); // the filler's idle moments
      results.push(await pool.attention(q, q, q));
    }
    const buffers = new Set(results.map((r) => r.data.buffer));
    expect(buffers.size, 'one buffer per result').toBe(results.length);
    for (const [i, r] of results.entries()) {
      expect(r.data.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(r.data.buffer.byteLength, `result ${i}'s buffer holds it alone`).toBe(r.data.byteLength);
      expect(Buffer.from(r.data.buffer).toString('base64') === bits, `result ${i}: the first call's bits`).toBe(true);
      r.data.fill(i); // written by its caller: must reach no other result
    }
    results.forEach((r, i) => expect(r.data.every((x) => x === i), `result ${i} untouched by the others`).toBe(true));
  });
});
