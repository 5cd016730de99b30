// The shape of otel-agent.yaml around the components: views, resource and service. Each
// component's own config is checked by its factory's schema (load.ts), so here the
// receivers, processors and exporters sections are plain mappings of id to anything.
import { isAbsolute } from 'node:path';
import { hasWildcard } from '../component/glob.js';
import { z } from 'zod';
import { hostPort } from '../component/schema.js';
import { OWN_METRIC_PREFIX, type ViewRule } from '../metrics/views.js';
import type { ConfigProblem } from './errors.js';
import { LOG_LEVELS, type LogLevel } from '../telemetry/logger.js';


export const DEFAULT_STATE_DIRECTORY = '/var/lib/otel-agent';
export const DEFAULT_SERIES_LIMIT = 2000;
/** The health endpoint's address when `service.telemetry.health` names none: the Collector's health_check port, on loopback. */
export const DEFAULT_HEALTH_ENDPOINT = '127.0.0.1:13133';

/** A `views:` entry, as the metric store applies it. */
export type ViewConfig = ViewRule;

export interface PipelineConfig {
  /** `metrics` or `metrics/<name>`. */
  name: string;
  receivers: string[];
  processors: string[];
  exporters: string[];
}

export interface ComponentConfig {
  /** `type` or `type/name`, as written. */
  id: string;
  type: string;
  name?: string;
  /** The factory schema's output: defaults filled in, durations and sizes parsed. */
  config: unknown;
}

export interface ServiceConfig {
  stateDirectory: string;
  pipelines: PipelineConfig[];
  telemetry: {
    logs: { level: LogLevel };
    metrics: { enabled: boolean; seriesLimit: number };
    /** The agent's own /health, /ready and /live; absent (off) unless the file asks. */
    health?: { endpoint: string };
  };
}

export interface AgentConfig {
  file: string;
  receivers: Map<string, ComponentConfig>;
  processors: Map<string, ComponentConfig>;
  exporters: Map<string, ComponentConfig>;
  views: ViewConfig[];
  resource: Record<string, string | number | boolean>;
  service: ServiceConfig;
  /** Components declared but in no pipeline (a warning, not an error), as `receivers::id`. */
  unused: string[];
  /** Allowed but likely unwanted (a label named like a secret), placed like problems. */
  warnings: ConfigProblem[];
}

/** The OpenTelemetry instrument name syntax: the SDK refuses any other at runtime. */
const INSTRUMENT_NAME = /^[A-Za-z][A-Za-z0-9_./-]{0,254}$/;

/** A key written with nothing after it (`processors:`) reads as its empty value. */
function emptyWhenNull<T extends z.ZodType>(schema: T, empty: unknown) {
  return z.preprocess((value) => value ?? empty, schema);
}

/**
 * Integer-like text reads as a number, and `true`/`false` text as a boolean: a value taken
 * from `${env:...}` is always text, and a limit or a switch set from the environment is
 * common. Lists (buckets) and free numbers are not converted: nobody writes those through
 * one variable, and "1e3" read as a number would surprise.
 */
function positiveInteger() {
  const error = 'expected a positive integer';
  return z.preprocess(
    (value) => (typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value),
    z.number({ error }).int({ error }).positive({ error }),
  );
}

function flag() {
  return z.preprocess((value) => (value === 'true' ? true : value === 'false' ? false : value), z.boolean());
}

/** Drops absent optional fields, so a view holds only what was written. */
function present<T extends object>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as T;
}

const stringList = z.array(z.string());

// The refinements below also run when a sibling value is wrong (`when`), so that every
// problem is reported at once; they therefore check the types they rely on themselves.
const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

const bucketsSchema = z.array(z.number()).superRefine(
  (buckets, ctx) => {
    for (let i = 1; i < buckets.length; i++) {
      const [previous, bucket] = [buckets[i - 1], buckets[i]];
      if (isFiniteNumber(previous) && isFiniteNumber(bucket) && bucket <= previous) {
        ctx.addIssue({ code: 'custom', path: [i], message: `expected buckets in strictly ascending order, found ${bucket} after ${previous}` });
      }
    }
  },
  { when: ({ value }) => Array.isArray(value) },
);

const attributeFilterSchema = z.strictObject({ allow: stringList.optional(), deny: stringList.optional() }).superRefine(
  (_filter, ctx) => ctx.addIssue({ code: 'custom', message: 'expected either allow or deny, found both' }),
  { when: ({ value }) => isPresent(value, 'allow') && isPresent(value, 'deny') },
);

function isPresent(object: unknown, key: string): boolean {
  return typeof object === 'object' && object !== null && (object as Record<string, unknown>)[key] !== undefined;
}

const viewSchema = z
  .strictObject({
    instrument: z.string().min(1),
    receiver: z.string().min(1).optional(),
    name: z
      .string()
      .regex(INSTRUMENT_NAME, { error: 'expected an instrument name (a letter, then letters, digits, _ . / -; at most 255 characters)' })
      .optional(),
    description: z.string().optional(),
    buckets: bucketsSchema.optional(),
    attributes: attributeFilterSchema.optional(),
    drop: flag().optional(),
    series_limit: positiveInteger().optional(),
  })
  .superRefine(
    (view, ctx) => {
      if (view.name !== undefined && hasWildcard(view.instrument)) {
        ctx.addIssue({
          code: 'custom',
          path: ['name'],
          message: `expected no name when instrument is a pattern ("${view.instrument}" may match many instruments; a rename needs one), found "${view.name}"`,
        });
      }
    },
    {
      when: ({ value }) =>
        typeof (value as { instrument?: unknown }).instrument === 'string' && typeof (value as { name?: unknown }).name === 'string',
    },
  )
  .superRefine(
    (view, ctx) => {
      // The agent's own metrics are collected, not recorded through a receiver's store: a view can rename, redescribe or drop them.
      if (view.receiver !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['receiver'],
          message: `expected no receiver in a view of the agent's own metrics (${OWN_METRIC_PREFIX}*: no receiver records them), found "${view.receiver}"`,
        });
      }
      for (const key of ['buckets', 'attributes', 'series_limit'] as const) {
        if (view[key] === undefined) continue;
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `expected only name, description or drop in a view of the agent's own metrics (${OWN_METRIC_PREFIX}*), found ${key}`,
        });
      }
    },
    {
      when: ({ value }) =>
        typeof (value as { instrument?: unknown }).instrument === 'string' && (value as { instrument: string }).instrument.startsWith(OWN_METRIC_PREFIX),
    },
  )
  .transform(
    (view): ViewConfig =>
      present({
        instrument: view.instrument,
        receiver: view.receiver,
        name: view.name,
        description: view.description,
        buckets: view.buckets,
        attributes: view.attributes && present(view.attributes),
        drop: view.drop,
        seriesLimit: view.series_limit,
      }),
  );

const idList = emptyWhenNull(z.array(z.string(), { error: 'expected a list of component ids' }), []);

const pipelineSchema = emptyWhenNull(
  z.strictObject({ receivers: idList, processors: idList, exporters: idList }),
  {},
);

function componentSection(kind: string) {
  return emptyWhenNull(z.record(z.string(), z.unknown(), { error: `expected a mapping of ${kind} ids to their config` }), {});
}

const attributeValue = z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string, a number or true/false' });

/**
 * The whole file. `service.state_directory` stays optional here: its default depends on the
 * environment, and building this schema per load costs more than the rest of the load.
 */
export const agentFileSchema = z.strictObject({
  receivers: componentSection('receiver'),
  processors: componentSection('processor'),
  exporters: componentSection('exporter'),
  views: emptyWhenNull(z.array(viewSchema), []),
  resource: emptyWhenNull(z.record(z.string(), attributeValue), {}),
  service: emptyWhenNull(
    z.strictObject({
      state_directory: z
        .string()
        .refine((path) => isAbsolute(path), { error: 'expected an absolute path' })
        .optional(),
      pipelines: emptyWhenNull(z.record(z.string(), pipelineSchema), {}),
      telemetry: emptyWhenNull(
        z.strictObject({
          logs: emptyWhenNull(z.strictObject({ level: z.enum(LOG_LEVELS).default('info') }), {}),
          metrics: emptyWhenNull(
            z.strictObject({
              enabled: flag().default(true),
              series_limit: positiveInteger().default(DEFAULT_SERIES_LIMIT),
            }),
            {},
          ),
          health: emptyWhenNull(
            z.strictObject({
              endpoint: hostPort()
                .refine((text) => !/:\d+$/.test(text) || Number(text.slice(text.lastIndexOf(':') + 1)) <= 65535, { message: 'port must be 0 to 65535' })
                .default(DEFAULT_HEALTH_ENDPOINT),
            }),
            {},
          ).optional(),
        }),
        {},
      ),
    }),
    {},
  ),
});

/**
 * `service.state_directory` when the file does not say: systemd's StateDirectory= first;
 * else /var/lib/otel-agent for root, and for any other user their XDG state home
 * (`$XDG_STATE_HOME/otel-agent`, by default `~/.local/state/otel-agent`), so that `npm start`
 * by hand works without root and two users' agents never share a lock.
 */
export function defaultStateDirectory(env: NodeJS.ProcessEnv, uid: number | undefined = process.getuid?.()): string {
  // systemd sets a colon-separated list when the unit names several directories.
  const fromSystemd = env.STATE_DIRECTORY?.split(':')[0];
  if (fromSystemd) return fromSystemd;
  if (uid === undefined || uid === 0) return DEFAULT_STATE_DIRECTORY;
  const stateHome = env.XDG_STATE_HOME?.startsWith('/') ? env.XDG_STATE_HOME : env.HOME ? `${env.HOME}/.local/state` : undefined;
  return stateHome === undefined ? DEFAULT_STATE_DIRECTORY : `${stateHome}/otel-agent`;
}
