/**
 * deploy/edgeloop-device.service: systemd parses it without a warning (systemd-analyze verify, skipped
 * where systemd is not installed), a broken copy is caught by the same check, and its restart budget
 * is consistent with the agent's crash-loop rollback (systemd must not give up before the agent's
 * rollback boot).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_DEFAULTS } from '../device/agent.ts';
import { tempDir } from './helpers/tmp.ts';

const UNIT = fileURLToPath(new URL('../deploy/edgeloop-device.service', import.meta.url));
const text = readFileSync(UNIT, 'utf8');
const hasSystemd = spawnSync('systemd-analyze', ['--version']).status === 0;

/** The unit with this machine's node binary, so the ExecStart check does not depend on /usr/bin/node. */
function verify(unitText: string): { status: number | null; output: string } {
  const path = join(tempDir(), 'edgeloop-device.service');
  writeFileSync(path, unitText.replace('/usr/bin/node', process.execPath));
  const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

(hasSystemd ? test : test.skip)('systemd-analyze verify accepts the unit without a warning and catches a broken copy', (t) => {
  t.deepEqual(verify(text), { status: 0, output: '' });
  const broken = verify(text.replace('ProtectSystem=strict', 'ProtectSystem=bogus'));
  t.regex(broken.output, /Failed to parse protect system value/);
});

function setting(key: string): string[] {
  return [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());
}

test('restart budget leaves room for the agent\'s crash-loop rollback; hardening settings present', (t) => {
  const { maxBoots, windowS } = AGENT_DEFAULTS.crashLoop;
  const burst = Number(setting('StartLimitBurst')[0]);
  const intervalS = Number(setting('StartLimitIntervalSec')[0]);
  const restartS = Number(setting('RestartSec')[0]);
  t.true(burst > maxBoots, `StartLimitBurst ${burst} must exceed crashLoop.maxBoots ${maxBoots}`);
  t.true(intervalS >= windowS, `StartLimitIntervalSec ${intervalS} must cover crashLoop.windowS ${windowS}`);
  t.true(restartS * maxBoots < windowS, `${maxBoots} restarts every ${restartS} s must fit in ${windowS} s`);
  t.deepEqual(setting('Restart'), ['on-failure']);
  for (const [key, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ReadWritePaths', '/var/lib/edgeloop-device'], ['PrivateTmp', 'yes'], ['CapabilityBoundingSet', ''], ['RestrictAddressFamilies', 'AF_INET AF_INET6 AF_UNIX']] as const) {
    t.deepEqual(setting(key), [value], key);
  }
  t.regex(setting('MemoryMax')[0] ?? '', /^\d+[KMG]$/);
  t.regex(text, /--dir \/var\/lib\/edgeloop-device --public-key \/etc\/edgeloop\/gateway\.pub/);
});
