/**
 * Ordered, memoised shutdown (STYLE.md "Lifecycle", Fastify/BullMQ close()): steps run in reverse
 * registration order — except `first` steps (stop taking work), which run before all others —
 * every step runs even if one fails, a second call returns the same promise, and the whole thing
 * is bounded by a timeout.
 */
import { describeError } from '../errors.js';
import type { Logger } from '../logging/logger.js';

export interface Shutdown {
  register(name: string, step: () => Promise<unknown>, options?: { first?: boolean }): void;
  /** Runs every step once; later calls get the same promise. Resolves false when it timed out. */
  run(reason: string): Promise<boolean>;
  started(): boolean;
  /** A sleep that ends early when shutdown starts. */
  sleep(ms: number): Promise<void>;
}

export function createShutdown(logger: Logger, timeoutMs: number): Shutdown {
  const steps: Array<{ name: string; step: () => Promise<unknown>; first: boolean }> = [];
  const wakers = new Set<() => void>();
  let running: Promise<boolean> | undefined;
  const log = logger.child({ module: 'shutdown' });

  const runSteps = async (reason: string) => {
    log.info('shutdown.started', { reason });
    const ordered = [...steps.filter((s) => s.first), ...steps.filter((s) => !s.first).reverse()];
    for (const { name, step } of ordered) {
      const started = Date.now();
      try {
        await step();
        log.info('shutdown.step', { step: name, ms: Date.now() - started });
      } catch (error) {
        log.error('shutdown.step_failed', { step: name, err: describeError(error) });
      }
    }
  };

  return {
    register: (name, step, options = {}) => void steps.push({ name, step, first: options.first === true }),
    started: () => running !== undefined,
    run(reason) {
      if (running) return running;
      for (const wake of wakers) wake();
      running = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          log.error('shutdown.timeout', { timeoutMs });
          resolve(false);
        }, timeoutMs);
        timer.unref();
        void runSteps(reason).then(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      return running;
    },
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        if (running) return resolve();
        const done = () => {
          clearTimeout(timer);
          wakers.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        wakers.add(done);
      }),
  };
}
