// Compiles the AssemblyScript kernels (asm/*.ts) into dist/wasm/kernels.wasm with the assemblyscript
// package from node_modules: optimised for speed, SIMD on, no garbage collector (the kernels only use
// raw memory that the JavaScript side lays out), and a text listing next to it for review.
//
//   node asm/build.mjs

import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = fileURLToPath(new URL('..', import.meta.url));

await mkdir(new URL('../dist/wasm/', import.meta.url), { recursive: true });
const { error, stderr } = await asc.main([
  'asm/kernels.ts',
  '--outFile', 'dist/wasm/kernels.wasm',
  '--textFile', 'dist/wasm/kernels.wat',
  '--optimizeLevel', '3',
  '--shrinkLevel', '0',
  '--converge',
  '--noAssert',
  '--runtime', 'stub',
  '--enable', 'simd',
  '--baseDir', root,
]);
if (error) {
  console.error(stderr.toString());
  console.error(`asm/build.mjs: ${error.message}`);
  process.exit(1);
}
