// `otel-agent run`: the service for the current config, its reloads and its shutdown.
import { spawn } from 'node:child_process';
import type { Logger } from '../component/types.js';
import { ConfigError, formatProblem, loadConfig, type AgentConfig, type FactoryLookup } from '../config/load.js';
import { Service } from '../pipeline/service.js';
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

export class Agent {
  private service?: Service;
  private config?: AgentConfig;
  private readonly telemetry = new SelfTelemetry();
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
    const service = this.newService(config);
    await service.start();
    this.service = service;
    this.config = config;
    this.logger.info({ version: VERSION, config: this.configFile, pipelines: config.service.pipelines.map((p) => p.name) }, 'otel-agent started');
    notifySystemd('READY=1', this.logger);
  }

  /** What the config allows but likely did not mean, once per load. */
  private warnAbout(config: AgentConfig): void {
    for (const warning of config.warnings) this.logger.warn({ warning: formatProblem(warning) }, 'configuration warning');
  }

  private newService(config: AgentConfig): Service {
    return new Service({ config, factories: this.factories, logger: this.logger, telemetry: this.telemetry });
  }

  /**
   * SIGHUP: swap in the new config only if it is valid and starts; otherwise keep the old.
   * Rejects when the old one cannot start again either: then nothing runs.
   */
  reload(): Promise<void> {
    this.queue = this.queue.then(() => this.doReload());
    return this.queue;
  }

  private async doReload(): Promise<void> {
    if (this.stopping || !this.service || !this.config) return;
    this.logger.info({ config: this.configFile }, 'reloading configuration');
    let next: AgentConfig;
    let nextService: Service;
    const problems = await this.options.precheck?.(this.configFile);
    if (problems !== undefined && problems.length > 0) {
      this.refuseReload(problems, 'worker thread');
      return;
    }
    try {
      next = loadConfig(this.configFile, this.factories);
      nextService = this.newService(next);
    } catch (error) {
      this.refuseReload(error instanceof ConfigError ? error.message.split('\n') : [(error as Error).message], 'event loop');
      return;
    }
    notifySystemd('RELOADING=1', this.logger);
    // The old service must let go of its ports before the new one binds them.
    await this.service.shutdown().catch((error) => this.logger.warn({ err: (error as Error).message }, 'old service shut down with errors'));
    try {
      await nextService.start();
      this.service = nextService;
      this.config = next;
      this.telemetry.reloaded(true);
      this.logger.info({ pipelines: next.service.pipelines.map((p) => p.name) }, 'configuration reloaded');
      this.warnAbout(next);
    } catch (error) {
      this.telemetry.reloaded(false);
      this.logger.error({ err: (error as Error).message }, 'new configuration failed to start; restarting the previous one');
      const previous = this.newService(this.config);
      try {
        await previous.start();
      } catch (restartError) {
        // Nothing runs now: the caller exits, and the service manager starts the agent again.
        throw new Error(`the new configuration failed to start, and so did the previous one: ${(restartError as Error).message}`);
      }
      this.service = previous;
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
      await this.service?.shutdown();
      this.logger.info({}, 'stopped');
    });
    return this.queue;
  }
}
