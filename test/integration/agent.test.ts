// The agent as an operator runs it: a real process, a real config file, signals.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_BIN, fetchAgent, runAgent, startAgent, tempDir, waitForLog, waitForMetric, writeConfig, type AgentProcess } from '../support/agent-process.js';
import { freePort } from '../support/ports.js';

function config(port: number): string {
  return `receivers:
  hostmetrics:
    collection_interval: 1s
exporters:
  prometheus:
    endpoint: 127.0.0.1:${port}
service:
  pipelines:
    metrics:
      receivers: [hostmetrics]
      exporters: [prometheus]
`;
}

const running: AgentProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((agent) => agent.stop()));
});

/** A regular file in `dir`, to stand where a directory is expected. */
function plainFileIn(dir: string): string {
  const path = join(dir, 'plain-file');
  writeFileSync(path, '');
  return path;
}

function mkfifo(path: string): string {
  const result = spawnSync('mkfifo', [path]);
  expect(result.status, String(result.stderr)).toBe(0);
  return path;
}

function start(args: string[]): AgentProcess {
  const agent = startAgent(args, { STATE_DIRECTORY: tempDir('otel-agent-state-') });
  running.push(agent);
  return agent;
}

describe('otel-agent run', () => {
  it('serves host metrics, its own metrics and target_info, and the scrape passes promtool', async () => {
    const port = await freePort();
    const file = writeConfig(tempDir(), config(port));
    const agent = start(['run', '--config', file]);
    const body = await waitForMetric(port, /^system_cpu_time_seconds_total\{/m);
    expect(body).toMatch(/^otel_agent_build_info\{.*version="\d+\.\d+\.\d+".*\} 1$/m);
    // The agent's own process, as the kernel sees it.
    const rss = Number(/^otel_agent_process_memory_rss_bytes(?:\{[^}]*\})? (\S+)$/m.exec(body)?.[1]);
    const kernelRss = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${agent.child.pid}/status`, 'utf8'))![1]) * 1024;
    expect(rss).toBeGreaterThan(kernelRss / 2);
    expect(rss).toBeLessThan(kernelRss * 2);
    expect(Number(/^otel_agent_process_cpu_time_seconds_total\{.*cpu_mode="user".*\} (\S+)$/m.exec(body)?.[1])).toBeGreaterThan(0);
    expect(body).toMatch(/^otel_agent_process_heap_used_bytes(\{[^}]*\})? [1-9]/m);
    expect(body).toMatch(/^otel_agent_process_heap_total_bytes(\{[^}]*\})? [1-9]/m);
    expect(body).toMatch(/^otel_agent_process_event_loop_utilization_ratio(\{[^}]*\})? \d/m);
    expect(body).toMatch(/^otel_agent_uptime_seconds(\{[^}]*\})? \d/m);
    expect(body).toMatch(/^target_info\{.*host_name="[^"]+".*service_name="otel-agent".*\} 1$/m);
    expect(body).toMatch(/^otel_agent_component_status\{.*component="hostmetrics".*status="ok".*\} 1$/m);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
    expect(check.error, 'promtool missing: apt-get install prometheus').toBeUndefined();
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect((await fetchAgent(port, '/ready')).status).toBe(200);
    const health = JSON.parse((await fetchAgent(port, '/health')).body);
    expect(JSON.stringify(health)).toContain('hostmetrics');
  });

  it('exits 0 within the 5 s that systemd allows after SIGTERM', async () => {
    const port = await freePort();
    const agent = start(['run', '--config', writeConfig(tempDir(), config(port))]);
    await waitForMetric(port, /system_memory_usage_bytes/);
    const sent = Date.now();
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    expect(Date.now() - sent).toBeLessThan(5000);
    expect(agent.log()).toContain('"msg":"stopped"');
  });

  it('SIGHUP swaps in a valid new config, and keeps the old one serving when the new one is invalid', async () => {
    const port = await freePort();
    const file = writeConfig(tempDir(), config(port));
    const agent = start(['run', '--config', file]);
    await waitForMetric(port, /system_cpu_time_seconds_total/);

    // A valid change: a namespace on every metric.
    writeFileSync(file, config(port).replace(`endpoint: 127.0.0.1:${port}`, `endpoint: 127.0.0.1:${port}\n    namespace: node`));
    agent.child.kill('SIGHUP');
    await waitForLog(agent, 'configuration reloaded');
    const renamed = await waitForMetric(port, /^node_system_cpu_time_seconds_total\{/m);
    expect(renamed).toMatch(/otel_agent_config_reloads_total\{.*result="success".*\} 1$/m);

    // An invalid change: an unknown key. The old config keeps serving.
    writeFileSync(file, config(port).replace('collection_interval: 1s', 'collection_intervall: 1s'));
    agent.child.kill('SIGHUP');
    await waitForLog(agent, 'new configuration refused');
    expect(agent.log()).toMatch(/otel-agent\.yaml:3:5: receivers::hostmetrics::collection_intervall: unknown key \\?"collection_intervall\\?"/);
    // Parsed on a worker thread: a large or hostile file never holds up /metrics or /health.
    expect(agent.log()).toContain('"checkedOn":"worker thread"');
    const still = await waitForMetric(port, /otel_agent_config_reloads_total\{.*result="failure".*\} 1$/m);
    expect(still).toMatch(/^node_system_cpu_time_seconds_total\{/m);
    expect(agent.child.exitCode).toBeNull();
  });

  it('stays up after a reload whose new exporter and the previous one both fail to start, saying which did not come back', async () => {
    const port = await freePort();
    const dir = tempDir();
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'secret\n');
    const withToken = config(port).replace(`endpoint: 127.0.0.1:${port}`, `endpoint: 127.0.0.1:${port}\n    bearer_token_file: ${tokenFile}`);
    const file = writeConfig(dir, withToken);
    const agent = start(['run', '--config', file]);
    await waitForLog(agent, 'otel-agent started');

    // Without its token file neither the changed exporter nor the previous one can start again;
    // the receiver, unchanged, keeps running.
    rmSync(tokenFile);
    writeFileSync(file, withToken.replace('    bearer_token_file:', '    namespace: node\n    bearer_token_file:'));
    agent.child.kill('SIGHUP');
    await waitForLog(agent, 'a component it replaced could not be brought back');
    expect(agent.log()).toContain(`bearer_token_file: cannot read \\"${tokenFile}\\"`);
    expect(agent.log()).toContain('the previous exporter \\"prometheus\\" did not start again');
    expect(agent.log()).not.toContain('unhandled rejection');
    expect(agent.child.exitCode).toBeNull();
  });

  it('SIGHUP with a ${file:} naming a FIFO is refused at once; /health keeps answering and SIGTERM still stops it', async () => {
    const port = await freePort();
    const dir = tempDir();
    const file = writeConfig(dir, config(port));
    const agent = start(['run', '--config', file]);
    await waitForLog(agent, 'otel-agent started');

    // No writer ever opens the FIFO: reading it would wait forever.
    const fifo = mkfifo(join(dir, 'token'));
    writeFileSync(file, config(port).replace(`endpoint: 127.0.0.1:${port}`, `endpoint: 127.0.0.1:${port}\n    bearer_token: \${file:${fifo}}`));
    agent.child.kill('SIGHUP');
    await waitForLog(agent, 'new configuration refused');
    expect(agent.log()).toContain(`otel-agent.yaml:7:19: exporters::prometheus::bearer_token: cannot read ${fifo} for \${file:${fifo}} (it is a FIFO (named pipe); only a regular file is read)`);
    expect((await fetchAgent(port, '/health')).status).toBe(200);
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
  });

  it('a refused SIGHUP never logs a password written where basic_auth expects a mapping', async () => {
    const port = await freePort();
    const file = writeConfig(tempDir(), config(port));
    const agent = start(['run', '--config', file]);
    await waitForLog(agent, 'otel-agent started');
    writeFileSync(file, config(port).replace(`endpoint: 127.0.0.1:${port}`, `endpoint: 127.0.0.1:${port}\n    basic_auth: "prom:PLAINPW"`));
    agent.child.kill('SIGHUP');
    await waitForLog(agent, 'new configuration refused');
    expect(agent.log()).toContain('exporters::prometheus::basic_auth: expected a mapping, found a string (not shown: secret)');
    expect(agent.log()).not.toContain('PLAINPW');
  });

  it('logs a warning at start for a label named like a secret', async () => {
    const port = await freePort();
    const file = writeConfig(tempDir(), `${config(port)}resource:\n  api_token: abc123\n`);
    const agent = start(['run', '--config', file]);
    await waitForLog(agent, 'otel-agent started');
    const warning = agent.log().split('\n').find((line) => line.includes('configuration warning'));
    expect(warning).toBeDefined();
    expect(JSON.parse(warning!.replace(/^<\d>/, '')).warning).toBe(
      `${file}:13:3: resource::api_token: a label named like a secret: its value is served in plain text on every series (print-config only hides it); rename it, or keep secrets out of labels`,
    );
    expect(agent.log()).not.toContain('abc123');
  });

  it('refuses to start on an invalid config, naming file, line and path', () => {
    const file = writeConfig(tempDir(), config(9).replace('hostmetrics:\n', 'hostmetrics:\n    scrapers: [cpu, gpu]\n'));
    const result = runAgent(['run', '--config', file]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${file}:3:`);
    expect(result.stderr).toContain('receivers::hostmetrics::scrapers[1]');
    expect(result.stderr).toContain('nothing was started');
  });
});

describe('otel-agent validate, print-config, components, --version', () => {
  it('validates the shipped default config without starting anything', () => {
    const result = runAgent(['validate', '--config', join(import.meta.dirname, '../../otel-agent.yaml')]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('valid');
  });

  it('exits 1 and lists every problem of an invalid file', () => {
    const file = writeConfig(
      tempDir(),
      `receivers:
  hostmetric: {}
exporters:
  prometheus:
    endpoint: nowhere
service:
  pipelines:
    metrics:
      receivers: [hostmetrics]
      exporters: [prometheus]
`,
    );
    const result = runAgent(['validate', '-c', file]);
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines.filter((line) => line.startsWith(`${file}:`)).length).toBeGreaterThanOrEqual(3);
    expect(result.stderr).toContain(`${file}:2:3: receivers::hostmetric: unknown receiver type "hostmetric"`);
    expect(result.stderr).toContain('exporters::prometheus::endpoint');
  });

  it('validate returns at once on a ${file:} naming a FIFO or /dev/zero, naming file:line and the YAML path', () => {
    const dir = tempDir();
    const fifo = mkfifo(join(dir, 'password'));
    const file = writeConfig(
      dir,
      config(9464).replace('endpoint: 127.0.0.1:9464', `endpoint: 127.0.0.1:9464\n    bearer_token: \${file:/dev/zero}\n    namespace: \${file:${fifo}}`),
    );
    const result = runAgent(['validate', '-c', file]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${file}:7:19: exporters::prometheus::bearer_token: cannot read /dev/zero for \${file:/dev/zero} (it is a character device; only a regular file is read)`);
    expect(result.stderr).toContain(`${file}:8:16: exporters::prometheus::namespace: cannot read ${fifo} for \${file:${fifo}} (it is a FIFO (named pipe); only a regular file is read)`);
  });

  it('validate refuses a config file that is a FIFO', () => {
    const fifo = mkfifo(join(tempDir(), 'otel-agent.yaml'));
    const result = runAgent(['validate', '-c', fifo]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${fifo}: cannot read the config file: it is a FIFO (named pipe); only a regular file is read`);
  });

  it('validate warns about a label named like a secret, and still exits 0', () => {
    const file = writeConfig(tempDir(), config(9464).replace('endpoint: 127.0.0.1:9464', 'endpoint: 127.0.0.1:9464\n    const_labels: { password: hunter2 }'));
    const result = runAgent(['validate', '-c', file]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toBe(
      `warning: ${file}:7:21: exporters::prometheus::const_labels::password: a label named like a secret: its value is served in plain text on every series (print-config only hides it); rename it, or keep secrets out of labels\n`,
    );
    expect(result.stdout).toContain('valid');
  });

  it('validate refuses what run would fail on: TLS and token files it cannot open, a state directory it cannot write', () => {
    const dir = tempDir();
    const missing = join(dir, 'missing.pem');
    const token = mkfifo(join(dir, 'token'));
    const file = writeConfig(
      dir,
      config(9464).replace(
        'endpoint: 127.0.0.1:9464',
        `endpoint: 127.0.0.1:9464\n    tls: { cert_file: ${missing}, key_file: ${dir} }\n    bearer_token_file: ${token}`,
      ) + `  state_directory: ${plainFileIn(dir)}/state\n`,
    );
    const result = runAgent(['validate', '-c', file]);
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toContain(`${file}:7:23: exporters::prometheus::tls::cert_file: cannot read "${missing}": no such file`);
    expect(result.stderr).toContain(`exporters::prometheus::tls::key_file: cannot read "${dir}": it is not a regular file`);
    expect(result.stderr).toContain(`exporters::prometheus::bearer_token_file: cannot read "${token}": it is not a regular file`);
    expect(result.stderr).toContain(`service::state_directory: cannot write state to "${plainFileIn(dir)}/state": "${plainFileIn(dir)}" is not a directory`);

    // The same files made good: valid.
    writeFileSync(missing, 'not checked for content\n');
    const good = writeConfig(dir, config(9464).replace('endpoint: 127.0.0.1:9464', `endpoint: 127.0.0.1:9464\n    tls: { cert_file: ${missing}, key_file: ${missing} }`) + `  state_directory: ${dir}/state\n`, 'good.yaml');
    const accepted = runAgent(['validate', '-c', good]);
    expect(accepted.status, accepted.stderr).toBe(0);
  });

  it('prints the effective config with secrets redacted', () => {
    const file = writeConfig(
      tempDir(),
      config(9464).replace('endpoint: 127.0.0.1:9464', 'endpoint: 127.0.0.1:9464\n    bearer_token: ${env:SCRAPE_TOKEN}'),
    );
    const result = spawnSync(process.execPath, [AGENT_BIN, 'print-config', '-c', file], {
      encoding: 'utf8',
      env: { ...process.env, SCRAPE_TOKEN: 'hunter2-secret' },
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).not.toContain('hunter2-secret');
    expect(result.stdout).toContain('<redacted>');
    expect(result.stdout).toContain('collection_interval');
  });

  it('lists the component types with their keys, and the version', () => {
    const components = runAgent(['components']);
    expect(components.status).toBe(0);
    expect(components.stdout).toMatch(/receivers:\n {2}hostmetrics/);
    expect(components.stdout).toContain('prometheus');
    expect(components.stdout).toContain('endpoint="127.0.0.1:9464"');
    expect(runAgent(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
