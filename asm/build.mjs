// Compiles the AssemblyScript kernels (asm/*.ts) with the assemblyscript package from node_modules:
// optimised for speed, no garbage collector (the kernels only use raw memory that the JavaScript side
// lays out), and a text listing next to each module for review. Two builds of the same sources:
//   dist/wasm/kernels.wasm          WebAssembly SIMD (runs on every Node ≥ 16)
//   dist/wasm/kernels-relaxed.wasm  + relaxed SIMD (fused multiply-add, see asm/madd.ts): Node ≥ 22,
//                                   or Node 20 with --experimental-wasm-relaxed-simd
// and of each a shared-memory twin (kernels-shared.wasm, kernels-relaxed-shared.wasm): the same code over
// an imported shared memory (env.memory), for instances that run on a paged K/V store's own memory and
// read its pages in place (workers/kernels/wasm/paged-instance.ts). The twin's initial size is the 4 MiB
// below the store's first page (src/paged/page-layout.ts PAGES_BASE), its maximum the 4 GiB of wasm32;
// its static data lies at the bottom of that (the driver checks heapBase() < PAGES_BASE).
//
//   node asm/build.mjs

import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = fileURLToPath(new URL('..', import.meta.url));
const SHARED_MEMORY = ['--importMemory', '--sharedMemory', '--initialMemory', '64', '--maximumMemory', '65536'];
const BUILDS = [
  { name: 'kernels', features: 'simd', memory: [] },
  { name: 'kernels-relaxed', features: 'simd,relaxed-simd', memory: [] },
  { name: 'kernels-shared', features: 'simd,threads', memory: SHARED_MEMORY },
  { name: 'kernels-relaxed-shared', features: 'simd,relaxed-simd,threads', memory: SHARED_MEMORY },
];

await mkdir(new URL('../dist/wasm/', import.meta.url), { recursive: true });
for (const { name, features, memory } of BUILDS) {
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
    ...memory,
    '--baseDir', root,
  ]);
  if (error) {
    console.error(stderr.toString());
    console.error(`asm/build.mjs (${name}): ${error.message}`);
    process.exit(1);
  }
}
