#!/usr/bin/env node
// otel-agent command line: run (default), validate, print-config, components.
import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { z } from 'zod';
import { builtinFactories, EXPORTERS, PROCESSORS, RECEIVERS } from '../components.js';
import { ConfigError, formatProblem, loadConfig } from '../config/load.js';
import { printConfig } from '../config/redact.js';
import { lockHolder } from '../state/lock.js';
import { VERSION } from '../version.js';
import { Agent, SHUTDOWN_DEADLINE_MS } from './agent.js';
import { checkConfigOffThread } from './config-check.js';

const DEFAULT_CONFIGS = ['./otel-agent.yaml', '/etc/otel-agent/otel-agent.yaml'];

function resolveConfigFile(given: string | undefined): string {
  if (given) return given;
  return DEFAULT_CONFIGS.find((file) => existsSync(file)) ?? DEFAULT_CONFIGS[0];
}

/** Config problems go to stderr one per line (file:line:col: path: message); exit 1. */
function failOnConfig(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.stderr.write(`otel-agent: ${error.problems.length} problem(s) in the configuration; nothing was started\n`);
  } else {
    process.stderr.write(`otel-agent: ${(error as Error).message}\n`);
  }
  process.exit(1);
}

async function run(configFile: string): Promise<void> {
  const agent = new Agent(configFile, builtinFactories(), { precheck: checkConfigOffThread });
  // Signal handlers go in before anything starts, so a SIGTERM during start-up is honoured.
  const stop = (signal: NodeJS.Signals) => {
    const timer = setTimeout(() => {
      process.stderr.write(`otel-agent: shutdown took longer than ${SHUTDOWN_DEADLINE_MS}ms; exiting\n`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    timer.unref();
    agent.stop(signal).then(
      () => process.exit(0),
      (error) => {
        process.stderr.write(`otel-agent: shutdown error: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => {
    agent.reload().catch((error: Error) => {
      // Exit rather than serve nothing: systemd (Restart=always) starts the agent again.
      process.stderr.write(`otel-agent: ${error.message}; exiting\n`);
      process.exit(1);
    });
  });
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`otel-agent: unhandled rejection: ${(reason as Error)?.stack ?? String(reason)}\n`);
  });
  try {
    await agent.start();
  } catch (error) {
    failOnConfig(error);
  }
}

function describeKeys(schema: z.ZodType): string {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, { default?: unknown }>;
  };
  const keys = Object.entries(json.properties ?? {}).map(([key, property]) =>
    property.default === undefined ? key : `${key}=${JSON.stringify(property.default)}`,
  );
  return keys.join(', ');
}

const program = new Command('otel-agent')
  .description('OpenTelemetry-native telemetry agent: receivers -> processors -> exporters from one YAML file')
  .version(VERSION, '-v, --version');
const configOption = () => new Option('-c, --config <file>', `config file (default: ${DEFAULT_CONFIGS.join(', then ')})`);

program
  .command('run', { isDefault: true })
  .description('start the agent (the default command)')
  .addOption(configOption())
  .action((options: { config?: string }) => run(resolveConfigFile(options.config)));

program
  .command('validate')
  .description('check a config file without starting anything or touching the network; exit 0 when valid, 1 otherwise')
  .addOption(configOption())
  .action((options: { config?: string }) => {
    const file = resolveConfigFile(options.config);
    try {
      const config = loadConfig(file, builtinFactories(), process.env, { checkLocalFiles: true });
      for (const id of config.unused) process.stderr.write(`warning: ${id} is declared but in no pipeline\n`);
      for (const warning of config.warnings) process.stderr.write(`warning: ${formatProblem(warning)}\n`);
      // Information, not a problem: ExecStartPre and a check by hand run while the agent being
      // replaced may still hold its directory; a second `run` beside it would be refused.
      const holder = lockHolder(config.service.stateDirectory);
      if (holder !== undefined) {
        process.stderr.write(`note: state directory ${config.service.stateDirectory} is in use by a running agent (PID ${holder}); another \`run\` on it is refused while that agent runs\n`);
      }
      process.stdout.write(`${file}: valid (${config.service.pipelines.length} pipeline(s))\n`);
    } catch (error) {
      failOnConfig(error);
    }
  });

program
  .command('print-config')
  .description('print the effective config, defaults filled in and secrets redacted')
  .addOption(configOption())
  .action((options: { config?: string }) => {
    try {
      process.stdout.write(printConfig(loadConfig(resolveConfigFile(options.config), builtinFactories())));
    } catch (error) {
      failOnConfig(error);
    }
  });

program
  .command('components')
  .description('list the component types this build knows, with their config keys and defaults')
  .action(() => {
    for (const [kind, factories] of [['receivers', RECEIVERS], ['processors', PROCESSORS], ['exporters', EXPORTERS]] as const) {
      process.stdout.write(`${kind}:\n`);
      for (const factory of factories) {
        process.stdout.write(`  ${factory.type} (${factory.stability}): ${factory.description}\n`);
        process.stdout.write(`    keys: ${describeKeys(factory.configSchema)}\n`);
      }
    }
  });

await program.parseAsync(process.argv);
