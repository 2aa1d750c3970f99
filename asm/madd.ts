// a·b + c on four lanes. The kernels are built twice (asm/build.mjs): the baseline module multiplies
// and adds (WebAssembly SIMD has no fused multiply-add); the relaxed-SIMD module uses
// f32x4.relaxed_madd, one fused instruction on CPUs with FMA, which halves the arithmetic
// instructions of the Q·Kᵀ and P·V inner loops (kernel level here: 1.23–1.37× the baseline's
// GFLOP/s). Node ≥ 22 accepts the relaxed module as is, Node 20 only with
// --experimental-wasm-relaxed-simd; a pool's wasmBuild 'auto' picks it wherever WebAssembly.validate
// accepts it (workers/kernels/wasm/index.ts). relaxed_madd may be fused or not depending on the CPU
// (V8 emits FMA where the CPU has it), so only the plain build promises the same bits on every machine.

// @ts-ignore: decorator
@inline
export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}
