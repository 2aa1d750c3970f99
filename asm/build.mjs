// Compiles the AssemblyScript kernels (asm/*.ts) with the assemblyscript package from node_modules:
// optimised for speed, no garbage collector (the kernels only use raw memory that the JavaScript side
// lays out), and a text listing next to each module for review. Two builds of the same sources:
//   dist/wasm/kernels.wasm          WebAssembly SIMD (runs on every Node ≥ 16)
//   dist/wasm/kernels-relaxed.wasm  + relaxed SIMD (fused multiply-add, see asm/madd.ts): Node ≥ 22,
//                                   or Node 20 with --experimental-wasm-relaxed-simd
//
//   node asm/build.mjs

import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = fileURLToPath(new URL('..', import.meta.url));
const BUILDS = [
  { name: 'kernels', features: 'simd' },
  { name: 'kernels-relaxed', features: 'simd,relaxed-simd' },
];

await mkdir(new URL('../dist/wasm/', import.meta.url), { recursive: true });
for (const { name, features } of BUILDS) {
  const { error, stderr } = await asc.main([
    'asm/kernels.ts',
    '--outFile', `dist/wasm/${name}.wasm`,
    '--textFile', `dist/wasm/${name}.wat`,
    '--optimizeLevel', '3',
    '--shrinkLevel', '0',
    '--converge',
    '--noAssert',
    '--runtime', 'stub',
    '--enable', features,
    '--baseDir', root,
  ]);
  if (error) {
    console.error(stderr.toString());
    console.error(`asm/build.mjs (${name}): ${error.message}`);
    process.exit(1);
  }
}
