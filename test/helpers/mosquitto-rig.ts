/**
 * One real mosquitto for the tests of a file, started before them and stopped after them. Call at the
 * top level of a *.test.ts file; `broker` is null when mosquitto is not installed (tests then skip
 * visibly), and a missing mosquitto fails the file in CI (.ci/run installs it).
 */
import test from 'ava';
import { startMosquitto, type Mosquitto } from './mosquitto.ts';

export function mosquittoRig(): { readonly broker: Mosquitto | null } {
  const rig = { broker: null as Mosquitto | null };
  test.before(async () => {
    rig.broker = await startMosquitto();
    if (!rig.broker && process.env.CI) throw new Error('mosquitto is not installed but CI must run this test (.ci/run installs it)');
  });
  test.after.always(async () => {
    await rig.broker?.stop();
  });
  return rig;
}
