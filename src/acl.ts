/**
 * Who may publish and subscribe to what on the edgeloop topic tree. Pure: the embedded broker
 * (gateway/broker-auth.ts) enforces these rules and `edgeloop acl mosquitto` renders the same rules
 * for mosquitto, so both brokers refuse the same things. See docs/security.md.
 *
 * Identities are broker usernames (and client-certificate CNs):
 *   <fleet>/<device>   a device: publishes only under edgeloop/<fleet>/<device>/…, reads its own cmd and
 *                      rejected topics and its fleet's edgeloop/<fleet>/models/… topics.
 *   _gateway/<id>      a gateway: everything under edgeloop/ (and $share/<group>/edgeloop/… filters).
 * `_gateway` cannot be a fleet name (names start with a letter or digit), so the two never collide.
 */
import { EdgeloopError } from './errors.ts';
import { isSafeName, describeValue, NAME_MAX_LENGTH } from './names.ts';
import { parseTopic, TOPIC_ROOT, RESERVED_DEVICE_NAMES, DEVICE_TOPICS, type DeviceTopicKind } from './topics.ts';

export type Identity =
  | { role: 'device'; fleet: string; device: string }
  | { role: 'gateway'; id: string };

export const GATEWAY_IDENTITY_PREFIX = '_gateway';

/** What a device may publish on its own edgeloop/<fleet>/<device>/… subtree (plus telemetry/<sensor>). */
export const DEVICE_PUBLISH_KINDS: readonly DeviceTopicKind[] = [
  'telemetry', 'status', 'heartbeat', 'predictions', 'drift', 'labels', 'cmdResult', 'modelRequest',
];

/** Gateway → device topics a device may subscribe to (its own only). */
export const DEVICE_SUBSCRIBE_KINDS: readonly DeviceTopicKind[] = ['cmd', 'rejected'];

export type AclDecision = { allow: true } | { allow: false; reason: string };

const ALLOW: AclDecision = { allow: true };
const deny = (reason: string): AclDecision => ({ allow: false, reason });

export function identityName(identity: Identity): string {
  switch (identity.role) {
    case 'device': return `${identity.fleet}/${identity.device}`;
    case 'gateway': return `${GATEWAY_IDENTITY_PREFIX}/${identity.id}`;
  }
}

/** Parses a username or certificate CN; throws BAD_NAME naming what is wrong. */
export function parseIdentity(name: unknown): Identity {
  const text = typeof name === 'string' ? name : '';
  const parts = text.split('/');
  if (typeof name !== 'string' || parts.length !== 2 || name.length > 2 * NAME_MAX_LENGTH + 1) {
    throw new EdgeloopError('BAD_NAME', `identity ${describeValue(name)} must be <fleet>/<device> or ${GATEWAY_IDENTITY_PREFIX}/<gateway id>`);
  }
  const [first, second] = parts as [string, string];
  if (first === GATEWAY_IDENTITY_PREFIX) {
    if (!isSafeName(second)) throw new EdgeloopError('BAD_NAME', `identity ${describeValue(name)}: gateway id ${describeValue(second)} is not allowed: use 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit`);
    return { role: 'gateway', id: second };
  }
  if (!isSafeName(first)) throw new EdgeloopError('BAD_NAME', `identity ${describeValue(name)}: fleet name ${describeValue(first)} is not allowed: use 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit`);
  if (!isSafeName(second)) throw new EdgeloopError('BAD_NAME', `identity ${describeValue(name)}: device name ${describeValue(second)} is not allowed: use 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit`);
  if (RESERVED_DEVICE_NAMES.has(second)) throw new EdgeloopError('BAD_NAME', `identity ${describeValue(name)}: device name '${second}' is reserved`);
  return { role: 'device', fleet: first, device: second };
}

/** May `identity` publish on `topic` (a concrete topic, no wildcards)? */
export function checkPublish(identity: Identity, topic: string): AclDecision {
  if (topic.includes('+') || topic.includes('#')) return deny('wildcards are not allowed in a published topic');
  switch (identity.role) {
    case 'gateway':
      return topic.startsWith(`${TOPIC_ROOT}/`) ? ALLOW : deny(`a gateway publishes only under ${TOPIC_ROOT}/`);
    case 'device': {
      let parsed;
      try {
        parsed = parseTopic(topic);
      } catch {
        return deny('not an edgeloop device topic');
      }
      if (parsed.kind === 'telemetrySensor' || (DEVICE_PUBLISH_KINDS as readonly string[]).includes(parsed.kind)) {
        const own = 'device' in parsed && parsed.fleet === identity.fleet && parsed.device === identity.device;
        return own ? ALLOW : deny(`a device publishes only under ${TOPIC_ROOT}/${identity.fleet}/${identity.device}/`);
      }
      return deny(`devices may not publish '${parsed.kind}' topics`);
    }
  }
}

/** May `identity` subscribe to `filter` (which may hold + and # wildcards)? */
export function checkSubscribe(identity: Identity, filter: string): AclDecision {
  switch (identity.role) {
    case 'gateway': {
      // $share/<group>/<filter>: MQTT 5 shared subscriptions (several gateways split one stream).
      const inner = filter.startsWith('$share/') ? filter.split('/').slice(2).join('/') : filter;
      return inner.startsWith(`${TOPIC_ROOT}/`) ? ALLOW : deny(`a gateway subscribes only under ${TOPIC_ROOT}/`);
    }
    case 'device': {
      const own = DEVICE_SUBSCRIBE_KINDS.map((k) => `${TOPIC_ROOT}/${identity.fleet}/${identity.device}/${DEVICE_TOPICS[k]}`);
      if (own.includes(filter)) return ALLOW;
      const parts = filter.split('/');
      // edgeloop/<own fleet>/models/<anything, wildcards allowed>: manifests and chunks for the fleet.
      if (parts.length >= 4 && parts[0] === TOPIC_ROOT && parts[1] === identity.fleet && parts[2] === 'models') return ALLOW;
      return deny(`a device subscribes only to ${own.join(', ')} and ${TOPIC_ROOT}/${identity.fleet}/models/#`);
    }
  }
}

/**
 * The same rules as a mosquitto acl_file. Per-device topics are `pattern` rules with %u (the username
 * is `<fleet>/<device>`, so edgeloop/%u/telemetry is the device's own subtree); the fleet's model
 * topics cannot be derived from %u, so each device gets a `user` block. Regenerate (and SIGHUP
 * mosquitto) after adding devices.
 */
export function renderMosquittoAcl(identities: readonly Identity[]): string {
  const lines = [
    '# edgeloop broker ACL, generated by `edgeloop acl mosquitto` — same rules as the embedded broker (docs/security.md).',
    '# Usernames (or certificate CNs with use_identity_as_username): <fleet>/<device> and _gateway/<id>.',
    '',
    '# Every device: publish under its own edgeloop/<fleet>/<device>/…',
    ...DEVICE_PUBLISH_KINDS.map((k) => `pattern write ${TOPIC_ROOT}/%u/${DEVICE_TOPICS[k]}`),
    `pattern write ${TOPIC_ROOT}/%u/${DEVICE_TOPICS.telemetry}/+`,
    '# … and read its own gateway → device topics.',
    ...DEVICE_SUBSCRIBE_KINDS.map((k) => `pattern read ${TOPIC_ROOT}/%u/${DEVICE_TOPICS[k]}`),
    '',
  ];
  const sorted = [...identities].sort((a, b) => identityName(a).localeCompare(identityName(b)));
  for (const id of sorted) {
    lines.push(`user ${identityName(id)}`);
    switch (id.role) {
      case 'gateway':
        lines.push(`topic readwrite ${TOPIC_ROOT}/#`);
        break;
      case 'device':
        lines.push(`topic read ${TOPIC_ROOT}/${id.fleet}/models/#`);
        break;
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** The mosquitto.conf lines that use the generated files. */
export function mosquittoConfLines(paths: { aclFile: string; passwordFile: string }): string {
  return [
    '# edgeloop: authentication and ACL (mosquitto 2.x)',
    'allow_anonymous false',
    `password_file ${paths.passwordFile}`,
    `acl_file ${paths.aclFile}`,
    '# Gateways may be down for a while: never drop their queued QoS 1 messages (docs/protocol.md).',
    'max_queued_messages 0',
    '# mTLS instead of (or next to) passwords: the certificate CN is the username.',
    '# listener 8883',
    '# cafile /etc/mosquitto/ca.crt',
    '# certfile /etc/mosquitto/server.crt',
    '# keyfile /etc/mosquitto/server.key',
    '# require_certificate true',
    '# use_identity_as_username true',
    '',
  ].join('\n');
}
