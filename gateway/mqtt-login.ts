/**
 * How the gateway's own MQTT clients (ingest session, rollouts, drift alerts) log in to the broker:
 * username/password and, for mqtts://, the CA that signs the broker certificate and an optional client
 * certificate (mTLS, CN `_gateway/<id>`). One shape for the DurableSubscriber and mqtt.js clients.
 */
import type { IClientOptions } from '../io/mqtt-client.ts';

export interface MqttTls {
  /** CA(s) that sign the broker's certificate (PEM). */
  ca?: string | Buffer;
  /** Client certificate and key (PEM) for brokers that ask for one. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Default true: a broker certificate that does not verify is refused. */
  rejectUnauthorized?: boolean;
}

export interface MqttLogin {
  username?: string;
  password?: string;
  protocolVersion?: 4 | 5;
  tls?: MqttTls;
}

/** The same login as mqtt.js connect options (undefined fields left out). */
export function mqttJsOptions(login: MqttLogin | undefined): IClientOptions {
  if (!login) return {};
  const all: IClientOptions = {
    username: login.username, password: login.password, protocolVersion: login.protocolVersion,
    ca: login.tls?.ca, cert: login.tls?.cert, key: login.tls?.key, rejectUnauthorized: login.tls?.rejectUnauthorized,
  };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as IClientOptions;
}
