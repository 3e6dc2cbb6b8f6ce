/**
 * The contract between the yargs root (root.ts) and each command's module (commands/*.ts), in a
 * module of its own: root.ts loads the commands, so a command importing these types from root.ts
 * would make an import cycle.
 */
import type { Argv } from 'yargs';
import type { CommandContext, ContextOptions } from './context.js';

/** Runs a command body in a fresh context; the exit code it sets becomes the process's. */
export type Runner = (
  args: Record<string, unknown>,
  options: ContextOptions,
  body: (context: CommandContext) => Promise<void>,
) => Promise<void>;

/** Registers one command (or a family of them) on the root and runs its body through `run`. */
export type CommandModule = (cli: Argv, run: Runner) => Argv;
