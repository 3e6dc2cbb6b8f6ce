#!/usr/bin/env node
// The published entry point: runs the compiled CLI (npm run build writes dist/).
//
// CommonJS on purpose (bin/package.json), to size libuv's thread pool before it exists: the pool
// starts at its first use with UV_THREADPOOL_SIZE as it is then, and an ES module entry is read
// through it before its first line runs. Password hashes run on the pool, one more than there are
// cores (pipeline/passwords.ts), and so does file I/O (the reader, the spool, the audit log, the
// reports): with libuv's default of 4 threads, hashing could use at most 4 cores however many the
// machine has, and file reads would queue behind hashes. An operator's own value is kept.
'use strict';
const { availableParallelism } = require('node:os');

if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(Math.max(4, availableParallelism() + 3));
import('../dist/main.js');
