// Validation of createPagedKvCache(options): every option read once and checked, and the store's bytes
// checked against what one wasm32 shared memory holds, before anything is allocated.

import { alternatives, rangeError, typeError } from '../errors.js';
import { checkCapacity, checkDimension } from './kv-cache-args.js';
import { readOptions } from './tensor-arg.js';
import {
  MAX_PAGE_TOKENS, MAX_WASM_PAGES, PAGE_KEY_BLOCK, WASM_PAGE_BYTES, pageGeometry, type PageGeometry, type PagedDType,
} from '../paged/page-layout.js';

export interface PagedKvCacheOptions {
  readonly kvHeads: number;
  readonly headDim: number;
  /** Default headDim. */
  readonly valueDim?: number;
  /** How K/V are stored, default 'float32'; 'float16' and 'int8' by the storage rules of a KvCache of
   *  that dtype (test/golden-variants/README.md). Appends take float32 either way. */
  readonly dtype?: PagedDType;
  /** Positions per page: a positive multiple of 64 (the kernel's key block), at most 2048; default 256. */
  readonly pageTokens?: number;
  /** Positions the store holds over all its sequences, rounded up to whole pages. */
  readonly capacityTokens: number;
}

export const DEFAULT_PAGE_TOKENS = 256;

const OP = 'createPagedKvCache';
const OPTION_NAMES = ['kvHeads', 'headDim', 'valueDim', 'dtype', 'pageTokens', 'capacityTokens'] as const;
const PAGED_DTYPES: readonly PagedDType[] = ['float32', 'float16', 'int8'];
const DTYPE_CHOICES = alternatives(PAGED_DTYPES.map((d) => `'${d}'`));
const PAGE_TOKENS_TEXT = `a positive multiple of ${PAGE_KEY_BLOCK} (the kernel's key block), at most ${MAX_PAGE_TOKENS}`;

/** The store's geometry from its options, or the error naming the first bad one. */
export function resolvePagedKvCacheOptions(optionsIn: unknown): PageGeometry {
  if (optionsIn === undefined) throw typeError(OP, 'options', 'an object { kvHeads, headDim, capacityTokens }', optionsIn);
  const options = readOptions(OP, optionsIn, OPTION_NAMES);
  const kvHeads = checkDimension(OP, 'options.kvHeads', options.kvHeads);
  const headDim = checkDimension(OP, 'options.headDim', options.headDim);
  const valueDim = options.valueDim === undefined ? headDim : checkDimension(OP, 'options.valueDim', options.valueDim);
  const dtype = options.dtype === undefined ? 'float32' : options.dtype;
  if (typeof dtype !== 'string') throw typeError(OP, 'options.dtype', DTYPE_CHOICES, dtype);
  if (!PAGED_DTYPES.includes(dtype as PagedDType)) throw rangeError(OP, 'options.dtype', DTYPE_CHOICES, dtype);
  const pageTokens = options.pageTokens === undefined ? DEFAULT_PAGE_TOKENS : options.pageTokens;
  if (typeof pageTokens !== 'number') throw typeError(OP, 'options.pageTokens', PAGE_TOKENS_TEXT, pageTokens);
  if (!Number.isSafeInteger(pageTokens) || pageTokens < 1 || pageTokens % PAGE_KEY_BLOCK !== 0 || pageTokens > MAX_PAGE_TOKENS) {
    throw rangeError(OP, 'options.pageTokens', PAGE_TOKENS_TEXT, pageTokens);
  }
  if (options.capacityTokens === undefined) throw typeError(OP, 'options.capacityTokens', 'a positive integer', undefined);
  const capacityTokens = checkCapacity(OP, 'options.capacityTokens', options.capacityTokens);
  const geometry = pageGeometry(kvHeads, headDim, valueDim, dtype as PagedDType, pageTokens, capacityTokens);
  const limit = MAX_WASM_PAGES * WASM_PAGE_BYTES;
  if (geometry.memoryBytes > limit) {
    throw new RangeError(`${OP}: options.capacityTokens = ${capacityTokens} needs ${geometry.memoryBytes} bytes of memory ` +
      `(${geometry.pageCount} pages of ${geometry.pageBytes} bytes from byte ${geometry.pagesBase}), more than the ${limit} bytes ` +
      'a wasm32 shared memory holds (take fewer tokens, or a smaller dtype)');
  }
  return geometry;
}
