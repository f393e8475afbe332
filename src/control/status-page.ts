// The control plane's status page: regions with health, weights, drains and overrides,
// PoP agents and their VIPs, and recent changes; refreshed every second from the API.
// Everything is rendered with textContent (reasons are operator-supplied text).
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gtm status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  h2 { font-size: 15px; margin: 24px 0 8px; }
  .meta { color: #5b6475; margin-bottom: 16px; }
  table { border-collapse: collapse; width: 100%; background: #fff; box-shadow: 0 1px 2px #0001; }
  th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid #e5e8ee; vertical-align: top; }
  th { background: #eef1f5; font-weight: 600; }
  .badge { display: inline-block; padding: 2px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; }
  .up { background: #d7f5df; color: #13632d; }
  .down { background: #fde0e0; color: #8b1c1c; }
  .draining { background: #fff1cc; color: #7a5200; }
  .stale { color: #8b1c1c; }
  ul { background: #fff; margin: 0; padding: 8px 28px; box-shadow: 0 1px 2px #0001; }
  #error { color: #8b1c1c; }
</style>
</head>
<body>
<h1>Global traffic manager</h1>
<div class="meta">Updated <span id="updated">never</span> <span id="error"></span></div>
<h2>Regions (what DNS hands out)</h2>
<table id="regions"><thead><tr><th>Region</th><th>Status</th><th>Weight</th><th>Why</th><th>Since</th><th>Override</th></tr></thead><tbody></tbody></table>
<h2>PoP agents</h2>
<table id="agents"><thead><tr><th>PoP</th><th>Region</th><th>Serving</th><th>VIPs</th><th>Lease until</th></tr></thead><tbody></tbody></table>
<h2>Shared anycast VIPs (who announces them)</h2>
<table id="anycast"><thead><tr><th>VIP</th><th>Announcing</th><th>PoPs</th></tr></thead><tbody></tbody></table>
<h2>Recent changes</h2>
<ul id="changes"></ul>
<p class="meta">Why does a client get its answer? <a href="api/v1/explain?name=www.example.test&amp;client=192.0.2.1">api/v1/explain?name=NAME&amp;client=IP&amp;ecs=SUBNET</a> answers from the live state.</p>
<p class="meta">DNS steering with the default geo data uses <a href="https://db-ip.com">IP Geolocation by DB-IP</a> (CC BY 4.0).</p>
<script>
function cell(tr, text, cls) {
  const td = document.createElement('td');
  if (cls) { const s = document.createElement('span'); s.className = 'badge ' + cls; s.textContent = text; td.appendChild(s); }
  else td.textContent = text;
  tr.appendChild(td);
}
function fill(id, rows, render) {
  const body = document.querySelector('#' + id + ' tbody');
  body.replaceChildren(...rows.map((r) => { const tr = document.createElement('tr'); tr.dataset.key = r.name || r.pop; render(tr, r); return tr; }));
}
async function refresh() {
  try {
    const [state, audit] = await Promise.all([fetch('api/v1/state').then((r) => r.json()), fetch('api/v1/audit?limit=10').then((r) => r.json())]);
    fill('regions', state.regions, (tr, r) => {
      cell(tr, r.name); cell(tr, r.status, r.status); cell(tr, r.weight === null ? 'configured' : String(r.weight));
      cell(tr, r.reason); cell(tr, new Date(r.since).toLocaleTimeString());
      const part = (o, what) => o ? what + ' by ' + o.who + ': ' + o.reason + (o.expiresAt ? ' (until ' + new Date(o.expiresAt).toLocaleTimeString() + ')' : '') : '';
      cell(tr, [part(r.override, r.override && r.override.status), part(r.weightOverride, r.weightOverride && 'weight ' + r.weightOverride.weight)].filter(Boolean).join('; '));
    });
    fill('agents', state.agents, (tr, a) => {
      cell(tr, a.pop); cell(tr, a.region); cell(tr, a.serving ? 'yes' : 'no', a.serving ? 'up' : 'down');
      cell(tr, a.vips.map((v) => v.prefix + ' ' + v.state + (v.held ? ' (held by the guard rail)' : '')).join(', ')); cell(tr, a.leaseExpiresAt ? new Date(a.leaseExpiresAt).toLocaleTimeString() : '');
    });
    fill('anycast', state.anycast || [], (tr, v) => {
      cell(tr, v.name + ' ' + v.address);
      cell(tr, v.announcing + ' (min ' + v.minAnnouncing + ')', v.announcing > v.minAnnouncing ? 'up' : 'draining');
      cell(tr, v.pops.map((p) => p.pop + ': ' + p.announce + (p.held ? ' (held)' : '')).join(', '));
    });
    const ul = document.getElementById('changes');
    ul.replaceChildren(...audit.map((e) => { const li = document.createElement('li'); li.textContent = e.at + ' ' + e.who + ' ' + e.action + ' ' + e.target + (e.outcome ? ' (' + e.outcome + ')' : '') + ': ' + e.why; return li; }));
    document.getElementById('updated').textContent = new Date().toLocaleTimeString();
    document.getElementById('error').textContent = '';
  } catch (err) {
    document.getElementById('error').textContent = 'refresh failed: ' + err.message;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
