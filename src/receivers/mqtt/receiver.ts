// The mqtt receiver: one connection to a broker, the subscriptions' messages parsed and mapped
// by the shared events module, and QoS 1 messages counted once across restarts (ADR 0017):
// a message is counted, then the values and the ids of counted messages are written in one
// atomic write, and only then acknowledged. A redelivery (DUP) of a message the saved state
// names as counted is acknowledged without being counted again.
import { createHash } from 'node:crypto';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import { clientTlsOptions } from '../../component/client-tls.js';
import { Lifecycle, StatusOnChange } from '../../component/lifecycle.js';
import type { Counter, Gauge, Receiver, ReceiverSettings, StateFormat } from '../../component/types.js';
import { compiledEventHandling, EventPipeline, type EventRecord } from '../../events/index.js';
import { parseTopicPattern, type MqttConfig, type MqttSubscription, type TopicPattern } from './config.js';

/** The first wait before a reconnect; it doubles up to max_reconnect_interval. */
const FIRST_RECONNECT_MS = 100;
/** How often values are saved when only QoS 0 messages (which wait for no save) moved them. */
const SAVE_INTERVAL_MS = 1000;
/** Given to mqtt.js's handleMessage callback for a QoS 1 message: it then sends no PUBACK (sent after the save). */
const ACK_LATER = new Error('acknowledged after the state is saved');
const STATE_VERSION = 1;

/** A counted QoS 1 message whose acknowledgement the broker may not have yet. */
interface Claim {
  /** Topic and payload digest: a redelivery under the id carries the same. */
  digest: string;
  /** 0: not acknowledged yet; n > 0: acknowledged before ping n was sent; -1: acknowledged on a connection that dropped. */
  acked: number;
}

interface SavedState {
  metrics?: unknown;
  mappings?: unknown[];
  claims?: Array<[number, string]>;
  savedAt?: string;
}

const stateFormat: StateFormat<SavedState> = {
  versions: [STATE_VERSION],
  decode(document) {
    const claims = document.claims;
    if (claims !== undefined && (!Array.isArray(claims) || !claims.every((c) => Array.isArray(c) && typeof c[0] === 'number' && typeof c[1] === 'string'))) {
      throw new Error('expected claims as [packet id, digest] pairs');
    }
    return document as SavedState;
  },
};

interface Subscription {
  config: MqttSubscription;
  pattern: TopicPattern;
  levels: string[];
  events: EventPipeline;
}

export class MqttReceiver implements Receiver {
  private readonly lifecycle: Lifecycle;
  private readonly status: StatusOnChange;
  private readonly subscriptions: Subscription[];
  private readonly derived: ReadonlySet<string>;
  private readonly selfAttributes: { receiver: string };
  private readonly connected: Gauge;
  private readonly messages: Counter;
  private readonly duplicates: Counter;
  private readonly reconnects: Counter;
  private client: MqttClient | undefined;
  /** Counted QoS 1 messages by packet id, saved with the values. */
  private readonly claims = new Map<number, Claim>();
  /** Packet ids counted (or recognised) whose PUBACK waits for the next save. */
  private pendingAcks: number[] = [];
  private saving: Promise<void> | undefined;
  private saveAgain = false;
  private dirty = false;
  /** Pings sent on this connection, each with the ack sequence number current when it went. */
  private readonly pingsInFlight: number[] = [];
  private ackSequence = 0;
  /** Fields of the topic of the message being handled. */
  private topicFields: EventRecord | undefined;
  private currentTopic: string | undefined;
  private lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: ReceiverSettings,
    private readonly config: MqttConfig,
  ) {
    const { id, telemetry } = settings;
    this.status = new StatusOnChange(settings.status);
    this.lifecycle = new Lifecycle(`receiver "${id}"`, { start: (signal) => this.begin(signal), stop: (started) => this.end(started) });
    const derived = new Set<string>();
    this.subscriptions = config.subscriptions.map((subscription) => {
      const pattern = parseTopicPattern(subscription.topic) as TopicPattern;
      const handling = { ...subscription, format: subscription.format === 'number' ? ('logfmt' as const) : subscription.format };
      for (const metric of compiledEventHandling(handling).metrics) if (metric.pair?.active !== undefined) derived.add(metric.pair.active);
      const events = new EventPipeline(settings, handling, {
        receiverRefusals: subscription.format === 'number' ? ['not_a_number'] : [],
        source: () => this.currentTopic,
        recordFields: () => this.topicFields,
      });
      return { config: subscription, pattern, levels: pattern.filter.split('/'), events };
    });
    this.derived = derived;
    this.selfAttributes = Object.freeze({ receiver: id });
    this.connected = telemetry.gauge('otel_agent.mqtt.connected', { unit: '1', description: '1 while connected to the broker and subscribed, 0 otherwise.' });
    const counter = (name: string, unit: string, description: string) => {
      const instrument = telemetry.counter(name, { unit, description });
      instrument.add(0, this.selfAttributes);
      return instrument;
    };
    this.messages = counter('otel_agent.mqtt.messages', '{messages}', 'Messages received from the broker (redeliveries of counted ones not included).');
    this.duplicates = counter('otel_agent.mqtt.duplicates', '{messages}', 'QoS 1 redeliveries of messages already counted: acknowledged, not counted again.');
    this.reconnects = counter('otel_agent.mqtt.reconnects', '{reconnects}', 'Connections to the broker made again after one was lost.');
  }

  start(signal: AbortSignal): Promise<void> {
    return this.lifecycle.start(signal);
  }

  shutdown(): Promise<void> {
    return this.lifecycle.shutdown();
  }

  async collect(): Promise<void> {
    if (!this.lifecycle.active) return;
    for (const subscription of this.subscriptions) subscription.events.mapper.refresh();
  }

  private async begin(signal: AbortSignal): Promise<void> {
    const saved = await this.settings.store.record.read(stateFormat);
    this.restore(saved);
    if (signal.aborted) return;
    this.connected.set(0, this.selfAttributes);
    this.status.report('degraded', `connecting to ${this.config.broker}`);
    const options = await this.clientOptions();
    if (signal.aborted) return;
    const client = mqtt.connect(this.config.broker, options);
    this.client = client;
    // Counting happens here; the PUBACK of a QoS 1 message is sent after the save (flushAcks).
    client.handleMessage = ((packet: IPublishPacket, callback: (error?: Error) => void) => {
      this.onPublish(packet);
      callback(packet.qos === 1 ? ACK_LATER : undefined);
    }) as MqttClient['handleMessage'];
    this.watch(client);
    this.timer = setInterval(() => this.housekeep(), SAVE_INTERVAL_MS).unref();
  }

  private async end(started: boolean): Promise<void> {
    clearInterval(this.timer);
    const client = this.client;
    this.client = undefined;
    if (client) await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
    if (!started) return;
    // What was counted but not acknowledged is in the claims: the broker redelivers it, and it is recognised.
    this.pendingAcks = [];
    await this.saving?.catch(() => undefined);
    if (this.dirty || this.claims.size > 0) await this.save().catch((error: unknown) => this.logSaveError(error));
    for (const subscription of this.subscriptions) subscription.events.refusals.flush(true);
    this.connected.remove(this.selfAttributes);
  }

  private async clientOptions(): Promise<IClientOptions> {
    const config = this.config;
    const cleanSession = config.clean_session ?? config.client_id === undefined;
    const options: IClientOptions = {
      protocolVersion: config.protocol_version,
      keepalive: Math.round(config.keepalive / 1000),
      connectTimeout: config.connect_timeout,
      reconnectPeriod: FIRST_RECONNECT_MS,
      clean: cleanSession,
      clientId: config.client_id ?? `otel-agent-${process.pid}-${Math.random().toString(16).slice(2, 10)}`,
      ...(config.username !== undefined && { username: config.username }),
      // An empty password (an unset ${env:...:-}) means none.
      ...(config.password !== undefined && config.password !== '' && { password: config.password }),
      resubscribe: true,
      ...(config.protocol_version === 5 && !cleanSession && { properties: { sessionExpiryInterval: 0xffffffff } }),
    };
    const tls = config.tls;
    if (tls !== undefined) {
      Object.assign(options, await clientTlsOptions(tls));
    }
    return options;
  }

  private watch(client: MqttClient): void {
    const { logger, id } = this.settings;
    const fields = { receiver: id, broker: this.config.broker };
    let attempts = 0;
    let wasConnected = false;
    client.on('connect', (connack) => {
      attempts = 0;
      client.options.reconnectPeriod = FIRST_RECONNECT_MS;
      if (wasConnected) this.reconnects.add(1, this.selfAttributes);
      const filters = Object.fromEntries(this.subscriptions.map((s) => [s.pattern.filter, { qos: s.config.qos }]));
      // A session the broker kept has the subscriptions already; subscribing again is harmless and covers a changed config.
      client.subscribe(filters, (error) => {
        if (error) {
          this.lastError = `subscribe failed: ${error.message}`;
          this.status.report('degraded', this.lastError);
          return;
        }
        this.lastError = undefined;
        this.connected.set(1, this.selfAttributes);
        this.status.report('ok');
        logger.info({ ...fields, sessionPresent: connack.sessionPresent }, 'connected to the mqtt broker and subscribed');
      });
      wasConnected = true;
    });
    client.on('error', (error) => {
      this.lastError = error.message;
    });
    client.on('close', () => {
      this.connected.set(0, this.selfAttributes);
      // Acknowledgements sent on this connection may never have arrived: no ping on the next one proves them.
      for (const claim of this.claims.values()) if (claim.acked > 0) claim.acked = -1;
      this.pingsInFlight.length = 0;
      if (!this.lifecycle.active) return;
      const reason = `disconnected from ${this.config.broker}: ${this.lastError ?? 'the connection was closed'}; reconnecting`;
      if (wasConnected) logger.warn(fields, reason);
      this.status.report('degraded', reason);
    });
    client.on('reconnect', () => {
      attempts += 1;
      client.options.reconnectPeriod = Math.min(FIRST_RECONNECT_MS * 2 ** Math.min(attempts, 20), this.config.max_reconnect_interval);
    });
    client.on('packetsend', (packet: Packet) => {
      if (packet.cmd === 'pingreq') this.pingsInFlight.push(this.ackSequence);
    });
    client.on('packetreceive', (packet: Packet) => {
      if (packet.cmd !== 'pingresp') return;
      const sequence = this.pingsInFlight.shift();
      if (sequence === undefined) return;
      // The broker answered a ping sent after these acknowledgements: it has them, the ids are free.
      for (const [packetId, claim] of this.claims) if (claim.acked > 0 && claim.acked <= sequence) this.claims.delete(packetId);
    });
  }

  private onPublish(packet: IPublishPacket): void {
    const topic = packet.topic;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : Buffer.from(packet.payload.buffer, packet.payload.byteOffset, packet.payload.byteLength);
    if (packet.qos === 1 && packet.messageId !== undefined) {
      const digest = createHash('sha1').update(topic).update('\u0000').update(payload).digest('base64');
      const claim = this.claims.get(packet.messageId);
      this.pendingAcks.push(packet.messageId);
      this.scheduleSave();
      if (packet.dup && claim !== undefined && claim.digest === digest) {
        // Counted before (this run or, saved, the last): acknowledge it after the save that holds it.
        claim.acked = 0;
        this.duplicates.add(1, this.selfAttributes);
        return;
      }
      // A first delivery under an id proves the broker had the last acknowledgement under it.
      this.claims.set(packet.messageId, { digest, acked: 0 });
    }
    this.messages.add(1, this.selfAttributes);
    this.dirty = true;
    this.count(topic, payload);
  }

  private count(topic: string, payload: Buffer): void {
    const levels = topic.split('/');
    const now = Date.now();
    this.currentTopic = topic;
    for (const subscription of this.subscriptions) {
      if (!matches(subscription.levels, levels)) continue;
      const fields: Record<string, string> = {};
      for (const { name, level } of subscription.pattern.fields) fields[name] = levels[level];
      this.topicFields = fields;
      if (subscription.config.format === 'number') {
        const text = payload.toString('utf8').trim();
        if (text === '' || !Number.isFinite(Number(text))) subscription.events.refusals.refuse('not_a_number', topic);
        else subscription.events.mapper.map({ ...fields, value: text }, now);
      } else {
        subscription.events.parse(payload, 0, payload.length, now);
      }
    }
    this.topicFields = undefined;
    this.currentTopic = undefined;
  }

  private scheduleSave(): void {
    if (this.saving) {
      this.saveAgain = true;
      return;
    }
    this.saving = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.saveAndAcknowledge());
  }

  /** Count, save, acknowledge: the PUBACKs of the messages counted so far go once the write that holds them is durable. */
  private async saveAndAcknowledge(): Promise<void> {
    try {
      for (;;) {
        this.saveAgain = false;
        const acks = this.pendingAcks;
        this.pendingAcks = [];
        const client = this.client;
        try {
          await this.save();
        } catch (error) {
          // Not acknowledged: the broker redelivers them (after a reconnect); counted again only if no save ever held them.
          this.logSaveError(error);
          break;
        }
        if (client !== undefined && client === this.client && client.connected) {
          this.ackSequence += 1;
          for (const packetId of acks) {
            const claim = this.claims.get(packetId);
            if (claim) claim.acked = this.ackSequence;
            (client as unknown as { _sendPacket(packet: Packet): void })._sendPacket({ cmd: 'puback', messageId: packetId } as Packet);
          }
          // Its answer proves the broker read these acknowledgements: their ids can leave the saved claims.
          client.sendPing();
        }
        if (!this.saveAgain) break;
      }
    } finally {
      this.saving = undefined;
    }
  }

  private async save(): Promise<void> {
    this.dirty = false;
    const body: SavedState = { savedAt: new Date().toISOString() };
    const meter = this.settings.meter;
    if (this.config.persist && meter.snapshot) body.metrics = meter.snapshot({ exclude: this.derived });
    body.mappings = this.subscriptions.map((s) => s.events.saveState()?.mapping ?? null);
    body.claims = [...this.claims].map(([packetId, claim]) => [packetId, claim.digest]);
    await this.settings.store.record.write(STATE_VERSION, body as Record<string, unknown>);
  }

  private restore(saved: SavedState | undefined): void {
    if (saved === undefined) return;
    const meter = this.settings.meter;
    if (this.config.persist && saved.metrics !== undefined && meter.restore) {
      const { series, dropped } = meter.restore(saved.metrics);
      if (series > 0 || dropped > 0) this.settings.logger.info({ receiver: this.settings.id, series, dropped }, 'metric values restored: counters continue from where they were');
    }
    saved.mappings?.forEach((mapping, index) => {
      if (mapping !== null && typeof mapping === 'object') this.subscriptions[index]?.events.restoreState({ mapping, savedAt: saved.savedAt });
    });
    // Saved claims were acknowledged on a connection that is gone, if at all: none is proven yet.
    for (const [packetId, digest] of saved.claims ?? []) this.claims.set(packetId, { digest, acked: -1 });
  }

  private housekeep(): void {
    if (!this.lifecycle.active) return;
    for (const subscription of this.subscriptions) {
      subscription.events.mapper.refresh();
      subscription.events.refusals.flush();
    }
    if (this.dirty) this.scheduleSave();
  }

  private logSaveError(error: unknown): void {
    this.settings.logger.error({ receiver: this.settings.id, error: (error as Error).message }, 'cannot save mqtt state; acknowledgements held back');
  }
}

/** MQTT filter matching, level by level: `+` one level, `#` the rest (and the parent). */
function matches(filter: readonly string[], topic: readonly string[]): boolean {
  for (let i = 0; i < filter.length; i += 1) {
    const level = filter[i];
    if (level === '#') return true;
    if (i >= topic.length) return false;
    if (level !== '+' && level !== topic[i]) return false;
  }
  return filter.length === topic.length;
}
