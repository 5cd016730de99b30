// Loads otel-agent.yaml: read, parse (keeping every node's position), substitute, check the
// file's own shape, each component's config against its factory's schema, and the pipelines'
// references. Every problem is collected and thrown at once, each with its line and column.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document, type YAMLError } from 'yaml';
import type { z } from 'zod';
import type { ExporterFactory, Kind, ProcessorFactory, ReceiverFactory } from '../component/types.js';
import {
  ConfigError,
  describeHiddenValue,
  describeValue,
  expectedMessage,
  pathText,
  withFound,
  type ConfigPath,
  type ConfigProblem,
} from './errors.js';
import { isSecretPath, REDACTED, rememberFileSecrets } from './redact.js';
import { agentFileSchema, defaultStateDirectory, type AgentConfig, type ComponentConfig } from './schema.js';
import { substituteDocument, type DocumentSubstitution } from './substitute.js';

export { ConfigError, formatProblem, type ConfigProblem } from './errors.js';
export { printConfig } from './redact.js';
export type { AgentConfig, ComponentConfig, PipelineConfig, ViewConfig } from './schema.js';

export interface FactoryLookup {
  receivers: ReadonlyMap<string, ReceiverFactory>;
  processors: ReadonlyMap<string, ProcessorFactory>;
  exporters: ReadonlyMap<string, ExporterFactory>;
}

type Section = 'receivers' | 'processors' | 'exporters';
const SECTIONS: ReadonlyArray<{ section: Section; kind: Kind }> = [
  { section: 'receivers', kind: 'receiver' },
  { section: 'processors', kind: 'processor' },
  { section: 'exporters', kind: 'exporter' },
];

/** Reads, substitutes, parses and validates; throws ConfigError holding every problem found. No network calls. */
export function loadConfig(file: string, factories: FactoryLookup, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String((err as Error).message ?? err);
    throw new ConfigError([{ file, line: 0, column: 0, path: '', message: `cannot read the config file: ${reason}` }]);
  }
  return loadConfigText(text, file, factories, env);
}

export function loadConfigText(
  text: string,
  file: string,
  factories: FactoryLookup,
  env: NodeJS.ProcessEnv = process.env,
): AgentConfig {
  const lineCounter = new LineCounter();
  // `merge: true`: operators share blocks between components with `<<: *anchor`.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true });
  const problems = new Problems(doc, lineCounter, file);

  if (doc.errors.length > 0) {
    // After the first syntax error the parser's further complaints are mostly its echoes;
    // duplicate keys are found on a sound tree, so each of them is real.
    const firstSyntaxError = doc.errors.find((error) => error.code !== 'DUPLICATE_KEY');
    for (const error of doc.errors) {
      if (error.code === 'DUPLICATE_KEY' || error === firstSyntaxError) problems.atOffset(error.pos[0], syntaxMessage(error, text));
    }
    throw problems.error();
  }
  if (!isMap(doc.contents)) {
    const found = doc.contents === null ? 'an empty file' : describeValue(doc.toJS());
    problems.add([], `expected a mapping with receivers, exporters and service at the top, found ${found}`);
    throw problems.error();
  }

  const substitution = substituteDocument(doc, env, dirname(file));
  for (const { path, message } of substitution.problems) problems.add(path, message);

  let data: Record<string, unknown>;
  try {
    data = doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown>;
  } catch (err) {
    problems.add([], `expected a document of reasonable size, found ${(err as Error).message}`);
    throw problems.error();
  }
  problems.checking(data, substitution);

  const fileShape = agentFileSchema.safeParse(data, { error: expectedMessage });
  if (!fileShape.success) problems.addIssues(fileShape.error.issues, []);

  const components = new Map<Section, Map<string, ComponentConfig>>();
  const declared = new Map<Section, Set<string>>();
  for (const { section, kind } of SECTIONS) {
    const checked = checkComponents(section, kind, data[section], factories[section], problems);
    components.set(section, checked.components);
    declared.set(section, checked.declared);
  }
  const used = checkPipelines(data.service, declared, problems);

  if (problems.count > 0 || !fileShape.success) throw problems.error();

  const { views, resource, service } = fileShape.data;
  const config: AgentConfig = {
    file,
    receivers: components.get('receivers')!,
    processors: components.get('processors')!,
    exporters: components.get('exporters')!,
    views,
    resource,
    service: {
      stateDirectory: service.state_directory ?? defaultStateDirectory(env),
      pipelines: Object.entries(service.pipelines).map(([name, pipeline]) => ({ name, ...pipeline })),
      telemetry: {
        logs: { level: service.telemetry.logs.level },
        metrics: { enabled: service.telemetry.metrics.enabled, seriesLimit: service.telemetry.metrics.series_limit },
      },
    },
    unused: SECTIONS.flatMap(({ section }) =>
      [...declared.get(section)!].filter((id) => !used.get(section)!.has(id)).map((id) => pathText([section, id])),
    ),
  };
  rememberFileSecrets(config, substitution.fromFile);
  return config;
}

/**
 * The yaml package's message, naming the key of a duplicate (its message does not), and
 * saying why `{ port: ${env:PORT} }` fails: in flow style `{` is syntax, so the value needs quotes.
 */
function syntaxMessage(error: YAMLError, text: string): string {
  const offset = error.pos[0];
  if (error.code === 'DUPLICATE_KEY') {
    const key = /^("[^"]*"|'[^']*'|[^:\n]+?)\s*:/.exec(text.slice(offset))?.[1] ?? '';
    return `expected each key once per mapping, found ${JSON.stringify(key.replace(/^["']|["']$/g, ''))} again`;
  }
  if (text[offset] === '{' && text[offset - 1] === '$') {
    return `${error.message} (inside { } or [ ], quote a value holding \${...}, like "\${env:PORT}")`;
  }
  return error.message;
}

/** Splits `type/name`; the name may hold further slashes, as in the OpenTelemetry Collector. */
function parseId(id: string): { type: string; name?: string } | { malformed: string } {
  const slash = id.indexOf('/');
  if (slash === -1) return id.trim() === '' ? { malformed: 'empty id' } : { type: id };
  const type = id.slice(0, slash);
  const name = id.slice(slash + 1);
  if (type === '') return { malformed: 'empty type' };
  if (name === '') return { malformed: 'empty name' };
  return { type, name };
}

function checkComponents(
  section: Section,
  kind: Kind,
  raw: unknown,
  factories: ReadonlyMap<string, ReceiverFactory | ProcessorFactory | ExporterFactory>,
  problems: Problems,
): { components: Map<string, ComponentConfig>; declared: Set<string> } {
  const components = new Map<string, ComponentConfig>();
  const declared = new Set<string>();
  // A section that is not a mapping was reported by the file schema.
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { components, declared };

  for (const [id, value] of Object.entries(raw)) {
    const parsedId = parseId(id);
    if ('malformed' in parsedId) {
      problems.add([section, id], `expected an id like "type" or "type/name", found "${id}" (${parsedId.malformed})`, 'key');
      continue;
    }
    declared.add(id);
    const factory = factories.get(parsedId.type);
    if (factory === undefined) {
      const valid = [...factories.keys()].sort().join(', ') || 'none';
      problems.add([section, id], `unknown ${kind} type "${parsedId.type}" in id "${id}" (valid values: ${valid})`, 'key');
      continue;
    }
    // A component written with nothing after it takes all its defaults.
    let result: z.ZodSafeParseResult<unknown>;
    try {
      result = (factory.configSchema as z.ZodType).safeParse(value ?? {}, { error: expectedMessage });
    } catch (err) {
      problems.add([section, id], `the ${kind}'s config check failed: ${(err as Error).message}`);
      continue;
    }
    if (!result.success) {
      problems.addIssues(result.error.issues, [section, id]);
      continue;
    }
    components.set(id, { id, type: parsedId.type, ...(parsedId.name !== undefined && { name: parsedId.name }), config: result.data });
  }
  return { components, declared };
}

const PIPELINE_NAME = /^metrics(\/.+)?$/;
const LIST_KIND: Record<Section, Kind> = { receivers: 'receiver', processors: 'processor', exporters: 'exporter' };

/** The references of every pipeline; returns the ids each section has in some pipeline. */
function checkPipelines(service: unknown, declared: Map<Section, Set<string>>, problems: Problems): Map<Section, Set<string>> {
  const used = new Map<Section, Set<string>>(SECTIONS.map(({ section }) => [section, new Set<string>()]));
  const pipelinesPath = ['service', 'pipelines'];
  const pipelines = isRecord(service) ? service.pipelines : undefined;
  if (pipelines !== undefined && pipelines !== null && !isRecord(pipelines)) return used; // reported by the file schema
  if (pipelines === undefined || pipelines === null || Object.keys(pipelines).length === 0) {
    problems.add(pipelinesPath, 'expected at least one pipeline, like metrics: { receivers: [...], exporters: [...] }, found none');
    return used;
  }

  for (const [name, pipeline] of Object.entries(pipelines)) {
    const pipelinePath = [...pipelinesPath, name];
    if (!PIPELINE_NAME.test(name)) {
      problems.add(pipelinePath, `expected a pipeline named metrics or metrics/<name>, found "${name}"`, 'key');
    }
    if (pipeline !== undefined && pipeline !== null && !isRecord(pipeline)) continue; // reported by the file schema
    for (const section of ['receivers', 'processors', 'exporters'] as const) {
      const listPath = [...pipelinePath, section];
      const list = pipeline?.[section];
      if (list !== undefined && list !== null && !Array.isArray(list)) continue; // reported by the file schema
      const ids = list ?? [];
      if (ids.length === 0 && section !== 'processors') {
        problems.add(listPath, `expected at least one ${LIST_KIND[section]} id, found none`);
      }
      const seenAt = new Map<string, number>();
      ids.forEach((id, index) => {
        if (typeof id !== 'string') return; // reported by the file schema
        const itemPath = [...listPath, index];
        const first = seenAt.get(id);
        if (first !== undefined) {
          problems.add(itemPath, `expected each id once per list, found "${id}" again (first at [${first}])`);
          return;
        }
        seenAt.set(id, index);
        if (declared.get(section)!.has(id)) {
          used.get(section)!.add(id);
          return;
        }
        const elsewhere = SECTIONS.find(({ section: other }) => other !== section && declared.get(other)!.has(id));
        const hint = elsewhere
          ? `declared under ${elsewhere.section}`
          : `${section} declared: ${[...declared.get(section)!].join(', ') || 'none'}`;
        problems.add(itemPath, `expected a ${LIST_KIND[section]} declared under ${section}, found "${id}" (${hint})`);
      });
    }
  }
  return used;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function valueAt(data: unknown, path: ConfigPath): unknown {
  let value = data;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}

function startsWith(path: ConfigPath, prefix: ConfigPath): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => String(path[i]) === String(segment));
}

/** Problems found so far, each placed on the node its path leads to. */
class Problems {
  private readonly found: Array<ConfigProblem & { offset: number }> = [];
  /** The substituted data the schemas check, for showing what was found at a path. */
  private data: unknown;
  /** Where substitution failed: schema issues there are its echoes. */
  private failedSubstitutions: ConfigPath[] = [];
  /** Where `${file:...}` put a value: a secret, never shown. */
  private fromFile: ConfigPath[] = [];

  constructor(
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
    private readonly file: string,
  ) {}

  get count(): number {
    return this.found.length;
  }

  checking(data: unknown, substitution: DocumentSubstitution): void {
    this.data = data;
    this.failedSubstitutions = substitution.problems.map((problem) => problem.path);
    this.fromFile = substitution.fromFile.map((entry) => entry.path);
  }

  /** `anchor: 'key'` points at the key (unknown keys, bad ids); else at the value. */
  add(path: ConfigPath, message: string, anchor: 'key' | 'value' = 'value'): void {
    this.push(this.offsetOf(path, anchor), pathText(path), message);
  }

  atOffset(offset: number, message: string): void {
    this.push(offset, '', message);
  }

  addIssues(issues: z.core.$ZodIssue[], prefix: ConfigPath): void {
    for (const issue of issues) {
      const path: ConfigPath = [...prefix, ...issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment)))];
      if (this.failedSubstitutions.some((failed) => startsWith(path, failed))) continue;
      if (issue.code === 'unrecognized_keys') {
        const valid = issue.message ? ` (${issue.message})` : '';
        for (const key of issue.keys) this.add([...path, key], `unknown key "${key}"${valid}`, 'key');
        continue;
      }
      const value = valueAt(this.data, path);
      if (isSecretPath(path) || this.fromFile.some((secret) => startsWith(path, secret))) {
        // A component's own message may quote the value; a secret's is cut out.
        const message = typeof value === 'string' && value !== '' ? issue.message.replaceAll(value, REDACTED) : issue.message;
        this.add(path, withFound(message, describeHiddenValue(value)));
      } else {
        this.add(path, withFound(issue.message, describeValue(value)));
      }
    }
  }

  error(): ConfigError {
    const inTextOrder = [...this.found].sort((a, b) => a.offset - b.offset);
    return new ConfigError(inTextOrder.map(({ offset: _offset, ...problem }) => problem));
  }

  private push(offset: number, path: string, message: string): void {
    const { line, col } = this.lineCounter.linePos(offset);
    this.found.push({ file: this.file, line, column: col, path, message: message.replace(/\s*\n\s*/g, ' '), offset });
  }

  /**
   * Where `path` is written: the key or the value. A path that does not exist in the text
   * (a missing key, a key brought in by `<<:`) points at its nearest existing parent's key.
   */
  private offsetOf(path: ConfigPath, anchor: 'key' | 'value'): number {
    let node: unknown = this.doc.contents;
    let key: unknown;
    let depth = 0;
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(this.doc);
      if (isMap(node)) {
        const pair = node.items.find((item) => String(isScalar(item.key) ? item.key.value : item.key) === String(segment));
        if (pair === undefined) break;
        key = pair.key;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
        key = undefined;
        node = node.items[segment];
      } else {
        break;
      }
      depth++;
    }
    if (depth === path.length && anchor === 'value' && writtenAt(node) !== undefined) return writtenAt(node)!;
    return writtenAt(key) ?? writtenAt(node) ?? 0;
  }
}

/** Start offset of a node that has text; a value written as nothing (`key:`) has none. */
function writtenAt(node: unknown): number | undefined {
  if (!isNode(node) || node.range === undefined || node.range === null) return undefined;
  const [start, end] = node.range;
  return end > start ? start : undefined;
}
