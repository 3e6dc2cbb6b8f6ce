/**
 * A real SCIM 2.0 service provider on 127.0.0.1 (scimmy + scimmy-routers on express) for the SCIM
 * tests: in-memory users and groups, OAuth client-credentials tokens, a log of every request with
 * its raw body, and fault injection. The code lives in bench/scim-provider/ because the benchmark
 * runs it as a process too and tsconfig.bench.json compiles only bench/.
 */
export * from '../../bench/scim-provider/index.js';
