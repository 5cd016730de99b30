// The Prometheus endpoint: /metrics, /health, /ready, /live over HTTP or HTTPS (optionally mutual
// TLS), on its own server so it binds where the config says and reloads its certificate.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { HEALTH_ROUTES, sendText, serveHealthRoute } from '../../telemetry/health.js';
import { Lifecycle, StatusOnChange } from '../../component/lifecycle.js';
import type { Component, ExporterSettings, Counter, Gauge, Histogram, UpDownCounter } from '../../component/types.js';
import { basicAuthenticator, bearerAuthenticator, TokenFile, type Authenticator, type BasicAuthOptions } from './auth.js';
import type { PrometheusExporterConfig } from './config.js';
import { acceptsGzip, negotiateFormat, oneLine, ScrapeError, SharedScrape } from './scrape.js';
import { CONTENT_TYPE_OPENMETRICS, CONTENT_TYPE_TEXT, type SerializedBytes } from './serializer.js';
import { CertificateReloader, readTlsMaterial, secureContextOptions } from './tls.js';

const SHUTDOWN_GRACE_MS = 1000;
/** A bearer token file is read again on a scrape when its last reading is older than this. */
const TOKEN_FILE_MAX_AGE_MS = 1000;

/** What a client refused for overload is told to wait, in seconds. */
const RETRY_AFTER_S = '1';

/** What can make the exporter degraded; each is reported until it clears. */
type ProblemCause = 'scrape' | 'tls' | 'server' | 'token';
const SCRAPE_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Paths served, and the handler of each: the probes are the agent's (telemetry/health.ts). */
const ROUTES: Record<string, 'metrics' | 'health' | 'ready' | 'live' | undefined> = Object.assign(Object.create(null), {
  '/metrics': 'metrics',
  ...HEALTH_ROUTES,
});

export interface BoundAddress {
  host: string;
  port: number;
}

/** `127.0.0.1:9464` or `[::1]:9464` -> host and port. */
export function parseEndpoint(endpoint: string): BoundAddress {
  const at = endpoint.lastIndexOf(':');
  const host = endpoint.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(endpoint.slice(at + 1)) };
}

interface SelfMetrics {
  scrapeDuration: Histogram;
  scrapes: Counter;
  series: Gauge;
  dropped: Gauge;
  handshakesRefused: Counter;
  requestsRefused: Counter;
  requestsInFlight: UpDownCounter;
}

/** Why a request was answered 503 before any work: in-flight limit, or too many credentials to verify. */
type RefusalReason = 'max_requests' | 'auth_busy';

export interface PrometheusExporterOptions {
  /** Limits and the verifier of basic auth (tests hold and count verifications). */
  basicAuth?: Omit<BasicAuthOptions, 'now'>;
}

export class PrometheusExporter implements Component {
  private readonly scrapeWork: SharedScrape;
  private readonly self: SelfMetrics;
  private readonly sockets = new Set<Socket>();
  /** Reasons the serialiser dropped points for in an earlier scrape, so their gauge returns to 0. */
  private readonly droppedReasons = new Set<string>();
  /** Why the exporter is degraded, by cause; empty means ok. */
  private readonly problems = new Map<ProblemCause, string>();
  private readonly lifecycle: Lifecycle;
  private readonly status: StatusOnChange;
  private server?: HttpServer | HttpsServer;
  private reloader?: CertificateReloader;
  private authenticator?: Authenticator;
  /** Requests to /metrics not yet answered, against `max_requests`. */
  private metricsInFlight = 0;

  constructor(
    private readonly settings: ExporterSettings,
    private readonly config: PrometheusExporterConfig,
    private readonly options: PrometheusExporterOptions = {},
  ) {
    this.status = new StatusOnChange(settings.status);
    this.lifecycle = new Lifecycle(`prometheus exporter "${settings.id}"`, {
      start: (signal) => this.listen(signal),
      stop: () => this.close(),
    });
    this.scrapeWork = new SharedScrape({
      source: settings.source,
      timeoutMs: config.collection_timeout,
      // A collection in progress when the exporter stops ends as its deadline would.
      signal: this.lifecycle.signal,
      serializeOptions: {
        namespace: config.namespace || undefined,
        constLabels: config.const_labels,
        addMetricSuffixes: config.add_metric_suffixes,
        targetInfo: config.target_info,
      },
      onCollectFailure: (reason) => this.settings.logger.warn({ exporter: settings.id }, reason),
    });
    const telemetry = settings.telemetry;
    this.self = {
      scrapeDuration: telemetry.histogram('otel_agent.exporter.scrape.duration', {
        unit: 's',
        description: 'Time to answer a scrape of /metrics, from request to response.',
        buckets: SCRAPE_DURATION_BUCKETS,
      }),
      scrapes: telemetry.counter('otel_agent.exporter.scrapes', {
        unit: '{scrapes}',
        description: 'Scrapes of /metrics, by HTTP status code.',
        valueType: 'int',
      }),
      series: telemetry.gauge('otel_agent.exporter.series', {
        unit: '{series}',
        description: 'Series in the last successful scrape.',
        valueType: 'int',
      }),
      dropped: telemetry.gauge('otel_agent.exporter.dropped', {
        unit: '{points}',
        description: 'Data points the last successful scrape could not show Prometheus, by reason.',
        valueType: 'int',
      }),
      handshakesRefused: telemetry.counter('otel_agent.exporter.tls.handshakes.refused', {
        unit: '{handshakes}',
        description: 'TLS handshakes refused: no client certificate, an untrusted one, or a protocol mismatch.',
        valueType: 'int',
      }),
      requestsInFlight: telemetry.upDownCounter('otel_agent.exporter.requests.in_flight', {
        unit: '{requests}',
        description: 'Requests to /metrics received and not yet answered.',
        valueType: 'int',
      }),
      requestsRefused: telemetry.counter('otel_agent.exporter.requests.refused', {
        unit: '{requests}',
        description: 'Requests to /metrics answered 503 at once, by reason: max_requests in flight, or auth_busy (too many credentials waiting to be verified).',
        valueType: 'int',
      }),
    };
  }

  start(signal: AbortSignal = new AbortController().signal): Promise<void> {
    return this.lifecycle.start(signal);
  }

  /** Where the server listens (the real port when the endpoint asked for port 0); undefined when not listening. */
  address(): BoundAddress | undefined {
    const address = this.server?.address();
    if (!address || typeof address === 'string') return undefined;
    return { host: (address as AddressInfo).address, port: (address as AddressInfo).port };
  }

  shutdown(): Promise<void> {
    return this.lifecycle.shutdown();
  }

  /** The exporter's own stop, once, after any start in progress has ended. */
  private async close(): Promise<void> {
    this.reloader?.stop();
    await this.authenticator?.close?.();
    const server = this.server;
    if (!server?.listening) return;
    await new Promise<void>((resolve) => {
      const guard = setTimeout(resolve, SHUTDOWN_GRACE_MS);
      server.close(() => {
        clearTimeout(guard);
        resolve();
      });
      // A scrape in flight or a connection mid-handshake would otherwise hold close() open.
      for (const socket of this.sockets) socket.destroy();
    });
  }

  private async listen(signal: AbortSignal): Promise<void> {
    const { id, logger } = this.settings;
    const config = this.config;
    const fail = (reason: string) => new Error(`prometheus exporter "${id}": ${reason}`);

    if (config.basic_auth) {
      this.authenticator = basicAuthenticator(config.basic_auth.username, config.basic_auth.password_hash, this.options.basicAuth);
    } else if (config.bearer_token) {
      this.authenticator = bearerAuthenticator(config.bearer_token);
    } else if (config.bearer_token_file) {
      const tokenFile = await TokenFile.open(config.bearer_token_file, TOKEN_FILE_MAX_AGE_MS, {
        recovered: () => this.clearProblem('token'),
        failed: (reason) => {
          logger.warn({ exporter: id }, reason);
          this.setProblem('token', reason);
        },
      }).catch((error) => {
        throw fail(oneLine(error));
      });
      this.authenticator = bearerAuthenticator(() => tokenFile.current());
    }

    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((error) => {
        logger.error({ exporter: id, path: req.url }, `request failed: ${oneLine(error)}`);
        if (!res.headersSent) this.sendText(res, 500, 'internal error');
        else res.destroy();
      });
    };

    let server: HttpServer | HttpsServer;
    if (config.tls) {
      const tls = config.tls;
      const material = await readTlsMaterial(tls).catch((error) => {
        throw fail(oneLine(error));
      });
      let contextOptions;
      try {
        contextOptions = secureContextOptions(tls, material);
      } catch (error) {
        throw fail(oneLine(error));
      }
      const httpsServer = createHttpsServer(
        {
          ...contextOptions,
          // With a client CA, the handshake itself refuses clients without a certificate it signed.
          requestCert: tls.client_ca_file !== undefined,
          rejectUnauthorized: tls.client_ca_file !== undefined,
          handshakeTimeout: 10_000,
        },
        handler,
      );
      httpsServer.on('tlsClientError', (error: Error & { code?: string }, socket: TLSSocket) => {
        // A certificate the client CA did not sign shows as `authorizationError`; the error
        // itself then only says the socket closed. Debug level: anyone can cause these.
        const reason = socket.authorizationError ? String(socket.authorizationError) : error.code;
        this.self.handshakesRefused.add(1, { exporter: id });
        logger.debug({ exporter: id, remote: socket.remoteAddress, reason }, `TLS handshake refused: ${oneLine(error)}`);
      });
      this.reloader = new CertificateReloader(httpsServer, tls, material, {
        succeeded: (swapped) => {
          if (swapped) logger.info({ exporter: id, cert_file: tls.cert_file }, 'certificate reloaded');
          this.clearProblem('tls');
        },
        failed: (reason) => {
          logger.warn({ exporter: id }, reason);
          this.setProblem('tls', reason);
        },
      });
      server = httpsServer;
    } else {
      server = createHttpServer(handler);
    }
    server.headersTimeout = 10_000;
    server.requestTimeout = config.collection_timeout + 10_000;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server = server;

    if (signal.aborted) throw fail('start aborted');
    const { host, port } = parseEndpoint(config.endpoint);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(fail(`cannot listen on ${config.endpoint}: ${error.message}`));
      server.once('error', onError);
      server.listen({ host, port }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (error) => {
      logger.error({ exporter: id }, `server error: ${oneLine(error)}`);
      this.setProblem('server', `server error: ${oneLine(error)}`);
    });
    this.reloader?.start();
    this.status.report('ok');
    const bound = this.address();
    logger.info({ exporter: id, endpoint: bound ? `${bound.host}:${bound.port}` : config.endpoint, tls: Boolean(config.tls) }, 'serving metrics');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    const route = ROUTES[path];
    if (!route) return this.sendText(res, 404, 'not found: try /metrics, /health, /ready or /live');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return this.sendText(res, 405, `method ${req.method} not allowed`);
    }
    if (route === 'metrics') {
      // Bounded so that a burst of scrapes cannot hold unbounded memory; /health and /ready
      // answer small bodies at once and stay reachable for probes while /metrics is full.
      const limit = this.config.max_requests;
      if (limit > 0 && this.metricsInFlight >= limit) {
        return this.refuse(res, 'max_requests', `${limit} requests to /metrics in flight already; retry shortly`);
      }
      const attributes = { exporter: this.settings.id };
      this.metricsInFlight += 1;
      this.self.requestsInFlight.add(1, attributes);
      res.once('close', () => {
        this.metricsInFlight -= 1;
        this.self.requestsInFlight.add(-1, attributes);
      });
    }
    if (route === 'metrics') await this.metrics(req, res);
    else serveHealthRoute(route, res, this.settings.health);
  }

  /** 503 with Retry-After, before any work, counted by reason. */
  private refuse(res: ServerResponse, reason: RefusalReason, text: string): void {
    const { id } = this.settings;
    res.setHeader('Retry-After', RETRY_AFTER_S);
    this.sendText(res, 503, text);
    this.self.requestsRefused.add(1, { exporter: id, reason });
    this.self.scrapes.add(1, { exporter: id, code: '503' });
  }

  private async metrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const { id } = this.settings;
    let code: number;
    const verdict = this.authenticator ? await this.authenticator.check(req.headers.authorization) : 'allowed';
    if (verdict === 'busy') {
      return this.refuse(res, 'auth_busy', 'too many credentials waiting to be verified; retry shortly');
    }
    if (verdict === 'denied') {
      res.setHeader('WWW-Authenticate', this.authenticator!.challenge);
      code = 401;
      this.sendText(res, code, 'unauthorized');
    } else {
      const format = negotiateFormat(req.headers.accept);
      const gzip = acceptsGzip(req.headers['accept-encoding']);
      try {
        const exposition = await this.scrapeWork.scrape(format, gzip);
        code = 200;
        res.statusCode = code;
        res.setHeader('Content-Type', format === 'openmetrics' ? CONTENT_TYPE_OPENMETRICS : CONTENT_TYPE_TEXT);
        res.setHeader('Vary', 'Accept, Accept-Encoding');
        res.setHeader('Cache-Control', 'no-store');
        if (exposition.gzipped) res.setHeader('Content-Encoding', 'gzip');
        const body = exposition.gzipped ?? exposition.body;
        res.setHeader('Content-Length', body.length);
        res.end(body);
        this.recordSeries(exposition.result);
        this.clearProblem('scrape');
      } catch (error) {
        const scrapeError = error instanceof ScrapeError ? error : new ScrapeError(500, oneLine(error));
        code = scrapeError.statusCode;
        if (code === 503) this.settings.logger.warn({ exporter: id }, scrapeError.message);
        this.setProblem('scrape', scrapeError.message);
        this.sendText(res, code, scrapeError.message);
      }
    }
    this.self.scrapes.add(1, { exporter: id, code: String(code) });
    this.self.scrapeDuration.record((performance.now() - started) / 1000, { exporter: id });
  }

  private recordSeries(result: SerializedBytes): void {
    const { id, logger } = this.settings;
    this.self.series.set(result.series, { exporter: id });
    for (const reason of this.droppedReasons) {
      if (!(reason in result.dropped)) this.self.dropped.set(0, { exporter: id, reason });
    }
    for (const [reason, points] of Object.entries(result.dropped)) {
      // Warn when a kind of drop first appears, not on every scrape that repeats it.
      if (!this.droppedReasons.has(reason)) {
        // Merged points are still served, added into the series they share.
        const what = reason === 'merged_series' ? 'data points merged into a series another record shares' : 'data points dropped from the scrape';
        logger.warn({ exporter: id, reason, points }, what);
      }
      this.droppedReasons.add(reason);
      this.self.dropped.set(points, { exporter: id, reason });
    }
  }

  private sendText(res: ServerResponse, code: number, text: string): void {
    sendText(res, code, text);
  }

  private setProblem(cause: ProblemCause, reason: string): void {
    this.problems.set(cause, reason);
    this.status.report('degraded', [...this.problems.values()].join('; '));
  }

  private clearProblem(cause: ProblemCause): void {
    if (!this.problems.delete(cause)) return;
    if (this.problems.size === 0) this.status.report('ok');
    else this.status.report('degraded', [...this.problems.values()].join('; '));
  }
}
