/**
 * The dashboard in a real browser: headless Chromium loads the page served by a running gateway with
 * ingested occupancy data, sees charts with data and the panels, and saves a screenshot.
 */
import test from 'ava';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Gateway } from '../gateway/gateway.ts';
import { parseCsv, detectColumns, tableToTelemetry } from '../src/csv.ts';
import { replay } from '../device/replay.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';
import { launchBrowser } from './helpers/browser.ts';

test('the dashboard API answers and the page renders charts with data in headless Chromium', async (t) => {
  const dir = tempDir();
  const gw = new Gateway({ id: 'dash', dbPath: join(dir, 'd.db'), embeddedBroker: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 } });
  await gw.start();
  t.teardown(() => gw.stop());
  const table = parseCsv(readFileSync(new URL('../datasets/occupancy/datatest.txt', import.meta.url), 'utf8'));
  const records = tableToTelemetry(table, detectColumns(table), { timeZone: 'Europe/Brussels' });
  await replay(records.slice(0, 600), { brokerUrl: gw.brokerUrl, fleet: 'occ', device: 'room1', batchSize: 20 });
  await fetch(`${gw.httpUrl}/v1/telemetry/occ/room1`, { method: 'POST', body: 'garbage' });
  await waitFor(async () => (await gw.store.countReadings({ fleet: 'occ' })) === 3600, 10_000, 'readings');

  const overview = (await (await fetch(`${gw.httpUrl}/v1/overview`)).json()) as { devices: number; counters: { inserted: number } };
  t.is(overview.devices, 1);
  t.is(overview.counters.inserted, 3600);
  const series = (await (await fetch(`${gw.httpUrl}/v1/series?fleet=occ&device=room1&sensor=CO2&points=100`)).json()) as { total: number; points: [number, number][] };
  t.is(series.total, 600);
  t.is(series.points.length, 100);
  const bad = await fetch(`${gw.httpUrl}/v1/series?fleet=occ&device=../x&sensor=CO2`);
  t.is(bad.status, 400);
  const vendor = await fetch(`${gw.httpUrl}/vendor/chart.umd.min.js`);
  t.is(vendor.status, 200);

  const browser = await launchBrowser();
  if (!browser) {
    if (process.env.CI) t.fail('chromium is not installed but CI must run the browser test (.ci/run installs it)');
    return t.pass('chromium not installed: browser part skipped');
  }
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(gw.httpUrl!);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
  await page.waitForSelector('#status.live', { timeout: 10_000 });
  t.true(Number(await page.getAttribute('body', 'data-series-points')) > 10, 'sensor chart has points');
  // One chart per sensor of the device (the CSV's five sensors and the Occupancy label column).
  t.is(await page.getAttribute('body', 'data-sensor-charts'), '6');
  // Runs in the page; typed loosely because the test's tsconfig has no DOM library.
  const pointsPerChart = await page.evaluate(() => {
    const g = globalThis as unknown as { Chart: { getChart: (el: unknown) => { data: { datasets: { data: unknown[] }[] } } | undefined }; document: { querySelectorAll: (s: string) => ArrayLike<{ dataset: { sensor: string } }> } };
    return Array.from(g.document.querySelectorAll('#sensor-charts canvas')).map((el) => [el.dataset.sensor, g.Chart.getChart(el)?.data.datasets[0]?.data.length ?? 0] as const);
  });
  t.deepEqual(pointsPerChart.map(([s]) => s).sort(), ['CO2', 'Humidity', 'HumidityRatio', 'Light', 'Occupancy', 'Temperature']);
  t.true(pointsPerChart.every(([, n]) => n > 10), JSON.stringify(pointsPerChart));
  const devicesPanel = await page.textContent('#panel-devices');
  t.regex(devicesPanel ?? '', /room1/);
  const quarantinePanel = await page.textContent('#panel-quarantine');
  t.regex(quarantinePanel ?? '', /NOT_JSON/);
  await page.screenshot({ path: join(dir, 'dashboard.png'), fullPage: true });
  if (process.env.EDGELOOP_SCREENSHOT) await page.screenshot({ path: process.env.EDGELOOP_SCREENSHOT, fullPage: true });
  t.deepEqual(errors, []);
});
