/**
 * Ctrl-C and TERM for the commands that write in batches (`import`, `imports revert`): the first
 * stops the run after the batch being written, keeping what it committed; a second quits at once.
 */
import { constants as osConstants } from 'node:os';

export interface Interrupt {
  readonly signal: AbortSignal;
  /** The signal that asked the import to stop, once one has. */
  readonly by: NodeJS.Signals | undefined;
  /** 128 + the signal's number, as a shell reports a process the signal ended. */
  exitCode(): number;
  dispose(): void;
}

/**
 * Ctrl-C (or a TERM) stops the import after the batch it is writing, keeping what it committed, and
 * closes it in the register as interrupted; a second one ends the process at once. Without this
 * the process died mid-batch, said nothing, and left the import `running` in the register for ever.
 */
export function listenForInterrupt(): Interrupt {
  const controller = new AbortController();
  let by: NodeJS.Signals | undefined;
  const exitCode = (signal: NodeJS.Signals) => 128 + (osConstants.signals[signal] ?? 0);
  const onSignal = (signal: NodeJS.Signals) => {
    if (by !== undefined) process.exit(exitCode(signal));
    by = signal;
    process.stderr.write(
      `\nusersync: ${signal}: stopping after the batch being written (${signal === 'SIGINT' ? 'Ctrl-C' : signal} again to quit at once)…\n`,
    );
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    get by() {
      return by;
    },
    exitCode: () => exitCode(by ?? 'SIGINT'),
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
