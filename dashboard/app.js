// The dashboard page: plain JavaScript, no build step. Charts by Chart.js (served by the gateway).
/* global Chart */
'use strict';

const $ = (sel) => document.querySelector(sel);
const charts = {};

async function getJson(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

function lineChart(id, label) {
  return new Chart($(id), {
    type: 'line',
    data: { datasets: [{ label, data: [], borderWidth: 1.5, pointRadius: 0, tension: 0.2 }] },
    options: { animation: false, parsing: false, scales: { x: { type: 'linear', ticks: { callback: (v) => new Date(v).toLocaleTimeString() } } }, plugins: { legend: { display: false } } },
  });
}

function renderTable(rows) {
  if (!Array.isArray(rows) || rows.length === 0) return '<p class="empty">nothing yet</p>';
  const cols = Object.keys(rows[0]);
  const esc = (v) => String(v ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  return `<table><thead><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${cols.map((c) => `<td>${esc(typeof r[c] === 'object' ? JSON.stringify(r[c]) : r[c])}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

// Heatmap: rows [{row, col, value}] → a table colored from green (0) to red (>= max).
function renderHeatmap(cells, max = 0.25) {
  if (!Array.isArray(cells) || cells.length === 0) return '<p class="empty">nothing yet</p>';
  const rows = [...new Set(cells.map((c) => c.row))];
  const cols = [...new Set(cells.map((c) => c.col))];
  const byKey = new Map(cells.map((c) => [`${c.row}\u0000${c.col}`, c.value]));
  const color = (v) => `hsl(${Math.max(0, 120 - (Math.min(v, max) / max) * 120)}, 65%, 42%)`;
  return `<table><thead><tr><th></th>${cols.map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr><th>${r}</th>${cols.map((c) => {
      const v = byKey.get(`${r}\u0000${c}`);
      return v === undefined ? '<td></td>' : `<td class="heat" style="background:${color(v)}">${v.toFixed(3)}</td>`;
    }).join('')}</tr>`).join('')}</tbody></table>`;
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
async function refreshPanel(p) {
  const el = document.getElementById(`panel-${p.id}`);
  try {
    const data = await getJson(p.endpoint);
    if (p.kind === 'heatmap') el.innerHTML = renderHeatmap(data);
    else if (p.kind === 'bars') renderBars(p.id, data);
    else el.innerHTML = renderTable(data);
  } catch (err) {
    el.innerHTML = `<p class="empty">${err.message}</p>`;
  }
}

async function loadPanels() {
  const list = await getJson('/v1/panels');
  const host = $('#panels');
  for (const p of list) {
    const section = document.createElement('section');
    section.className = 'card';
    section.dataset.panel = p.id;
    section.innerHTML = `<h2>${p.title}</h2>${p.kind === 'bars' ? `<canvas id="${p.id}-canvas" height="80"></canvas>` : ''}<div id="panel-${p.id}"></div>`;
    host.appendChild(section);
    panels.push(p);
    await refreshPanel(p);
  }
}

async function loadSeriesSelect() {
  const overview = await getJson('/v1/overview');
  const select = $('#series-select');
  const current = select.value;
  const options = overview.series.map((s) => `${s.fleet}/${s.device}/${s.sensor}`);
  if (options.join() !== [...select.options].map((o) => o.value).join()) {
    select.innerHTML = options.map((o) => `<option>${o}</option>`).join('');
    if (options.includes(current)) select.value = current;
  }
  $('#totals').textContent = `${overview.devices} devices · ${overview.counters.inserted} readings · ${Object.values(overview.counters.rejected).reduce((a, b) => a + b, 0)} rejected`;
}

async function loadSeries() {
  const value = $('#series-select').value;
  if (!value) return;
  const [fleet, device, sensor] = value.split('/');
  const data = await getJson(`/v1/series?fleet=${fleet}&device=${device}&sensor=${sensor}&points=400`);
  charts.series.data.datasets[0].data = data.points.map(([x, y]) => ({ x, y }));
  charts.series.update();
  document.body.dataset.seriesPoints = String(data.points.length);
}

async function main() {
  charts.rate = lineChart('#rate-chart', 'readings/s');
  charts.series = lineChart('#series-chart', 'value');
  $('#series-select').addEventListener('change', () => void loadSeries());
  await loadSeriesSelect();
  await loadSeries();
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
  setInterval(() => { void loadSeriesSelect(); void loadSeries(); for (const p of panels) void refreshPanel(p); }, 5000);
  document.body.dataset.ready = 'true';
}

main().catch((err) => { $('#status').textContent = `error: ${err.message}`; });
