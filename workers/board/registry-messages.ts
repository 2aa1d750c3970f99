// What the pool's buffer registry (src/pool/buffer-registry.ts) tells each thread through the
// thread's own port: buffers to hold under an id, and ids to let go of.

export interface RegistryMessage {
  readonly add?: readonly (readonly [id: number, buffer: SharedArrayBuffer])[];
  readonly forget?: readonly number[];
}
