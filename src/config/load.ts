// Loads otel-agent.yaml: read, parse (keeping every node's position), substitute, check the
// file's own shape, each component's config against its factory's schema, and the pipelines'
// references. Every problem is collected and thrown at once, each with its line and column.
import { dirname } from 'node:path';
import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter, type Document, type Pair, type YAMLError, type YAMLMap } from 'yaml';
import type { z } from 'zod';
import { bearerTokenFlaw } from '../component/credentials.js';
import type { ExporterFactory, FactoryLookup, Kind, ProcessorFactory, ReceiverFactory } from '../component/types.js';
import {
  ConfigError,
  describeHiddenValue,
  describeValue,
  expectedMessage,
  pathText,
  quote,
  shorten,
  tidyMessage,
  withFound,
  type ConfigPath,
  type ConfigProblem,
} from './errors.js';
import { localFileProblems } from './local-files.js';
import { parseYaml } from './parse.js';
import { bytesText, FileRefused, readRegularFile } from '../component/regular-file.js';
import { isSecretKey, isSecretPath, REDACTED, rememberFileSecrets } from './redact.js';
import { agentFileSchema, defaultStateDirectory, type AgentConfig, type ComponentConfig } from './schema.js';
import { substituteDocument, type DocumentSubstitution } from './substitute.js';

/**
 * The largest config file read. The shipped ones are a few KiB, and one with a hundred
 * mapping rules about 100 KiB. Parsing and checking take about 1 s per MiB, all of it on
 * the event loop of a running agent that reloads: 1 MiB bounds that pause near a second,
 * and keeps a wrong path (a log, an image) from being parsed at all.
 */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

export { ConfigError, formatProblem, type ConfigProblem } from './errors.js';
export { printConfig } from './redact.js';
export type { AgentConfig, ComponentConfig, PipelineConfig, ViewConfig } from './schema.js';

export type { FactoryLookup } from '../component/types.js';

type Section = 'receivers' | 'processors' | 'exporters';
const SECTIONS: ReadonlyArray<{ section: Section; kind: Kind }> = [
  { section: 'receivers', kind: 'receiver' },
  { section: 'processors', kind: 'processor' },
  { section: 'exporters', kind: 'exporter' },
];

export interface LoadOptions {
  /** Also open the files the config names and check its state directory (`validate`). */
  checkLocalFiles?: boolean;
}

/** Reads, substitutes, parses and validates; throws ConfigError holding every problem found. No network calls. */
export function loadConfig(file: string, factories: FactoryLookup, env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): AgentConfig {
  let text: string;
  try {
    text = readRegularFile(file, MAX_CONFIG_FILE_BYTES);
  } catch (err) {
    const reason = err instanceof FileRefused ? err.reason : String((err as Error).message ?? err);
    throw new ConfigError([{ file, line: 0, column: 0, path: '', message: `cannot read the config file: ${reason}` }]);
  }
  return loadConfigText(text, file, factories, env, options);
}

export function loadConfigText(
  text: string,
  file: string,
  factories: FactoryLookup,
  env: NodeJS.ProcessEnv = process.env,
  options: LoadOptions = {},
): AgentConfig {
  if (Buffer.byteLength(text) > MAX_CONFIG_FILE_BYTES) {
    throw new ConfigError([
      { file, line: 0, column: 0, path: '', message: `cannot read the config file: it is larger than ${bytesText(MAX_CONFIG_FILE_BYTES)}, the most read` },
    ]);
  }
  const lineCounter = new LineCounter();
  const parsed = parseYaml(text, lineCounter);
  if ('tooDeep' in parsed) {
    const { offset, path, message } = parsed.tooDeep;
    throw new Problems(undefined, lineCounter, file).atOffset(offset, message, path).error();
  }
  const { doc } = parsed;
  const problems = new Problems(doc, lineCounter, file);

  if (doc.errors.length > 0 || parsed.duplicateKeys.length > 0) {
    // After the first syntax error the parser's further complaints are mostly its echoes;
    // each duplicate key is real.
    const firstSyntaxError = doc.errors[0];
    if (firstSyntaxError) problems.atOffset(firstSyntaxError.pos[0], syntaxMessage(firstSyntaxError, text));
    for (const { offset, path, message } of parsed.duplicateKeys) problems.atOffset(offset, message, path);
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
  checkTokens(data, problems);
  // Only a config of the right shape: files named in a wrong place were reported already.
  if (options.checkLocalFiles && problems.count === 0 && fileShape.success) {
    for (const { path, message } of localFileProblems(data, defaultStateDirectory(env))) problems.add(path, message);
  }

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
        ...(service.telemetry.health ? { health: { endpoint: service.telemetry.health.endpoint } } : {}),
      },
    },
    unused: SECTIONS.flatMap(({ section }) =>
      [...declared.get(section)!].filter((id) => !used.get(section)!.has(id)).map((id) => pathText([section, id])),
    ),
    warnings: secretNamedLabels(data, problems),
  };
  rememberFileSecrets(config, substitution.fromFile);
  return config;
}

/** The yaml package's message, saying why `{ port: ${env:PORT} }` fails: in flow style `{` is syntax, so the value needs quotes. */
function syntaxMessage(error: YAMLError, text: string): string {
  const offset = error.pos[0];
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

/** Keys of a token sent over HTTP: `token`, `bearer_token`, `apiToken`. */
const TOKEN_KEY = /(^|[_.-])token$|[a-z0-9]Token$/i;
/** Mappings whose values are labels or headers: a space there is allowed. */
const FREE_TEXT_MAPPINGS = new Set(['headers', 'const_labels', 'static_attributes', 'attributes']);

/**
 * A token (`bearer_token`, `api_token`) is sent in an HTTP header, which allows no
 * whitespace: one with a space or a line break inside (`${file:}` of a file with two lines)
 * would fail every request after a start that looked fine, so it is refused here.
 */
function checkTokens(data: Record<string, unknown>, problems: Problems): void {
  const visit = (value: unknown, path: ConfigPath): void => {
    if (Array.isArray(value)) {
      value.forEach((item, index) => visit(item, [...path, index]));
    } else if (isRecord(value)) {
      for (const [key, item] of Object.entries(value)) {
        const itemPath = [...path, key];
        if (typeof item === 'string' && item !== '' && TOKEN_KEY.test(key) && isSecretKey(key) && !problems.failedAt(itemPath)) {
          const flaw = bearerTokenFlaw(item);
          if (flaw) problems.add(itemPath, `expected a token of visible characters only, found one where ${flaw} (not shown: secret)`);
        } else if (!FREE_TEXT_MAPPINGS.has(key)) {
          visit(item, itemPath);
        }
      }
    }
  };
  for (const { section } of SECTIONS) visit(data[section], [section]);
}

/** Mappings whose keys become label names on every series the agent serves. */
const LABEL_MAPPINGS = new Set(['const_labels', 'static_attributes']);

/**
 * Labels named like secrets (`password`, `api_token`): print-config redacts their values by
 * the name, but /metrics serves them on every series as written. A warning, not an error:
 * the name may be innocent (`token_bucket: enabled` is not, `api_token` likely is).
 */
function secretNamedLabels(data: Record<string, unknown>, problems: Problems): ConfigProblem[] {
  const warnings: ConfigProblem[] = [];
  const warn = (path: ConfigPath) =>
    warnings.push(
      problems.warning(
        path,
        'a label named like a secret: its value is served in plain text on every series (print-config only hides it); rename it, or keep secrets out of labels',
        'key',
      ),
    );
  if (isRecord(data.resource)) for (const key of Object.keys(data.resource)) if (isSecretKey(key)) warn(['resource', key]);
  const visit = (value: unknown, path: ConfigPath): void => {
    if (Array.isArray(value)) {
      value.forEach((item, index) => visit(item, [...path, index]));
    } else if (isRecord(value)) {
      for (const [key, item] of Object.entries(value)) {
        if (LABEL_MAPPINGS.has(key) && isRecord(item)) {
          for (const label of Object.keys(item)) if (isSecretKey(label)) warn([...path, key, label]);
        } else {
          visit(item, [...path, key]);
        }
      }
    }
  };
  for (const { section } of SECTIONS) visit(data[section], [section]);
  return warnings.sort((a, b) => a.line - b.line || a.column - b.column);
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

  /** Each mapping's pairs by key, built on first use: finding every problem's key stays linear. */
  private readonly pairsByKey = new WeakMap<YAMLMap, Map<string, Pair>>();

  constructor(
    /** Undefined when the text was refused before a document was built. */
    private readonly doc: Document | undefined,
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
    this.found.push(this.placed(this.offsetOf(path, anchor), shownPath(path), message));
  }

  atOffset(offset: number, message: string, path: ConfigPath = []): this {
    this.found.push(this.placed(offset, shownPath(path), message));
    return this;
  }

  /** A problem placed like `add` places it, for a warning: not counted, not thrown. */
  warning(path: ConfigPath, message: string, anchor: 'key' | 'value' = 'value'): ConfigProblem {
    const { offset: _offset, ...problem } = this.placed(this.offsetOf(path, anchor), shownPath(path), message);
    return problem;
  }

  /** True where substitution failed: what is there was reported already. */
  failedAt(path: ConfigPath): boolean {
    return this.failedSubstitutions.some((failed) => startsWith(path, failed));
  }

  addIssues(issues: z.core.$ZodIssue[], prefix: ConfigPath): void {
    for (const issue of issues) {
      const path: ConfigPath = [...prefix, ...issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment)))];
      if (this.failedAt(path)) continue;
      if (issue.code === 'unrecognized_keys') {
        const valid = issue.message ? ` (${issue.message})` : '';
        for (const key of issue.keys) this.add([...path, key], `unknown key ${quote(key)}${valid}`, 'key');
        continue;
      }
      if (issue.code === 'invalid_key') {
        // Found is the key, not the value under it; the path is the mapping's, since the key is what is wrong.
        const key = String(issue.path[issue.path.length - 1] ?? '');
        const mapping = path.slice(0, -1);
        this.found.push(this.placed(this.offsetOf(path, 'key'), shownPath(mapping), withFound(issue.message, describeValue(key))));
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

  private placed(offset: number, path: string, message: string): ConfigProblem & { offset: number } {
    const { line, col } = this.lineCounter.linePos(offset);
    return { file: this.file, line, column: col, path, message: tidyMessage(message), offset };
  }

  /**
   * Where `path` is written: the key or the value. A path that does not exist in the text
   * (a missing key, a key brought in by `<<:`) points at its nearest existing parent's key.
   */
  private offsetOf(path: ConfigPath, anchor: 'key' | 'value'): number {
    if (!this.doc) return 0;
    let node: unknown = this.doc.contents;
    let key: unknown;
    let depth = 0;
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(this.doc);
      if (isMap(node)) {
        const pair = this.pairOf(node, String(segment));
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

  /** The first pair of `map` whose key reads as `key`. */
  private pairOf(map: YAMLMap, key: string): Pair | undefined {
    let index = this.pairsByKey.get(map);
    if (index === undefined) {
      index = new Map();
      for (const item of map.items as Pair[]) {
        const text = String(isScalar(item.key) ? item.key.value : item.key);
        if (!index.has(text)) index.set(text, item);
      }
      this.pairsByKey.set(map, index);
    }
    return index.get(key);
  }
}

/** A path as a problem shows it: each key cut like a quoted value. */
function shownPath(path: ConfigPath): string {
  return pathText(path.map((segment) => (typeof segment === 'string' ? shorten(segment) : segment)));
}

/** Start offset of a node that has text; a value written as nothing (`key:`) has none. */
function writtenAt(node: unknown): number | undefined {
  if (!isNode(node) || node.range === undefined || node.range === null) return undefined;
  const [start, end] = node.range;
  return end > start ? start : undefined;
}
