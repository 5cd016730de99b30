// /health (JSON), /ready and /live: the agent's own answers to probes. Served by the agent's
// health endpoint (`service.telemetry.health`), which lives across reloads, and by the
// Prometheus exporter on its port too.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ComponentHealth, ComponentStatus, HealthSource, Logger } from '../component/types.js';

/** Worst first: the overall /health status is the worst of the components'. */
const STATUS_SEVERITY: ComponentStatus[] = ['failed', 'degraded', 'starting', 'stopping', 'stopped', 'ok'];

export type HealthRoute = 'health' | 'ready' | 'live';

/** Paths of the probes, and the route of each. */
export const HEALTH_ROUTES: Readonly<Record<string, HealthRoute | undefined>> = Object.assign(Object.create(null), {
  '/health': 'health',
  '/ready': 'ready',
  '/live': 'live',
});

export interface HealthReport {
  status: ComponentStatus;
  components: ComponentHealth[];
}

/** The agent's overall status: the worst of its components' (`ok` with none). /health and `otel_agent.health.status` both use it. */
export function overallStatus(components: readonly Pick<ComponentHealth, 'status'>[]): ComponentStatus {
  return STATUS_SEVERITY.find((level) => components.some((component) => component.status === level)) ?? 'ok';
}

export function healthReport(source: HealthSource): HealthReport {
  // Only the fields an operator needs; reasons are secret-free by the StatusReporter contract.
  const components = source.components().map(({ id, kind, status, reason, since }: ComponentHealth) => ({
    id,
    kind,
    status,
    ...(reason === undefined ? {} : { reason }),
    since,
  }));
  return { status: overallStatus(components), components };
}

export function sendText(res: ServerResponse, code: number, text: string): void {
  const body = `${text}\n`;
  res.statusCode = code;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/** Answers one probe: /health 503 when a component failed, /ready 503 until every pipeline started, /live always 200. */
export function serveHealthRoute(route: HealthRoute, res: ServerResponse, source: HealthSource): void {
  if (route === 'health') {
    const report = healthReport(source);
    const body = JSON.stringify(report);
    res.statusCode = report.status === 'failed' ? 503 : 200;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(body);
  } else if (route === 'ready') {
    const ready = source.ready();
    sendText(res, ready ? 200 : 503, ready ? 'ready' : 'not ready');
  } else {
    // Liveness: the process answers. Whatever a component's state, restarting would not mend it.
    sendText(res, 200, 'live');
  }
}

/** `127.0.0.1:13133` or `[::1]:13133` -> host and port. */
export function splitEndpoint(endpoint: string): { host: string; port: number } {
  const at = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(endpoint.slice(at + 1)) };
}

const SHUTDOWN_GRACE_MS = 1000;

/** The agent's health endpoint: plain HTTP, the three probes and nothing else. */
export class HealthServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly endpoint: string,
    private readonly source: () => HealthSource,
    private readonly logger: Logger,
  ) {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 10_000;
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const route = HEALTH_ROUTES[(req.url ?? '/').split('?', 1)[0]];
    if (!route) return sendText(res, 404, 'not found: try /health, /ready or /live');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendText(res, 405, `method ${req.method} not allowed`);
    }
    serveHealthRoute(route, res, this.source());
  }

  async start(): Promise<void> {
    const { host, port } = splitEndpoint(this.endpoint);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(new Error(`health endpoint: cannot listen on ${this.endpoint}: ${error.message}`));
      this.server.once('error', onError);
      this.server.listen({ host, port }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.server.on('error', (error) => this.logger.error({ endpoint: this.endpoint, err: error.message }, 'health endpoint error'));
    const bound = this.address();
    this.logger.info({ endpoint: bound ? `${bound.host}:${bound.port}` : this.endpoint }, 'serving health');
  }

  /** Where it listens (the real port when the endpoint asked for port 0); undefined when not listening. */
  address(): { host: string; port: number } | undefined {
    const address = this.server.address();
    if (!address || typeof address === 'string') return undefined;
    return { host: (address as AddressInfo).address, port: (address as AddressInfo).port };
  }

  async shutdown(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      const guard = setTimeout(resolve, SHUTDOWN_GRACE_MS);
      this.server.close(() => {
        clearTimeout(guard);
        resolve();
      });
      for (const socket of this.sockets) socket.destroy();
    });
  }
}
