/**
 * The health server (SPEC §2): `GET /healthz` → 200 (ok) or 503 (degraded) with JSON, and
 * `GET /metrics` in Prometheus text format. Binds to health.host (loopback by default); port 0
 * in config disables it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from './metrics.js';

export interface HealthReport {
  status: 'ok' | 'degraded' | 'starting' | 'stopping';
  [key: string]: unknown;
}

export interface HealthServer {
  /** The bound address (the real port when 0 was asked for in tests). */
  address(): AddressInfo | null;
  close(): Promise<void>;
}

export async function startHealthServer(options: {
  host: string;
  port: number;
  logger: Logger;
  metrics: Metrics;
  report: () => Promise<HealthReport>;
}): Promise<HealthServer> {
  const server = http.createServer((request, response) => {
    void handle(request.method ?? 'GET', (request.url ?? '/').split('?')[0] ?? '/', response).catch(
      (error: unknown) => {
        options.logger.error('health.error', { err: { message: (error as Error).message } });
        if (!response.headersSent) response.writeHead(500).end();
      },
    );
  });
  const handle = async (method: string, url: string, response: http.ServerResponse) => {
    if (method !== 'GET' && method !== 'HEAD') return void response.writeHead(405, { allow: 'GET, HEAD' }).end();
    if (url === '/healthz') {
      const report = await options.report();
      const body = JSON.stringify(report);
      response.writeHead(report.status === 'ok' ? 200 : 503, {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
      });
      return void response.end(method === 'HEAD' ? undefined : body);
    }
    if (url === '/metrics') {
      const body = await options.metrics.registry.metrics();
      response.writeHead(200, { 'content-type': options.metrics.registry.contentType });
      return void response.end(method === 'HEAD' ? undefined : body);
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('usersync: GET /healthz or /metrics\n');
  };
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    address: () => server.address() as AddressInfo | null,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
