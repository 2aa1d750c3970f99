// What the pool's buffer registry (src/pool/buffer-registry.ts) tells each thread through the
// thread's own port: buffers to hold under an id, ids to let go of, and the names descriptors use
// (workers/board/descriptor.ts) under theirs.

/** What the registry holds: shared buffers, and the shared wasm memories of paged K/V stores (which a
 *  thread needs as memories, not as buffers, to run a kernel instance on them). */
export type RegisteredBuffer = SharedArrayBuffer | WebAssembly.Memory;

export interface RegistryMessage {
  readonly add?: readonly (readonly [id: number, buffer: RegisteredBuffer])[];
  readonly forget?: readonly number[];
  readonly names?: readonly (readonly [id: number, name: string])[];
}
