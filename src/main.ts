/** Entry point: build the CLI from argv, nothing else. */
const argv = process.argv.slice(2);
// `usersync import FILE`: the file's reader starts before the CLI loads (cli/read-ahead.ts).
const readAhead = argv.includes('import') ? await import('./cli/read-ahead.js') : undefined;
readAhead?.readAheadFromArgv(argv);
const { runCli } = await import('./cli/root.js');
process.exitCode = await runCli(argv);
readAhead?.releaseReadAhead();
