/** The `edgeloop` command line. Each subcommand lives in its own module. */
import { EdgeloopError, isEdgeloopError, errorMessage } from '../src/errors.ts';
import { gatewayCommand } from './commands-gateway.ts';
import { dataCommand, replayCommand } from './commands-data.ts';
import { demoCommand } from './demo.ts';
import { prepareCommand, datasetsCommand } from './commands-prepare.ts';
import { deviceCommand } from './commands-device.ts';
import { loadConfig } from './config.ts';

const HELP = `edgeloop — closed-loop machine learning for IoT fleets

usage: edgeloop <command> [options]

  gateway                 run the gateway (embedded MQTT broker unless --broker), ingest into SQLite
  data import|export|quarantine|stats
                          files in and out of the store; rejected input; per-series counts
  replay <file>           publish a CSV/JSONL dataset as MQTT telemetry
  prepare                 clean, window, split and scale stored readings into a dataset (pipeline spec)
  datasets list|show      prepared datasets
  train                   train (and tune) a model on a prepared dataset; records a run
  export                  export a run to TFLite/ONNX variants, measured in the runtimes; signed registry version
  models list|show|promote|verify|key
                          the model registry (signed artifacts, aliases)
  runs list|show|compare  training runs
  fleet list|show         devices, health, models (from the running gateway)
  rollout create|status|pause|resume|abort|rollback
                          canary/wave rollouts with abort criteria (talks to the gateway's HTTP API)
  drift status|show       drift verdicts and statistics per device
  alerts list             drift and performance alerts
  retrain list|show|run|approve|reject
                          retraining jobs: recent data, holdout comparison, canary, promote or roll back
  acl add-device|add-gateway|remove|list|mosquitto
                          broker credentials and ACLs (embedded broker or a mosquitto ACL file)
  device                  run the device agent (Raspberry Pi, Jetson, any linux/arm64 or x64)
  demo                    the main job (npm start): the whole loop on the occupancy data
  config check|print      validate and show the effective configuration

Run 'edgeloop <command> --help' for a command's options. See README.md.`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(HELP);
    return;
  }
  switch (command) {
    case 'gateway':
      return gatewayCommand(rest);
    case 'data':
      return dataCommand(rest);
    case 'replay':
      return replayCommand(rest);
    case 'demo':
      return demoCommand(rest);
    case 'prepare':
      return prepareCommand(rest);
    case 'device':
      return deviceCommand(rest);
    case 'fleet':
      return (await import('./commands-fleet.ts')).fleetCommand(rest);
    case 'rollout':
      return (await import('./commands-fleet.ts')).rolloutCommand(rest);
    case 'drift':
      return (await import('./commands-drift.ts')).driftCommand(rest);
    case 'alerts':
      return (await import('./commands-drift.ts')).alertsCommand(rest);
    case 'acl':
      return (await import('./commands-acl.ts')).aclCommand(rest);
    case 'train':
      return (await import('./commands-train.ts')).trainCommand(rest);
    case 'export':
      return (await import('./commands-train.ts')).exportCommand(rest);
    case 'models':
      return (await import('./commands-models.ts')).modelsCommand(rest);
    case 'runs':
      return (await import('./commands-models.ts')).runsCommand(rest);
    case 'datasets':
      return datasetsCommand(rest);
    case 'retrain': return (await import('./commands-retrain.ts')).retrainCommand(rest);
    case 'config': {
      const file = rest.indexOf('--config') >= 0 ? rest[rest.indexOf('--config') + 1] : undefined;
      const config = loadConfig({ file });
      if (rest[0] === 'print') console.log(JSON.stringify(config, null, 2));
      else console.log('configuration is valid');
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(HELP);
      return;
    default:
      throw new EdgeloopError('BAD_ARGUMENT', `unknown command ${JSON.stringify(command)}\n\n${HELP}`);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    if (isEdgeloopError(err)) console.error(`edgeloop: ${err.code}: ${err.message}`);
    else console.error(`edgeloop: ${err instanceof Error && err.stack ? err.stack : errorMessage(err)}`);
    process.exit(isEdgeloopError(err, 'BAD_ARGUMENT') || isEdgeloopError(err, 'BAD_CONFIG') ? 2 : 1);
  },
);
