// The mqtt receiver's config: which broker, how to log in, and per subscription which topics,
// how a payload becomes a record (json, logfmt, or a plain number) and how records become
// metrics (the shared mapping, as joblog's). Credentials are separate keys, never in the URL.
import { z } from 'zod';
import { clientTlsSchema } from '../../component/client-tls.js';
import { durationBetween } from '../../component/schema.js';
import { checkEventHandling, eventMetricsSchema, eventParsingShape } from '../../events/index.js';


const SCHEMES = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];

/** The broker URL, or why it is not one. */
export function parseBroker(text: string): URL | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `expected a URL like mqtt://127.0.0.1:1883, mqtts://broker.example:8883 or ws://127.0.0.1:9001/mqtt, found ${JSON.stringify(text)}`;
  }
  if (!SCHEMES.includes(url.protocol)) return `expected the scheme mqtt://, mqtts://, ws:// or wss://, found ${JSON.stringify(url.protocol.slice(0, -1))}`;
  if (url.username !== '' || url.password !== '') {
    return 'expected no credentials in the broker URL (use the username and password keys, which are kept out of logs)';
  }
  if (url.hostname === '') return `expected a host, like mqtt://127.0.0.1:1883, found ${JSON.stringify(text)}`;
  return url;
}

function broker() {
  return z.string().transform((text, ctx): string => {
    const parsed = parseBroker(text.trim());
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return parsed.href.replace(/\/$/, '');
  });
}

/** One segment of a topic pattern: `{name}` (one level, an attribute), `+`, `#` (last only), or literal text. */
const PLACEHOLDER = /^\{([A-Za-z_][A-Za-z0-9_.]*)\}$/;

export interface TopicPattern {
  /** What is subscribed to: each `{name}` as `+`. */
  filter: string;
  /** The topic level each named segment takes its value from. */
  fields: Array<{ name: string; level: number }>;
}

/** The MQTT filter and the named levels of a topic pattern, or why it is not one. */
export function parseTopicPattern(text: string): TopicPattern | string {
  if (text === '') return 'expected a topic, like guestkit/{worker}/jobs or sensors/#';
  const levels = text.split('/');
  const fields: TopicPattern['fields'] = [];
  const filter: string[] = [];
  for (const [level, segment] of levels.entries()) {
    const named = PLACEHOLDER.exec(segment);
    if (named) {
      if (fields.some((field) => field.name === named[1])) return `expected each {name} once, found {${named[1]}} twice in ${JSON.stringify(text)}`;
      fields.push({ name: named[1], level });
      filter.push('+');
    } else if (segment === '#') {
      if (level !== levels.length - 1) return `expected # only as the last level, found ${JSON.stringify(text)}`;
      filter.push(segment);
    } else if (segment === '+' || !/[+#{}]/.test(segment)) {
      filter.push(segment);
    } else {
      return `expected a level to be text, +, # or {name}, found ${JSON.stringify(segment)} in ${JSON.stringify(text)}`;
    }
  }
  return { filter: filter.join('/'), fields };
}

const subscriptionSchema = z
  .strictObject({
    /** An MQTT filter (`+`, `#`), with `{name}` for a level that becomes the record's field `name`. */
    topic: z.string().superRefine((text, ctx) => {
      const parsed = parseTopicPattern(text);
      if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
    }),
    /** 0: at most once; 1: at least once on the wire, counted once (see the README). */
    qos: z.union([z.literal(0), z.literal(1)]).default(1),
    ...eventParsingShape,
    /** json, logfmt, regex, or number: the payload is one number, the record's field `value`. */
    format: z.enum(['json', 'logfmt', 'regex', 'number']),
    metrics: eventMetricsSchema,
  })
  .superRefine((config, ctx) => {
    if (config.format === 'number') {
      for (const key of ['regex', 'include', 'exclude', 'timestamp'] as const) {
        if (config[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `expected no ${key} with format: number (the payload is one number)` });
      }
      return;
    }
    checkEventHandling(config as Record<string, unknown>, ctx);
  });


export const configSchema = z
  .strictObject({
    broker: broker().prefault('mqtt://127.0.0.1:1883'),
    /** 4: MQTT 3.1.1; 5: MQTT 5. */
    protocol_version: z.union([z.literal(4), z.literal(5)]).default(4),
    username: z.string().min(1).optional(),
    /** Write `${env:MQTT_PASSWORD}` or `${file:/path}`; never shown in logs, /health or print-config. */
    password: z.string().optional(),
    /** The session's name at the broker: with clean_session false, what was published while the agent was down waits under it. */
    client_id: z.string().min(1).max(65535).optional(),
    /** Default: false with a client_id (a session that survives), true without one. */
    clean_session: z.boolean().optional(),
    keepalive: durationBetween('30s', 1000, 65535 * 1000),
    connect_timeout: durationBetween('10s', 100),
    /** Reconnect attempts start at 100ms and double up to this. */
    max_reconnect_interval: durationBetween('30s', 100),
    tls: clientTlsSchema.optional(),
    /** Keep metric values across restarts, written with the acknowledgement state. */
    persist: z.boolean().default(true),
    subscriptions: z.array(subscriptionSchema).min(1),
  })
  .superRefine((config, ctx) => {
    const secure = config.broker.startsWith('mqtts:') || config.broker.startsWith('wss:');
    if (config.tls !== undefined && !secure) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: `expected an mqtts:// or wss:// broker with tls settings, found ${config.broker}` });
    }
    if (config.tls !== undefined && (config.tls.cert_file === undefined) !== (config.tls.key_file === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tls', config.tls.cert_file === undefined ? 'cert_file' : 'key_file'], message: 'expected cert_file and key_file together' });
    }
    if (config.clean_session === false && config.client_id === undefined) {
      ctx.addIssue({ code: 'custom', path: ['clean_session'], message: 'expected a client_id with clean_session: false (the session is found again by it)' });
    }
  });

export type MqttConfig = z.output<typeof configSchema>;
export type MqttSubscription = MqttConfig['subscriptions'][number];
