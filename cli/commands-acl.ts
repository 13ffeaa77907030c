/**
 * `edgeloop acl …`: broker credentials and ACLs (docs/security.md).
 *   add-device / add-gateway  create an identity; a generated password is printed once (only its hash is kept)
 *   remove                    delete an identity (also revokes its client certificate)
 *   list                      identities and whether they have a password
 *   mosquitto                 the equivalent mosquitto acl_file and the mosquitto.conf lines to use it
 */
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { EdgeloopError } from '../src/errors.ts';
import { identityName, parseIdentity, renderMosquittoAcl, mosquittoConfLines, type Identity } from '../src/acl.ts';
import { assertSafeName } from '../src/names.ts';
import {
  generatePassword, hashPassword, mosquittoPasswordLine, readCredentialsFile, writeCredentialsFile, upsertUser, removeUser,
} from '../gateway/broker-auth.ts';
import { parse, requireFlag } from './args.ts';
import { loadConfig } from './config.ts';

const USAGE = `edgeloop acl add-device --fleet F --device D [--rotate] [--no-password] [--mosquitto-passwd file]
       edgeloop acl add-gateway --id G [--rotate] [--no-password] [--mosquitto-passwd file]
       edgeloop acl remove <identity>
       edgeloop acl list [--format table|json]
       edgeloop acl mosquitto [--out file] [--password-file path]
  Common: [--credentials file] (default <dataDir>/broker-credentials.json) [--config file]
  Identities: <fleet>/<device> for devices, _gateway/<id> for gateways (also the client-certificate CN).`;

export interface AclIo {
  out: (text: string) => void;
  now: () => number;
}

const defaultIo: AclIo = { out: (t) => process.stdout.write(t), now: Date.now };

export async function aclCommand(argv: string[], io: AclIo = defaultIo): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    credentials: { type: 'string' }, fleet: { type: 'string' }, device: { type: 'string' }, id: { type: 'string' },
    rotate: { type: 'boolean' }, 'no-password': { type: 'boolean' }, 'mosquitto-passwd': { type: 'string' },
    out: { type: 'string' }, format: { type: 'string' }, 'password-file': { type: 'string' },
  }, USAGE);
  const path = values.credentials ?? `${loadConfig({ file: values.config }).dataDir}/broker-credentials.json`;
  switch (sub) {
    case 'add-device':
    case 'add-gateway': {
      const identity: Identity = sub === 'add-device'
        ? { role: 'device', fleet: assertSafeName('fleet', requireFlag(values.fleet, 'fleet', USAGE)), device: assertSafeName('device', requireFlag(values.device, 'device', USAGE)) }
        : parseIdentity(`_gateway/${requireFlag(values.id, 'id', USAGE)}`);
      const name = identityName(identity);
      parseIdentity(name); // refuses reserved device names (models, alerts)
      const file = readCredentialsFile(path);
      const password = values['no-password'] ? undefined : generatePassword();
      const entry = { identity: name, ...(password ? { passwordHash: await hashPassword(password) } : {}), createdAtMs: io.now() };
      writeCredentialsFile(path, upsertUser(file, entry, { replace: values.rotate ?? false }));
      if (password && values['mosquitto-passwd']) appendMosquittoPassword(values['mosquitto-passwd'], name, password);
      io.out(`identity: ${name}\n`);
      if (password) io.out(`password: ${password}\n(shown once: only its hash is kept in ${path})\n`);
      else io.out(`no password: this identity logs in with a client certificate whose CN is ${name}\n`);
      return;
    }
    case 'remove': {
      const name = positionals[0];
      if (!name) throw new EdgeloopError('BAD_ARGUMENT', `the identity to remove is required\nusage: ${USAGE}`);
      writeCredentialsFile(path, removeUser(readCredentialsFile(path), name));
      io.out(`removed ${name}\n`);
      return;
    }
    case 'list': {
      const format = values.format ?? 'table';
      if (format !== 'table' && format !== 'json') throw new EdgeloopError('BAD_ARGUMENT', `--format ${JSON.stringify(format)} must be one of table, json`);
      const rows = readCredentialsFile(path).users.map((u) => ({ identity: u.identity, role: parseIdentity(u.identity).role, password: u.passwordHash !== undefined, createdAt: new Date(u.createdAtMs).toISOString() }));
      if (format === 'json') io.out(JSON.stringify(rows, null, 2) + '\n');
      else io.out(rows.length === 0 ? '(none)\n' : rows.map((r) => `${r.identity.padEnd(40)} ${r.role.padEnd(8)} ${r.password ? 'password' : 'certificate only'}`).join('\n') + '\n');
      return;
    }
    case 'mosquitto': {
      const identities = readCredentialsFile(path).users.map((u) => parseIdentity(u.identity));
      const acl = renderMosquittoAcl(identities);
      const conf = mosquittoConfLines({ aclFile: values.out ?? '/etc/mosquitto/edgeloop.acl', passwordFile: values['password-file'] ?? '/etc/mosquitto/edgeloop.passwd' });
      if (values.out) {
        writeFileSync(values.out, acl);
        io.out(`wrote ${values.out} (${identities.length} identities). Add to mosquitto.conf:\n\n${conf}`);
      } else {
        io.out(`${acl}\n# ---- mosquitto.conf ----\n${conf}`);
      }
      return;
    }
    default:
      throw new EdgeloopError('BAD_ARGUMENT', `unknown acl subcommand ${JSON.stringify(sub ?? '')}\nusage: ${USAGE}`);
  }
}

/** Replaces the identity's line in a mosquitto password_file (mode 0600), keeping the others. */
function appendMosquittoPassword(file: string, identity: string, password: string): void {
  const line = mosquittoPasswordLine(identity, password);
  if (!existsSync(file)) {
    writeFileSync(file, line + '\n', { mode: 0o600 });
    return;
  }
  const kept = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith(`${identity}:`));
  writeFileSync(file, [...kept, line].join('\n') + '\n', { mode: 0o600 });
}
