// The dashboard page: plain JavaScript, no build step. Charts by Chart.js (served by the gateway).
// Panels come from /v1/panels; each refreshes on the SSE event named after its id and on a slow poll.
// The sensor charts (one per sensor of the selected device) poll /v1/series.
/* global Chart */
'use strict';

const $ = (sel) => document.querySelector(sel);
const charts = {};
const PANEL_POLL_MS = 15_000;
const SERIES_POLL_MS = 10_000;

async function getJson(url) {
  const res = await fetch(url);
  if (!res.ok) {
    let message = `HTTP ${res.status}`;
    try { message = (await res.json()).message ?? message; } catch { /* not JSON */ }
    throw new Error(`${url}: ${message}`);
  }
  return res.json();
}

const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const fmt = (v) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : v);

function lineChart(el, label) {
  return new Chart(el, {
    type: 'line',
    data: { datasets: [{ label, data: [], borderWidth: 1.5, pointRadius: 0, tension: 0.2 }] },
    options: { animation: false, parsing: false, scales: { x: { type: 'linear', ticks: { callback: (v) => new Date(v).toLocaleTimeString() } } }, plugins: { legend: { display: false } } },
  });
}

function renderTable(rows, options = {}) {
  if (!Array.isArray(rows) || rows.length === 0) return '<p class="empty">nothing yet</p>';
  const cols = Object.keys(rows[0]);
  return `<table${options.cls ? ` class="${options.cls}"` : ''}><thead><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r, i) => `<tr${options.rowAttrs ? options.rowAttrs(r, i) : ''}>${cols.map((c) => `<td>${esc(typeof r[c] === 'object' && r[c] !== null ? JSON.stringify(r[c]) : fmt(r[c]))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

// Green (0) → yellow → red (≥ max).
const heatColor = (v, max) => `hsl(${Math.max(0, 120 - (Math.min(Math.max(v, 0), max) / max) * 120)}, 65%, 40%)`;

// ---- heatmap panels: cells {row, col, value, level?, series?}; a clicked cell's series is drawn below.
const selected = {};

function renderHeatmap(p, data) {
  const el = document.getElementById(`panel-${p.id}`);
  const cells = Array.isArray(data) ? data : data.cells;
  const max = (!Array.isArray(data) && data.max) || 0.25;
  if (!Array.isArray(cells) || cells.length === 0) {
    el.innerHTML = '<p class="empty">nothing yet</p>';
    return;
  }
  const rows = [...new Set(cells.map((c) => c.row))];
  const cols = [...new Set(cells.map((c) => c.col))];
  const byKey = new Map(cells.map((c) => [`${c.row}||${c.col}`, c]));
  const rowNote = new Map(cells.filter((c) => c.verdict).map((c) => [c.row, c.verdict]));
  const legend = !Array.isArray(data) && data.thresholds
    ? `<p class="legend">colour: ${esc(data.metric ?? '')} <span class="swatch" style="background:${heatColor(0, max)}"></span> 0 · <span class="swatch" style="background:${heatColor(max / 2, max)}"></span> ${max / 2} · <span class="swatch" style="background:${heatColor(max, max)}"></span> ≥ ${max}; outlined: the policy's warn/alert level for the feature (its thresholds may be calibrated per feature)</p>`
    : '';
  el.innerHTML = `${legend}<table class="heatmap"><thead><tr><th></th>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr><th>${esc(r)}${rowNote.has(r) ? ` <span class="verdict ${esc(rowNote.get(r))}">${esc(rowNote.get(r))}</span>` : ''}</th>${cols.map((c) => {
      const cell = byKey.get(`${r}||${c}`);
      if (!cell || cell.value === null || cell.value === undefined) return '<td></td>';
      const key = `${r}||${c}`;
      return `<td class="heat level-${esc(cell.level ?? 'ok')}${selected[p.id] === key ? ' selected' : ''}" data-key="${esc(key)}" title="${esc(`${r} ${c}: ${cell.value} (${cell.level ?? ''})`)}" style="background:${heatColor(cell.value, max)}">${Number(cell.value).toFixed(3)}</td>`;
    }).join('')}</tr>`).join('')}</tbody></table><p class="series-title" id="${p.id}-series-title"></p><canvas id="${p.id}-series" height="70"></canvas>`;
  // Keep the selection while it exists; otherwise select the most drifted cell.
  if (!byKey.has(selected[p.id] ?? '')) {
    const worst = cells.filter((c) => c.series && c.value !== null).sort((a, b) => b.value - a.value)[0];
    selected[p.id] = worst ? `${worst.row}||${worst.col}` : undefined;
  }
  for (const td of el.querySelectorAll('td.heat')) {
    td.addEventListener('click', () => {
      selected[p.id] = td.dataset.key;
      for (const other of el.querySelectorAll('td.heat.selected')) other.classList.remove('selected');
      td.classList.add('selected');
      void drawCellSeries(p, byKey.get(td.dataset.key));
    });
  }
  const current = byKey.get(selected[p.id] ?? '');
  if (current) {
    for (const td of el.querySelectorAll('td.heat')) td.classList.toggle('selected', td.dataset.key === selected[p.id]);
    void drawCellSeries(p, current);
  }
}

async function drawCellSeries(p, cell) {
  if (!cell || !cell.series) return;
  const canvas = document.getElementById(`${p.id}-series`);
  const title = document.getElementById(`${p.id}-series-title`);
  const data = await getJson(cell.series);
  const points = data.points.map(([x, y]) => ({ x, y }));
  const levelColor = { ok: '#1f7a3a', warn: '#c9a400', alert: '#b3261e' };
  const datasets = [{
    label: data.label, data: points, borderWidth: 1.5, pointRadius: 3, tension: 0.1, borderColor: '#1c5fa8',
    pointBackgroundColor: (data.levels ?? []).map((l) => levelColor[l] ?? '#1c5fa8'), pointBorderColor: (data.levels ?? []).map((l) => levelColor[l] ?? '#1c5fa8'),
  }];
  if (data.thresholds) {
    const span = points.length ? [points[0].x, points[points.length - 1].x] : [0, 1];
    datasets.push({ label: 'warn', data: span.map((x) => ({ x, y: data.thresholds.warn })), borderDash: [4, 4], borderWidth: 1, pointRadius: 0, borderColor: '#c9a400' });
    datasets.push({ label: 'alert', data: span.map((x) => ({ x, y: data.thresholds.alert })), borderDash: [4, 4], borderWidth: 1, pointRadius: 0, borderColor: '#b3261e' });
  }
  title.textContent = `${data.label} over time (${points.length} reports; points coloured by the policy's level${data.calibrated ? ', thresholds calibrated per feature' : ''})`;
  if (charts[`${p.id}-series`]) charts[`${p.id}-series`].destroy();
  charts[`${p.id}-series`] = new Chart(canvas, {
    type: 'line',
    data: { datasets },
    options: { animation: false, parsing: false, scales: { x: { type: 'linear', ticks: { callback: (v) => new Date(v).toLocaleString() } }, y: { beginAtZero: true } }, plugins: { legend: { display: true } } },
  });
  document.body.dataset[`${p.id}SeriesPoints`] = String(points.length);
}

// ---- models panel: version rows; the selected one (production by default) in detail.
function renderModels(p, rows) {
  const el = document.getElementById(`panel-${p.id}`);
  if (!Array.isArray(rows) || rows.length === 0) {
    el.innerHTML = '<p class="empty">no model registered yet</p>';
    return;
  }
  const keyOf = (r) => `${r.model}@${r.version}`;
  if (!rows.some((r) => keyOf(r) === selected[p.id])) {
    const production = rows.find((r) => r.aliases.split(', ').includes('production'));
    selected[p.id] = keyOf(production ?? rows[0]);
  }
  el.innerHTML = `${renderTable(rows, { cls: 'clickable', rowAttrs: (r) => ` data-key="${esc(keyOf(r))}"${keyOf(r) === selected[p.id] ? ' class="selected"' : ''}` })}<div class="model-detail" id="${p.id}-detail"></div>`;
  for (const tr of el.querySelectorAll('tbody tr')) {
    tr.addEventListener('click', () => {
      selected[p.id] = tr.dataset.key;
      for (const other of el.querySelectorAll('tbody tr.selected')) other.classList.remove('selected');
      tr.classList.add('selected');
      void renderModelDetail(p);
    });
  }
  void renderModelDetail(p);
}

function renderConfusion(c) {
  const total = c.matrix.reduce((a, row) => a + row.reduce((x, y) => x + y, 0), 0);
  const correct = c.matrix.reduce((a, row, i) => a + (row[i] ?? 0), 0);
  const cell = (v, i, j) => {
    const rowSum = c.matrix[i].reduce((a, b) => a + b, 0) || 1;
    const share = v / rowSum;
    const bg = i === j ? `rgba(31, 122, 58, ${0.15 + 0.75 * share})` : `rgba(179, 38, 30, ${v === 0 ? 0 : 0.15 + 0.75 * share})`;
    return `<td class="cm" style="background:${bg}" title="${esc(`true ${c.labels[i]}, predicted ${c.labels[j]}: ${v} (${(share * 100).toFixed(1)} % of the row)`)}">${v}</td>`;
  };
  return `<h3>Confusion matrix: ${esc(c.artifact)} on ${esc(c.split)} (${correct}/${total} correct)</h3>
    <table class="confusion"><thead><tr><th>true \\ predicted</th>${c.labels.map((l) => `<th>${esc(l)}</th>`).join('')}</tr></thead>
    <tbody>${c.matrix.map((row, i) => `<tr><th>${esc(c.labels[i])}</th>${row.map((v, j) => cell(v, i, j)).join('')}</tr>`).join('')}</tbody></table>`;
}

async function renderModelDetail(p) {
  const el = document.getElementById(`${p.id}-detail`);
  const key = selected[p.id];
  if (!el || !key) return;
  const [name, version] = key.split('@');
  const d = await getJson(`/v1/models/${encodeURIComponent(name)}/${encodeURIComponent(version)}`);
  if (selected[p.id] !== key) return; // another row was clicked meanwhile
  const artifacts = d.artifacts.map((a) => ({
    artifact: `${a.format}/${a.variant}`, bytes: a.bytes, ...Object.fromEntries(Object.entries(a.metrics).map(([k, v]) => [k, Number(v.toFixed(4))])),
    'p50 µs': a.p50Us === null ? '' : Number(a.p50Us.toFixed(1)), 'p99 µs': a.p99Us === null ? '' : Number(a.p99Us.toFixed(1)),
  }));
  const run = d.run
    ? `<h3>Training run ${esc(d.run.id)} (${esc(d.run.modelKind)})</h3>${renderTable(Object.entries(d.run.metrics).map(([split, m]) => ({ split, ...Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Number(v.toFixed(4))])) })))}`
    : '';
  el.innerHTML = `<h3>${esc(d.model)}@${d.version}${d.aliases.length ? ` (${esc(d.aliases.join(', '))})` : ''}: ${esc(d.task)}, dataset ${esc(d.lineage.dataset ?? '-')}, by ${esc(d.createdBy)}</h3>
    ${renderTable(artifacts)}${run}${d.confusion ? renderConfusion(d.confusion) : d.task === 'classification' ? '<p class="empty">no confusion matrix stored for this version</p>' : ''}`;
}

function renderBars(id, rows) {
  const canvas = document.getElementById(`${id}-canvas`);
  if (!canvas || !Array.isArray(rows)) return;
  const labels = rows.map((r) => r.label);
  const data = rows.map((r) => r.value);
  if (!charts[id]) charts[id] = new Chart(canvas, { type: 'bar', data: { labels, datasets: [{ data }] }, options: { animation: false, plugins: { legend: { display: false } } } });
  else { charts[id].data.labels = labels; charts[id].data.datasets[0].data = data; charts[id].update(); }
}

const panels = [];
const inFlight = {};

// One fetch per panel at a time; events arriving meanwhile cause one more refresh afterwards.
async function refreshPanel(p) {
  if (inFlight[p.id]) {
    inFlight[p.id] = 'again';
    return;
  }
  inFlight[p.id] = true;
  const el = document.getElementById(`panel-${p.id}`);
  try {
    const data = await getJson(p.endpoint);
    if (p.kind === 'heatmap') renderHeatmap(p, data);
    else if (p.kind === 'models') renderModels(p, data);
    else if (p.kind === 'bars') renderBars(p.id, data);
    else el.innerHTML = renderTable(data);
    el.closest('section').dataset.updated = String(Date.now());
  } catch (err) {
    el.innerHTML = `<p class="empty">${esc(err.message)}</p>`;
  } finally {
    const again = inFlight[p.id] === 'again';
    inFlight[p.id] = false;
    if (again) void refreshPanel(p);
  }
}

async function loadPanels() {
  const list = await getJson('/v1/panels');
  const host = $('#panels');
  for (const p of list) {
    const section = document.createElement('section');
    section.className = p.wide ? 'card wide' : 'card';
    section.dataset.panel = p.id;
    section.innerHTML = `<h2>${esc(p.title)}</h2>${p.kind === 'bars' ? `<canvas id="${esc(p.id)}-canvas" height="80"></canvas>` : ''}<div id="panel-${esc(p.id)}"></div>`;
    host.appendChild(section);
    panels.push(p);
  }
  await Promise.all(panels.map((p) => refreshPanel(p)));
}

// ---- sensor charts: one small chart per sensor of the selected device.
let overviewSeries = [];

async function loadDeviceSelect() {
  const overview = await getJson('/v1/overview');
  overviewSeries = overview.series;
  const select = $('#device-select');
  const current = select.value;
  const devices = [...new Set(overview.series.map((s) => `${s.fleet}/${s.device}`))];
  if (devices.join() !== [...select.options].map((o) => o.value).join()) {
    select.innerHTML = devices.map((d) => `<option>${esc(d)}</option>`).join('');
    if (devices.includes(current)) select.value = current;
  }
  $('#totals').textContent = `${overview.devices} devices · ${overview.counters.inserted} readings · ${Object.values(overview.counters.rejected).reduce((a, b) => a + b, 0)} rejected`;
}

async function loadSensorCharts() {
  const value = $('#device-select').value;
  const grid = $('#sensor-charts');
  if (!value) {
    grid.innerHTML = '<p class="empty">no readings yet</p>';
    return;
  }
  const [fleet, device] = value.split('/');
  const sensors = overviewSeries.filter((s) => s.fleet === fleet && s.device === device).map((s) => s.sensor);
  // Rebuild the grid when the device or its sensors changed; otherwise update the charts in place.
  const layout = `${value}:${sensors.join(',')}`;
  if (grid.dataset.layout !== layout) {
    for (const key of Object.keys(charts).filter((k) => k.startsWith('sensor:'))) { charts[key].destroy(); delete charts[key]; }
    grid.innerHTML = sensors.map((s, i) => `<div class="sensor-chart"><h3>${esc(s)}</h3><canvas id="sensor-${i}" data-sensor="${esc(s)}" height="130"></canvas></div>`).join('');
    sensors.forEach((s, i) => { charts[`sensor:${s}`] = lineChart(document.getElementById(`sensor-${i}`), s); });
    grid.dataset.layout = layout;
  }
  const results = await Promise.all(sensors.map((s) => getJson(`/v1/series?fleet=${fleet}&device=${device}&sensor=${encodeURIComponent(s)}&points=300`)));
  if (grid.dataset.layout !== layout) return; // the device changed meanwhile
  results.forEach((data, i) => {
    const chart = charts[`sensor:${sensors[i]}`];
    chart.data.datasets[0].data = data.points.map(([x, y]) => ({ x, y }));
    chart.update();
  });
  document.body.dataset.sensorCharts = String(sensors.length);
  document.body.dataset.seriesPoints = String(results[0]?.points.length ?? 0);
}

async function main() {
  charts.rate = lineChart($('#rate-chart'), 'readings/s');
  $('#device-select').addEventListener('change', () => void loadSensorCharts());
  await loadDeviceSelect();
  await loadSensorCharts();
  await loadPanels();
  const events = new EventSource('/v1/events');
  events.addEventListener('open', () => { $('#status').textContent = 'live'; $('#status').classList.add('live'); });
  events.addEventListener('error', () => { $('#status').textContent = 'reconnecting…'; $('#status').classList.remove('live'); });
  events.addEventListener('hello', (e) => {
    const { rateHistory } = JSON.parse(e.data);
    charts.rate.data.datasets[0].data = rateHistory.map((p) => ({ x: p.t, y: p.rate }));
    charts.rate.update();
  });
  events.addEventListener('ingest', (e) => {
    const { t, rate } = JSON.parse(e.data);
    const data = charts.rate.data.datasets[0].data;
    data.push({ x: t, y: rate });
    if (data.length > 300) data.shift();
    charts.rate.update();
  });
  for (const p of panels) events.addEventListener(p.id, () => void refreshPanel(p));
  // Fallback when events are lost (proxy buffering, reconnects): a slow poll of everything.
  setInterval(() => { void loadDeviceSelect().then(loadSensorCharts); }, SERIES_POLL_MS);
  setInterval(() => { for (const p of panels) void refreshPanel(p); }, PANEL_POLL_MS);
  document.body.dataset.ready = 'true';
}

main().catch((err) => { $('#status').textContent = `error: ${err.message}`; });
