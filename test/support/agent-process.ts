// Runs the built agent (dist/) as a real process, the way systemd would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect } from 'vitest';
import { eventually } from './eventually.js';

export const AGENT_BIN = resolve(import.meta.dirname, '../../dist/src/cli/main.js');

export interface AgentProcess {
  child: ChildProcess;
  /** stderr so far (the agent logs one JSON line per event there). */
  log(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  stop(): Promise<number | string>;
}

const madeDirs: string[] = [];
// Registered while the importing test file is collected, so it runs once that file is done:
// every directory made here goes, whichever test made it.
afterAll(() => {
  for (const dir of madeDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A temporary directory, removed when the test file that asked for it has finished. */
export function tempDir(prefix = 'otel-agent-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  madeDirs.push(dir);
  return dir;
}

export function writeConfig(dir: string, yaml: string, name = 'otel-agent.yaml'): string {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

/** Runs the agent built in dist/, or the main.js of another build given as `bin`. */
export function startAgent(args: string[], env: NodeJS.ProcessEnv = {}, bin = AGENT_BIN): AgentProcess {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  child.stdout!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | string>((resolveExit) => {
    child.on('exit', (code, signal) => resolveExit(code ?? signal ?? -1));
  });
  return {
    child,
    log: () => stderr,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Runs a CLI command to completion, with `env` added to the test's environment. */
export function runAgent(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [AGENT_BIN, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export async function waitForLog(agent: AgentProcess, text: string | RegExp, timeoutMs = 15_000): Promise<void> {
  await eventually(() => {
    const log = agent.log();
    const found = typeof text === 'string' ? log.includes(text) : text.test(log);
    if (!found) throw new Error(`agent log never showed ${String(text)}; log so far:\n${log}`);
  }, timeoutMs);
}

/** A GET of the agent's endpoint on loopback: its status and body. */
export async function fetchAgent(port: number, path = '/metrics'): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}

/** The first /metrics body (status 200) that matches `pattern`. */
export async function waitForMetric(port: number, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  return eventually(async () => {
    const { status, body } = await fetchAgent(port);
    expect(status).toBe(200);
    expect(body).toMatch(pattern);
    return body;
  }, timeoutMs, 200);
}
