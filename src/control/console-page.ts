// The operators' console, served by `gtm control` at /: live traffic per region, each region's
// state with the signal that decided it, weights (per region and per steered name), PoPs with
// BGP/BFD per neighbor, shared VIPs, the last drill's timeline as a chart, the audit history; and actions (drain, undrain, weight) with
// a reason, an optional expiry and an explicit force when the guard rail refuses; an explain form.
// Safety: every value is rendered with textContent (reasons are operator-supplied text); the
// token lives in sessionStorage and goes only in an Authorization header (never a URL, never a
// cookie), so another site cannot make the browser send a write (no ambient credential: the
// API takes no cookie, and fastify answers no CORS preflight).
export const CONSOLE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gtm console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 20px; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  h2 { font-size: 15px; margin: 22px 0 8px; }
  .meta { color: #5b6475; margin-bottom: 12px; }
  .scroll { overflow-x: auto; background: #fff; box-shadow: 0 1px 2px #0001; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 7px 9px; border-bottom: 1px solid #e5e8ee; vertical-align: top; }
  th { background: #eef1f5; font-weight: 600; }
  td.empty { color: #5b6475; font-style: italic; }
  .badge { display: inline-block; padding: 2px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; }
  .up { background: #d7f5df; color: #13632d; }
  .down { background: #fde0e0; color: #8b1c1c; }
  .draining { background: #fff1cc; color: #7a5200; }
  .bar { height: 10px; background: #4a7bd0; border-radius: 3px; min-width: 1px; }
  form, .panel { background: #fff; box-shadow: 0 1px 2px #0001; padding: 10px; display: flex; flex-wrap: wrap; gap: 8px; align-items: end; }
  label { display: flex; flex-direction: column; font-size: 12px; color: #5b6475; gap: 2px; }
  input, select, button { font: inherit; padding: 5px 8px; }
  button { cursor: pointer; }
  #message { min-height: 1.4em; margin-top: 6px; }
  .error { color: #8b1c1c; }
  .ok { color: #13632d; }
  #drill svg { display: block; width: 100%; height: auto; background: #fff; box-shadow: 0 1px 2px #0001; }
  #drill svg text { font: 11px system-ui, sans-serif; fill: #5b6475; }
  #drill ul { margin: 6px 0; padding-left: 20px; }
  .fail { color: #8b1c1c; font-weight: 600; }
  pre { background: #fff; box-shadow: 0 1px 2px #0001; padding: 10px; white-space: pre-wrap; margin: 8px 0 0; }
  @media (max-width: 700px) { body { margin: 8px; } th, td { padding: 5px 6px; } form { flex-direction: column; align-items: stretch; } }
</style>
</head>
<body>
<h1>Global traffic manager</h1>
<div class="meta">Updated <span id="updated">never</span> <span id="error" class="error"></span></div>

<div class="panel" id="auth">
  <label>Operator token (kept for this browser tab only)<input id="token" type="password" autocomplete="off"></label>
  <button id="use-token" type="button">Use token</button>
  <button id="forget-token" type="button">Forget</button>
  <span id="who"></span>
</div>

<h2>Traffic (answers per second, from the DNS metrics)</h2>
<div class="scroll"><table id="traffic"><thead><tr><th>Region</th><th>Answers/s</th><th>Share</th><th></th></tr></thead><tbody></tbody></table></div>

<h2>Regions (what DNS hands out)</h2>
<div class="scroll"><table id="regions"><thead><tr><th>Region</th><th>Status</th><th>Decided by</th><th>Since</th><th>Weight</th><th>Why</th><th>Operator</th></tr></thead><tbody></tbody></table></div>

<h2>Act on a region</h2>
<form id="act">
  <label>Region<select id="act-region"></select></label>
  <label>Action<select id="act-kind">
    <option value="drain">drain</option><option value="undrain">undrain</option>
    <option value="weight">set weight</option><option value="unweight">remove weight</option>
  </select></label>
  <label>Weight<input id="act-weight" type="number" min="0" max="1000000" step="any"></label>
  <label>Reason (required)<input id="act-reason" maxlength="500"></label>
  <label>Expires in (minutes, optional)<input id="act-expiry" type="number" min="1"></label>
  <label id="force-label" hidden><span>Override the guard rail</span><input id="act-force" type="checkbox"></label>
  <button id="act-go" type="submit">Apply</button>
</form>
<div id="message"></div>

<h2>Weights per steered name (operators' overrides)</h2>
<div class="scroll"><table id="service-weights"><thead><tr><th>Name</th><th>Region</th><th>Weight</th><th>Set by</th><th>Until</th></tr></thead><tbody></tbody></table></div>

<h2>Health signals (pushed: PUT /api/v1/signals/NAME, Alertmanager)</h2>
<div class="scroll"><table id="signals"><thead><tr><th>Signal</th><th>Value</th><th>Set by</th><th>Why</th><th>Until</th></tr></thead><tbody></tbody></table></div>

<h2>PoP agents</h2>
<div class="scroll"><table id="agents"><thead><tr><th>PoP</th><th>Region</th><th>Serving</th><th>BGP / BFD</th><th>VIPs</th><th>Lease until</th></tr></thead><tbody></tbody></table></div>

<h2>Shared anycast VIPs (who announces them)</h2>
<div class="scroll"><table id="anycast"><thead><tr><th>VIP</th><th>Announcing</th><th>PoPs</th></tr></thead><tbody></tbody></table></div>

<h2>Last drill</h2>
<div id="drill"></div>

<h2>Why does a client get its answer?</h2>
<form id="explain">
  <label>Name<input id="ex-name" value="www.example.test"></label>
  <label>Client address<input id="ex-client" value="192.0.2.1"></label>
  <label>ECS subnet (optional)<input id="ex-ecs" placeholder="198.51.100.0/24"></label>
  <button type="submit">Explain</button>
</form>
<pre id="explained" hidden></pre>

<h2>Audit history</h2>
<form id="audit-filter"><label>Filter (who, action, region or reason)<input id="audit-q"></label></form>
<div class="scroll"><table id="audit"><thead><tr><th>When</th><th>Who</th><th>Action</th><th>Target</th><th>Outcome</th><th>Why</th></tr></thead><tbody></tbody></table></div>

<p class="meta">DNS steering with the default geo data uses <a href="https://db-ip.com">IP Geolocation by DB-IP</a> (CC BY 4.0); fencing by AS with the default AS data uses IP to ASN data by <a href="https://www.routeviews.org">RouteViews</a> and <a href="https://db-ip.com">DB-IP</a> (CC BY 4.0).</p>
<script>
const $ = (id) => document.getElementById(id);
const token = () => sessionStorage.getItem('gtm-token') || '';
function api(path, init) {
  const headers = Object.assign({}, (init && init.headers) || {});
  if (token()) headers.authorization = 'Bearer ' + token();
  return fetch(path, Object.assign({}, init, { headers }));
}
function cell(tr, text, cls) {
  const td = document.createElement('td');
  if (cls) { const s = document.createElement('span'); s.className = 'badge ' + cls; s.textContent = text; td.appendChild(s); }
  else td.textContent = text;
  tr.appendChild(td);
  return td;
}
function fill(id, rows, render, empty) {
  const body = document.querySelector('#' + id + ' tbody');
  if (!rows.length) {
    const tr = document.createElement('tr'); const td = document.createElement('td');
    td.className = 'empty'; td.colSpan = document.querySelectorAll('#' + id + ' th').length; td.textContent = empty;
    tr.appendChild(td); body.replaceChildren(tr); return;
  }
  body.replaceChildren(...rows.map((r) => { const tr = document.createElement('tr'); tr.dataset.key = r.name || r.pop || r.key || ''; render(tr, r); return tr; }));
}
const time = (t) => t ? new Date(t).toLocaleTimeString() : '';
const part = (o, what) => o ? what + ' by ' + o.who + ': ' + o.reason + (o.expiresAt ? ' (until ' + time(o.expiresAt) + ')' : '') : '';
let last;
/** Answers per second and share per region from two readings of the DNS counters. */
function traffic(t, regions) {
  // The control plane shares one reading a second between tabs: the same one again changes nothing.
  if (last && t.source && t.at === last.at) return;
  const rows = [];
  if (last && t.source && t.at > last.at) {
    const s = (t.at - last.at) / 1000;
    const rate = {};
    for (const r of regions) rate[r] = Math.max(0, (t.regions[r] || 0) - (last.regions[r] || 0)) / s;
    const total = Object.values(rate).reduce((a, b) => a + b, 0);
    for (const r of regions) rows.push({ name: r, qps: rate[r], share: total ? rate[r] / total : null });
  }
  if (t.source) last = t;
  fill('traffic', rows, (tr, r) => {
    cell(tr, r.name); cell(tr, r.qps.toFixed(1)); cell(tr, r.share === null ? 'no answers' : (100 * r.share).toFixed(1) + '%');
    const bar = document.createElement('div'); bar.className = 'bar'; bar.style.width = (100 * (r.share || 0)).toFixed(1) + '%'; cell(tr, '').appendChild(bar);
  }, t.source ? 'Measuring (two readings of the DNS counters a second apart)...' : 'No traffic figures: ' + t.why);
}
const LANES = { drill: 'drill', router: 'router (BGP)', events: 'agents, DNS', dns: 'DNS answers', clients: 'clients', alerts: 'alerts' };
const LANE_COLOURS = { drill: '#1d2330', router: '#4a7bd0', events: '#7a5200', dns: '#6b3fa0', alerts: '#c2410c' };
const svg = (tag, attrs, text) => {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
};
let drillShown;
/** The last drill's timeline as a chart: one row per source, one mark per event (hover for what), clients green or red. */
function drawDrill(d) {
  const box = $('drill');
  const key = d ? d.name + '@' + d.startedAt : '';
  if (key === drillShown) return;
  drillShown = key;
  if (!d) {
    const p = document.createElement('p'); p.className = 'meta';
    p.textContent = 'No drill recorded since this control plane started: each "gtm lab drill NAME" records its timeline here (POST /api/v1/drills).';
    return box.replaceChildren(p);
  }
  const head = document.createElement('p');
  const verdict = document.createElement('span'); verdict.className = d.passed ? 'ok' : 'fail'; verdict.textContent = d.passed ? 'PASSED' : 'FAILED';
  head.append(d.name + ': ' + d.description + ' (' + new Date(d.startedAt).toLocaleString() + ', by ' + d.who + ') ', verdict);
  const phases = document.createElement('p'); phases.className = 'meta drill-phases';
  const names = { detect: 'agent detected', decide: 'DNS decided', dns: 'client answered elsewhere', bgp: 'router path gone', clients: 'client served elsewhere' };
  const took = Object.keys(names).filter((k) => d.phases && d.phases[k] !== undefined).map((k) => names[k] + ' +' + d.phases[k] + ' ms');
  phases.textContent = took.length ? 'Failover: ' + took.join(', ') : '';
  const lanes = Object.keys(LANES).filter((l) => d.timeline.some((e) => e.lane === l));
  const ms = d.timeline.map((e) => e.ms);
  const lo = Math.min(0, ...ms), hi = Math.max(1000, ...ms);
  const W = 1000, left = 110, right = 20, row = 26, top = 10, H = top + lanes.length * row + 30;
  const x = (t) => left + ((t - lo) / (hi - lo)) * (W - left - right);
  const chart = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'timeline of drill ' + d.name });
  lanes.forEach((l, i) => {
    const y = top + i * row + row / 2;
    chart.append(svg('line', { x1: left, x2: W - right, y1: y, y2: y, stroke: '#e5e8ee' }), svg('text', { x: 4, y: y + 4 }, LANES[l]));
  });
  const step = [250, 500, 1000, 2000, 5000, 10000, 30000, 60000].find((s) => (hi - lo) / s <= 10) || 120000;
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) {
    chart.append(svg('line', { x1: x(t), x2: x(t), y1: top, y2: H - 24, stroke: t === 0 ? '#8b1c1c' : '#eef1f5' }),
      svg('text', { x: x(t) - 10, y: H - 8 }, (t >= 0 ? '+' : '') + t / 1000 + ' s'));
  }
  for (const e of d.timeline) {
    const i = lanes.indexOf(e.lane);
    const colour = e.lane === 'clients' ? (e.ok === false ? '#d14343' : '#2f9e55') : LANE_COLOURS[e.lane];
    const mark = svg('circle', { cx: x(e.ms), cy: top + i * row + row / 2, r: 5, fill: colour, 'data-lane': e.lane });
    mark.append(svg('title', {}, (e.ms >= 0 ? '+' : '') + e.ms + ' ms  ' + e.what));
    chart.append(mark);
  }
  const list = document.createElement('ul');
  for (const x of d.expectations) {
    const li = document.createElement('li'); li.className = x.ok ? 'ok' : 'fail';
    li.textContent = (x.ok ? 'PASS ' : 'FAIL ') + x.text + ': ' + x.detail; list.append(li);
  }
  const all = document.createElement('details');
  const sum = document.createElement('summary'); sum.textContent = 'Every event (' + d.timeline.length + ')';
  const pre = document.createElement('pre');
  pre.textContent = d.timeline.map((e) => ((e.ms >= 0 ? '+' : '') + e.ms + ' ms').padStart(10) + '  ' + e.what).join('\\n');
  all.append(sum, pre);
  box.replaceChildren(head, phases, chart, list, all);
}
async function refresh() {
  try {
    const [sr, ar, tr, dr] = await Promise.all([api('api/v1/state'), api('api/v1/audit?limit=200'), api('api/v1/traffic'), api('api/v1/drills')]);
    if (sr.status === 401) throw new Error('this control plane needs a token to read: enter it above');
    const state = await sr.json(); const audit = await ar.json(); traffic(await tr.json(), state.regions.map((r) => r.name));
    drawDrill((await dr.json())[0]);
    const select = $('act-region');
    if (select.options.length !== state.regions.length) select.replaceChildren(...state.regions.map((r) => new Option(r.name, r.name)));
    fill('regions', state.regions, (tr, r) => {
      const outFor = [...Object.keys(r.familyOut || {}).map((f) => f === 'ipv4' ? 'IPv4' : 'IPv6'), ...Object.keys(r.poolsOut || {})];
      cell(tr, r.name); cell(tr, r.status + (outFor.length ? ' (out for ' + outFor.join(', ') + ')' : ''), r.status);
      cell(tr, (r.source || 'config') + (r.held ? ' (held in DNS by the guard rail)' : '') + (r.unknown ? ' (unknown: no agent has reported yet)' : ''));
      cell(tr, time(r.since)); cell(tr, r.weight === null ? 'configured' : String(r.weight)); cell(tr, r.reason);
      cell(tr, [part(r.override, r.override && r.override.status), part(r.weightOverride, r.weightOverride && 'weight ' + r.weightOverride.weight)].filter(Boolean).join('; ') || 'none');
    }, 'No regions are configured.');
    fill('service-weights', state.serviceWeights || [], (tr, w) => {
      cell(tr, w.service); cell(tr, w.region); cell(tr, String(w.weight)); cell(tr, w.who + ': ' + w.reason); cell(tr, w.expiresAt ? time(w.expiresAt) : 'until removed');
    }, 'No per-name weights are set: every steered name uses its region weights (PUT /api/v1/services/NAME/regions/REGION/weight sets one).');
    fill('signals', state.signals || [], (tr, s) => {
      cell(tr, s.name); cell(tr, s.value, s.value === 'unknown' ? 'draining' : s.value);
      cell(tr, s.who || ''); cell(tr, s.reason || 'never set'); cell(tr, s.expiresAt ? time(s.expiresAt) : '');
    }, 'No health signals are configured (control.signals): regions.X.health can read them.');
    fill('agents', state.agents, (tr, a) => {
      cell(tr, a.pop); cell(tr, a.region); cell(tr, a.serving ? 'yes' : 'no', a.serving ? 'up' : 'down');
      cell(tr, (a.peers || []).map((p) => p.address + ' ' + p.bgp + (p.bfd ? ' / BFD ' + p.bfd : '')).join(', ') || (a.sessionUp ? 'session up' : 'no session'));
      cell(tr, a.vips.map((v) => v.prefix + ' ' + v.state + (v.held ? ' (held by the guard rail)' : '')).join(', ')); cell(tr, time(a.leaseExpiresAt));
    }, state.pops.length ? 'No agent has reported: ' + state.pops.map((p) => p.name).join(', ') + ' are configured, and none has a live heartbeat in the shared store (is gtm agent running?).' : 'No PoPs are configured (pops: in the config): DNS steers on its own health signals.');
    fill('anycast', state.anycast || [], (tr, v) => {
      cell(tr, v.name + ' ' + v.address);
      cell(tr, v.announcing + ' (min ' + v.minAnnouncing + ')', v.announcing > v.minAnnouncing ? 'up' : 'draining');
      cell(tr, v.pops.map((p) => p.pop + ': ' + p.announce + (p.held ? ' (held)' : '')).join(', '));
    }, 'No shared anycast VIPs are configured (anycast: in the config).');
    const q = $('audit-q').value.trim().toLowerCase();
    const entries = audit.filter((e) => !q || [e.who, e.action, e.target, e.why, e.outcome].join(' ').toLowerCase().includes(q));
    fill('audit', entries.map((e, i) => Object.assign({ key: String(i) }, e)), (tr, e) => {
      cell(tr, new Date(e.at).toLocaleString()); cell(tr, e.who); cell(tr, e.action); cell(tr, e.target); cell(tr, e.outcome || ''); cell(tr, e.why);
    }, q ? 'No change matches "' + q + '".' : 'No changes yet: drains, weights and overrides appear here with who, why and when.');
    $('updated').textContent = new Date().toLocaleTimeString();
    $('error').textContent = '';
  } catch (err) {
    $('error').textContent = 'refresh failed: ' + err.message;
  }
}
function say(text, ok) { const m = $('message'); m.textContent = text; m.className = ok ? 'ok' : 'error'; }
$('use-token').onclick = () => { sessionStorage.setItem('gtm-token', $('token').value.trim()); $('token').value = ''; $('who').textContent = 'token set for this tab'; refresh(); };
$('forget-token').onclick = () => { sessionStorage.removeItem('gtm-token'); $('who').textContent = 'no token'; };
$('who').textContent = token() ? 'token set for this tab' : 'no token: reading only';
$('act').onsubmit = async (ev) => {
  ev.preventDefault();
  const region = encodeURIComponent($('act-region').value);
  const kind = $('act-kind').value;
  const reason = $('act-reason').value.trim();
  if (!reason) return say('A reason is required: it goes to the audit log.', false);
  if (!token()) return say('Enter an operator token first.', false);
  const body = { reason };
  const minutes = Number($('act-expiry').value);
  if (minutes > 0) body.expires_in_s = Math.round(minutes * 60);
  if ($('act-force').checked) body.force = true;
  const json = (method, path, b) => api(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
  const r = kind === 'drain' ? await json('POST', 'api/v1/regions/' + region + '/drain', body)
    : kind === 'weight' ? await json('PUT', 'api/v1/regions/' + region + '/override', Object.assign(body, { weight: Number($('act-weight').value) }))
    : await api('api/v1/regions/' + region + (kind === 'undrain' ? '/override' : '/weight') + '?reason=' + encodeURIComponent(reason), { method: 'DELETE' });
  const out = await r.json().catch(() => ({}));
  if (r.ok) { say(kind + ' ' + decodeURIComponent(region) + ': done', true); $('force-label').hidden = true; $('act-force').checked = false; }
  else {
    // The guard rail's refusal says why; forcing it is a second, explicit choice.
    if (r.status === 409) $('force-label').hidden = false;
    say('Refused (' + r.status + '): ' + (out.error || r.statusText) + (r.status === 409 ? ' Tick "Override the guard rail" to force it.' : ''), false);
  }
  refresh();
};
$('explain').onsubmit = async (ev) => {
  ev.preventDefault();
  const p = new URLSearchParams({ name: $('ex-name').value.trim(), client: $('ex-client').value.trim() });
  if ($('ex-ecs').value.trim()) p.set('ecs', $('ex-ecs').value.trim());
  const r = await api('api/v1/explain?' + p);
  const out = $('explained'); out.hidden = false;
  const body = await r.json().catch(() => ({}));
  out.textContent = r.ok ? (body.lines || []).join('\\n') : 'Refused (' + r.status + '): ' + (body.error || body.message || r.statusText);
};
$('audit-q').oninput = () => refresh();
$('audit-filter').onsubmit = (ev) => ev.preventDefault();
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
