// Threads of an object its owner drops without close(): released when the object is collected.
//
// Without this, 20 AttentionPools dropped unclosed kept 40 worker threads (51 OS threads, 479 MiB)
// for the life of the process. The registry holds `release` strongly, so `release` must not reach
// the owner (else the owner is never collected): build it with a module-level function whose closure
// holds only the threads' handle — not inside a method or constructor, whose closures can share a
// context holding `this`. While a call is in flight its promises reach the owner through the
// threads' pending tasks, so an owner is never collected, and its threads never ended, mid-call.

const registry = new FinalizationRegistry<() => void>((release) => release());

/** Calls `release` once `owner` has been garbage-collected, unless forgetDropped(owner) came first. */
export function releaseWhenDropped(owner: object, release: () => void): void {
  registry.register(owner, release, owner);
}

/** For close(): the owner released its threads itself. */
export function forgetDropped(owner: object): void {
  registry.unregister(owner);
}
