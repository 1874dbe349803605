/** A minimal observable value: read it, and be told when it changes (shape fits `useSyncExternalStore`). */

export interface ReadableValue<T> {
  /** The current value. */
  readonly value: T;
  /** Calls `listener` after every change; returns the function that stops it. */
  subscribe(listener: (value: T) => void): () => void;
}

/** Writable implementation of `ReadableValue`; listeners run synchronously, once per actual change. */
export class ValueCell<T> implements ReadableValue<T> {
  private current: T;
  private readonly listeners = new Set<(value: T) => void>();

  constructor(initial: T) {
    this.current = initial;
  }

  get value(): T {
    return this.current;
  }

  set(next: T): void {
    if (Object.is(next, this.current)) return;
    this.current = next;
    notifyAll(this.listeners, next);
  }

  /** Bound, so it can be passed around as a function. */
  readonly subscribe = (listener: (value: T) => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };
}

/**
 * Calls every listener even when one of them throws; the first error is rethrown asynchronously so it
 * is reported without cutting the others off.
 */
export function notifyAll<A extends unknown[]>(
  listeners: Iterable<(...args: A) => void>,
  ...args: A
): void {
  for (const listener of [...listeners]) {
    try {
      listener(...args);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}
