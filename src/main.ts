/** Entry point: build the CLI from argv, nothing else. */
import { runCli } from './cli/root.js';

process.exitCode = await runCli(process.argv.slice(2));
