import { EventEmitter } from 'node:events';

/** Wall-clock milliseconds with sub-millisecond precision, for event timestamps. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** A typed facade over EventEmitter: `M` maps event names to their payload. */
export class TypedEmitter<M extends { [K in keyof M]: unknown }> {
  readonly #ee = new EventEmitter({ captureRejections: false });

  constructor() {
    // Ports can have many subscribers (app, failsafe, CLI); the default 10 warns spuriously.
    this.#ee.setMaxListeners(100);
  }

  on<K extends keyof M & string>(event: K, listener: (payload: M[K]) => void): this {
    this.#ee.on(event, listener);
    return this;
  }

  once<K extends keyof M & string>(event: K, listener: (payload: M[K]) => void): this {
    this.#ee.once(event, listener);
    return this;
  }

  off<K extends keyof M & string>(event: K, listener: (payload: M[K]) => void): this {
    this.#ee.off(event, listener);
    return this;
  }

  emit<K extends keyof M & string>(event: K, payload: M[K]): boolean {
    return this.#ee.emit(event, payload);
  }

  listenerCount(event: keyof M & string): number {
    return this.#ee.listenerCount(event);
  }

  removeAllListeners(): void {
    this.#ee.removeAllListeners();
  }
}
