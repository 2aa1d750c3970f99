// The kernels every numeric suite runs against (tfjs's habit: tests written once, run on every backend),
// and the thread counts whose results must agree bit for bit.

export type KernelName = 'js' | 'wasm';

export const KERNELS: readonly KernelName[] = ['js', 'wasm'];

export const THREAD_COUNTS: readonly number[] = [1, 2, 3, 4, 8];
