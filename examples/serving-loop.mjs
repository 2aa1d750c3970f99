// A serving loop (continuous batching): many concurrent requests, each generating with its own sequence
// in one paged K/V store. A shared system prompt is prefilled once; every request forks it (its pages are
// shared, not copied: prefix caching) and adds its own prompt. Each step is ONE pool.attentionBatch over
// every active request — a decode step for the running ones, a prefill chunk for the ones admitted this
// step — then each request appends its next token. Requests wait for admission until the store has the
// pages their whole generation needs, and give their pages back when done, so the store never runs full.
// The "model" is a toy (random embeddings and projections, one attention layer, argmax over a small
// vocabulary) so that the serving logic is the whole story; every attention row is checked against a
// float64 reference over the request's whole sequence.
//   npm run build, then node examples/serving-loop.mjs

import { AttentionPool, tensor } from 'attnpool';
import { check } from './support/check.mjs';
import * as reference from './support/reference.mjs';

const [H, Hkv, D, VOCAB, PAGE] = [4, 2, 16, 64, 64];
const SYSTEM_PROMPT = Array.from({ length: 70 }, (_, i) => (i * 7) % VOCAB);   // one full page and a partial one
const REQUESTS = [[5, 12], [17, 9], [3, 20], [30, 6], [11, 15], [8, 11]];      // [prompt tokens, tokens to generate]

// The toy model: token → q [H, D], k and v [Hkv, D] (seeded numbers); attention output → next token.
let seed = 11;
const random = (n) => Float32Array.from({ length: n }, () => (seed = (seed * 16807) % 2147483647) / 2147483647 * 2 - 1);
const [WQ, WK, WV, WOUT] = [random(VOCAB * H * D), random(VOCAB * Hkv * D), random(VOCAB * Hkv * D), random(H * D * VOCAB)];

/** q, k and v of `tokens` as [1, heads, n, D] tensors. */
function project(tokens) {
  const rows = (w, heads) => {
    const data = new Float32Array(heads * tokens.length * D);
    tokens.forEach((token, t) => {
      for (let h = 0; h < heads; h++) data.set(w.subarray((token * heads + h) * D, (token * heads + h + 1) * D), (h * tokens.length + t) * D);
    });
    return tensor([1, heads, tokens.length, D], data);
  };
  return { q: rows(WQ, H), k: rows(WK, Hkv), v: rows(WV, Hkv) };
}

/** The next token after the last row of out [1, H, n, D]: argmax over the vocabulary of the joined heads · WOUT. */
function nextToken(out) {
  const n = out.shape[2];
  let best = 0, bestLogit = -Infinity;
  for (let token = 0; token < VOCAB; token++) {
    let logit = 0;
    for (let h = 0; h < H; h++) {
      for (let d = 0; d < D; d++) logit += out.data[(h * n + n - 1) * D + d] * WOUT[(h * D + d) * VOCAB + token];
    }
    if (logit > bestLogit) [best, bestLogit] = [token, logit];
  }
  return best;
}

const pagesFor = (tokens) => Math.ceil(tokens / PAGE);

/** Runs requests to completion on one store, admitting each once the store has the pages it will need. */
class Server {
  #waiting = [];
  #active = [];
  #looping = false;
  /** Steps run, and the most requests one step served. */
  steps = 0;
  widest = 0;

  constructor(pool, store, system) {
    Object.assign(this, { pool, store, system });
    this.sharedPages = Math.floor(system.length / PAGE);   // full pages every fork shares for good
  }

  /** Resolves to { tokens, rows } when the request has generated `count` tokens after `prompt`. */
  generate(prompt, count) {
    return new Promise((resolve, reject) => {
      // Pages of its own: all of its final length's pages but the system prompt's full ones (the partial
      // one is copied on its first append).
      const pages = pagesFor(this.system.length + prompt.length + count - 1) - this.sharedPages;
      this.#waiting.push({ prompt, count, pages, resolve, reject, tokens: [], rows: [] });
      if (!this.#looping) this.#loop().catch((error) => this.#failAll(error));
    });
  }

  async #loop() {
    this.#looping = true;
    while (this.#waiting.length > 0 || this.#active.length > 0) {
      this.#admit();
      // Every active request's next rows: its whole prompt when just admitted, else its last token.
      const steps = this.#active.map((r) => {
        const input = r.tokens.length === 0 ? r.prompt : r.tokens.slice(-1);
        const { q, k, v } = project(input);
        r.seq.append(k, v);
        return { q, kv: r.seq, options: { causal: true } };
      });
      const outs = await this.pool.attentionBatch(steps);
      this.steps++;
      this.widest = Math.max(this.widest, steps.length);
      this.#active.forEach((r, i) => {
        r.rows.push(outs[i]);
        r.tokens.push(nextToken(outs[i]));
      });
      for (const r of this.#active.filter((r) => r.tokens.length === r.count)) {
        r.seq.release();
        r.resolve({ tokens: r.tokens, rows: r.rows });
      }
      this.#active = this.#active.filter((r) => r.tokens.length < r.count);
    }
    this.#looping = false;
  }

  /** Moves waiting requests in arrival order into the batch while the store has their pages free. */
  #admit() {
    const promised = this.#active.reduce((sum, r) => sum + r.pages - (pagesFor(r.seq.length) - this.sharedPages), 0);
    let free = this.store.freePages - promised;
    while (this.#waiting.length > 0 && this.#waiting[0].pages <= free) {
      const r = this.#waiting.shift();
      free -= r.pages;
      r.seq = this.system.fork();
      this.#active.push(r);
    }
    if (this.#active.length === 0) throw new RangeError(`a request needs ${this.#waiting[0].pages} pages; the store has ${this.store.freePages} free`);
  }

  #failAll(error) {
    for (const r of [...this.#active, ...this.#waiting]) r.reject(error);
    this.#active = [];
    this.#waiting = [];
    this.#looping = false;
  }
}

const pool = new AttentionPool({ threads: 2 });
// Room for the system prompt and four requests' own pages at a time: the other two wait their turn.
const store = pool.createPagedKvCache({ kvHeads: Hkv, headDim: D, pageTokens: PAGE, capacityTokens: 6 * PAGE });
const system = store.sequence();
const systemInput = project(SYSTEM_PROMPT);
system.append(systemInput.k, systemInput.v);
const systemRows = await pool.attention(systemInput.q, system, { causal: true });
check('system prompt prefill', systemRows.data, reference.attention(systemInput.q, systemInput.k, systemInput.v, { causal: true }).out, 1e-5);

const server = new Server(pool, store, system);
const prompts = REQUESTS.map(([length], n) => Array.from({ length }, (_, i) => (n * 13 + i * 5) % VOCAB));
const results = await Promise.all(REQUESTS.map(([, count], n) => server.generate(prompts[n], count)));

results.forEach(({ tokens, rows }, n) => {
  // The request's whole sequence, each token's q/k/v as the server made them; its rows are the last ones.
  const all = project([...SYSTEM_PROMPT, ...prompts[n], ...tokens.slice(0, -1)]);
  const expected = reference.attention(all.q, all.k, all.v, { causal: true }).out;
  const own = all.q.shape[2] - SYSTEM_PROMPT.length;
  const wanted = new Float64Array(H * own * D), got = new Float32Array(H * own * D);
  let row = 0;
  for (const out of rows) {
    const n = out.shape[2];
    for (let h = 0; h < H; h++) {
      got.set(out.data.subarray(h * n * D, (h + 1) * n * D), (h * own + row) * D);
      wanted.set(expected.subarray((h * all.q.shape[2] + SYSTEM_PROMPT.length + row) * D, (h * all.q.shape[2] + SYSTEM_PROMPT.length + row + n) * D), (h * own + row) * D);
    }
    row += n;
  }
  check(`request ${n}: ${prompts[n].length}-token prompt, ${tokens.length} tokens generated`, got, wanted, 1e-5);
});
console.log(`${REQUESTS.length} requests in ${server.steps} steps, at most ${server.widest} in one step (what the store's pages allowed)`);
system.release();
if (store.usedTokens !== 0) throw new Error(`the store still holds ${store.usedTokens} positions after every sequence was released`);
await pool.close();
