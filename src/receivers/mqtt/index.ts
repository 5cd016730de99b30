// The mqtt receiver: application events published to an MQTT broker (json, logfmt, a plain
// number) mapped to metrics by the shared events module; QoS 1 messages counted once across
// restarts (ADR 0017). This file is what the registry loads (the schema); the receiver and
// mqtt.js are imported only when a pipeline uses it.
import type { ReceiverFactory } from '../../component/types.js';
import { configSchema, type MqttConfig } from './config.js';

export type { MqttConfig } from './config.js';

export const mqttFactory: ReceiverFactory<MqttConfig> = {
  type: 'mqtt',
  kind: 'receiver',
  stability: 'alpha',
  description: 'Events published to an MQTT broker (json, logfmt, a number) mapped to metrics; QoS 1 counted once across restarts.',
  configSchema,
  async load() {
    const { MqttReceiver } = await import('./receiver.js');
    return { create: (settings, config) => new MqttReceiver(settings, config) };
  },
};
