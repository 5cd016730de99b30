// `otel-agent run`: the service for the current config, its reloads and its shutdown.
import { spawn } from 'node:child_process';
import type { Logger } from '../component/types.js';
import { ConfigError, formatProblem, loadConfig, type AgentConfig, type FactoryLookup } from '../config/load.js';
import type { ReloadPlan } from '../pipeline/graph.js';
import { Service, ServiceError } from '../pipeline/service.js';
import { StateLock } from '../state/lock.js';
import { HealthServer } from '../telemetry/health.js';
import { createLogger, type AgentLogger } from '../telemetry/logger.js';
import { SelfTelemetry } from '../telemetry/self.js';
import { VERSION } from '../version.js';

/** SIGTERM must end the process within this long, drained or not. */
export const SHUTDOWN_DEADLINE_MS = 4500;

/**
 * Tells systemd (Type=notify) that the agent is ready or reloading. Node cannot send to a
 * unix datagram socket, so this goes through systemd-notify; the unit sets NotifyAccess=all.
 */
function notifySystemd(state: string, logger: Logger): void {
  if (!process.env.NOTIFY_SOCKET) return;
  const child = spawn('systemd-notify', [`--pid=${process.pid}`, state], { stdio: 'ignore' });
  child.on('error', (error) => logger.warn({ err: error.message }, 'systemd-notify failed'));
}

export interface AgentOptions {
  /**
   * Checks a new config before a reload loads it, off the event loop: its problems, empty
   * when it loads, undefined when it could not tell (the reload then checks by loading).
   */
  precheck?: (file: string) => Promise<string[] | undefined>;
}

function healthEndpointOf(config: AgentConfig | undefined): string | undefined {
  return config?.service.telemetry.health?.endpoint;
}

/** `receivers: kept [a], replaced [b], added [], removed []` and the like, for the reload's log line. */
function describePlan(plan: ReloadPlan): Record<string, Record<string, string[]>> {
  const describe = (kind: ReloadPlan['receivers']) =>
    Object.fromEntries(Object.entries(kind).filter(([, ids]) => (ids as string[]).length > 0)) as Record<string, string[]>;
  return { receivers: describe(plan.receivers), exporters: describe(plan.exporters) };
}

export class Agent {
  private service?: Service;
  private config?: AgentConfig;
  /** The agent's health endpoint, when the config asks for one: it outlives reloads that do not move it. */
  private health?: HealthServer;
  /**
   * Holds the process open from start to stop: the components' own timers are unref'd, and
   * after a reload that could not bring an exporter back, no socket may be left to do it.
   */
  private keepAlive?: NodeJS.Timeout;
  private readonly telemetry = new SelfTelemetry();
  /** The state directory's lock, held from start to stop: one agent per directory. */
  private lock?: StateLock;
  private logger: AgentLogger;
  /** Reloads and shutdown run one at a time, in the order the signals came. */
  private queue: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(
    private readonly configFile: string,
    private readonly factories: FactoryLookup,
    private readonly options: AgentOptions = {},
  ) {
    this.logger = createLogger('info');
  }

  /** Loads the config and starts its service; throws ConfigError or the start failure. */
  async start(): Promise<void> {
    const config = loadConfig(this.configFile, this.factories);
    this.logger = createLogger(config.service.telemetry.logs.level);
    for (const id of config.unused) this.logger.warn({ component: id }, 'component is declared but in no pipeline; it is not started');
    this.warnAbout(config);
    this.lock = this.lockStateDirectory(config.service.stateDirectory);
    let service: Service;
    try {
      // Imports the implementations the config uses, then creates its components.
      service = await this.newService(config);
    } catch (error) {
      this.releaseLock();
      throw error;
    }
    this.service = service;
    try {
      // Up before the components start, so a probe sees `starting` rather than a refused connection.
      await this.moveHealthTo(healthEndpointOf(config));
      await service.start();
    } catch (error) {
      await service.shutdown().catch(() => undefined);
      await this.moveHealthTo(undefined).catch(() => undefined);
      this.service = undefined;
      this.releaseLock();
      throw error;
    }
    this.config = config;
    this.keepAlive = setInterval(() => undefined, 2 ** 31 - 1);
    this.logger.info({ version: VERSION, config: this.configFile, pipelines: config.service.pipelines.map((p) => p.name) }, 'otel-agent started');
    notifySystemd('READY=1', this.logger);
  }

  /** Takes the lock of the state directory or throws (another agent runs on it: its PID is named). */
  private lockStateDirectory(directory: string): StateLock {
    return StateLock.acquire(directory, (stalePid) =>
      this.logger.info({ stateDirectory: directory, stalePid }, 'state directory lock left by an agent that is gone; taken over'),
    );
  }

  private releaseLock(): void {
    this.lock?.release();
    this.lock = undefined;
  }

  /** What the config allows but likely did not mean, once per load. */
  private warnAbout(config: AgentConfig): void {
    for (const warning of config.warnings) this.logger.warn({ warning: formatProblem(warning) }, 'configuration warning');
  }

  private newService(config: AgentConfig): Promise<Service> {
    return Service.create({ config, factories: this.factories, logger: this.logger, telemetry: this.telemetry });
  }

  /**
   * Stops the health endpoint and starts one on `endpoint` (none when undefined). When the
   * new one cannot listen, the previous endpoint is listened on again and the error thrown.
   */
  private async moveHealthTo(endpoint: string | undefined): Promise<void> {
    if (this.health?.endpoint === endpoint) return;
    const previous = this.health?.endpoint;
    // The old one goes first: the new address may be the same port under another name.
    await this.health?.shutdown();
    this.health = undefined;
    if (endpoint === undefined) return;
    const health = new HealthServer(endpoint, () => this.service!, this.logger);
    try {
      await health.start();
      this.health = health;
    } catch (error) {
      if (previous !== undefined) await this.moveHealthTo(previous).catch((restartError: unknown) => this.logger.error({ err: (restartError as Error).message }, 'previous health endpoint could not listen again'));
      throw error;
    }
  }

  /**
   * SIGHUP: take the running service to the new config by difference (pipeline/service.ts):
   * what did not change keeps running with its state. A config that is invalid, or whose
   * new components cannot be loaded, created or started, leaves the running components as they were.
   */
  reload(): Promise<void> {
    this.queue = this.queue.then(() => this.doReload());
    return this.queue;
  }

  private async doReload(): Promise<void> {
    if (this.stopping || !this.service || !this.config) return;
    this.logger.info({ config: this.configFile }, 'reloading configuration');
    let next: AgentConfig;
    const problems = await this.options.precheck?.(this.configFile);
    if (problems !== undefined && problems.length > 0) {
      this.refuseReload(problems, 'worker thread');
      return;
    }
    try {
      next = loadConfig(this.configFile, this.factories);
    } catch (error) {
      this.refuseReload(error instanceof ConfigError ? error.message.split('\n') : [(error as Error).message], 'event loop');
      return;
    }
    notifySystemd('RELOADING=1', this.logger);
    const previous = this.config;
    if (next.service.stateDirectory !== previous.service.stateDirectory) {
      // The lock and every component's state are in the directory the agent started on; moving
      // them under running components would lose or double-count. A restart moves them.
      this.logger.warn(
        { stateDirectory: previous.service.stateDirectory, configured: next.service.stateDirectory },
        'service.state_directory changed; a reload keeps the directory the agent started with, a restart takes the new one',
      );
      next = { ...next, service: { ...next.service, stateDirectory: previous.service.stateDirectory } };
    }
    try {
      await this.moveHealthTo(healthEndpointOf(next));
    } catch (error) {
      this.telemetry.reloaded(false);
      this.logger.error({ err: (error as Error).message }, 'new configuration failed to start; the running one stays');
      notifySystemd('READY=1', this.logger);
      return;
    }
    try {
      const plan = await this.service.reload(next);
      this.config = next;
      this.telemetry.reloaded(true);
      this.logger.info({ pipelines: next.service.pipelines.map((p) => p.name), ...describePlan(plan) }, 'configuration reloaded');
      this.warnAbout(next);
    } catch (error) {
      this.telemetry.reloaded(false);
      await this.moveHealthTo(healthEndpointOf(previous)).catch((healthError: unknown) =>
        this.logger.error({ err: (healthError as Error).message }, 'previous health endpoint could not listen again'),
      );
      const code = error instanceof ServiceError ? error.code : undefined;
      if (code === 'AGT_ERR_COMPONENT_LOAD' || code === 'AGT_ERR_COMPONENT_CREATE') {
        this.refuseReload([(error as Error).message], 'event loop');
      } else if (code === 'AGT_ERR_RELOAD_RESTORE') {
        // What did not change still runs; /health shows the component that did not come back.
        this.logger.error({ err: (error as Error).message }, 'new configuration failed to start, and a component it replaced could not be brought back');
      } else {
        this.logger.error({ err: (error as Error).message }, 'new configuration failed to start; the running one stays');
      }
    }
    notifySystemd('READY=1', this.logger);
  }

  /** `checkedOn` says where the file was parsed: a hostile one costs the event loop nothing on a worker thread. */
  private refuseReload(problems: string[], checkedOn: 'worker thread' | 'event loop'): void {
    this.telemetry.reloaded(false);
    this.logger.error({ problems, checkedOn }, 'new configuration refused; the running one stays');
  }

  /** SIGTERM/SIGINT: drain and stop. Resolves when stopped; the caller enforces the deadline. */
  stop(signal: string): Promise<void> {
    if (this.stopping) return this.queue;
    this.stopping = true;
    this.logger.info({ signal }, 'shutting down');
    notifySystemd('STOPPING=1', this.logger);
    this.queue = this.queue.then(async () => {
      try {
        await this.service?.shutdown();
        await this.health?.shutdown();
      } finally {
        // After the final checkpoints: the next agent on the directory starts from them.
        this.releaseLock();
      }
      clearInterval(this.keepAlive);
      this.logger.info({}, 'stopped');
    });
    return this.queue;
  }
}
