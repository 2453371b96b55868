// WebSocket /ws against a `quarrel serve --api-keys`: the upgrade needs a key (?api_key= or
// Authorization), and open sessions show in quarrel_connections_active{kind="websocket"}.
//   node tests/js/server_ws_auth.mjs http://127.0.0.1:PORT KEY
// Prints {"none", "wrong" (HTTP statuses of refused upgrades), "query", "header" (opened),
// "open" (the websocket gauge with both open), "after" (after both closed)} as JSON.
import WebSocket from 'ws';

const [url, key] = process.argv.slice(2);
const wsUrl = `${url.replace(/^http/, 'ws')}/ws`;

function open(u, opts) {
  return new Promise((resolve) => {
    const w = new WebSocket(u, opts);
    w.on('open', () => resolve({ ok: true, w }));
    w.on('unexpected-response', (_req, res) => resolve({ ok: false, status: res.statusCode }));
    w.on('error', (e) => resolve({ ok: false, error: String(e) }));
  });
}

async function gauge() {
  const text = await fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${key}` } }).then((r) => r.text());
  const line = text.split('\n').find((l) => l.startsWith('quarrel_connections_active{kind="websocket"} '));
  return line ? Number(line.split(' ')[1]) : null;
}

const none = await open(wsUrl);
const wrong = await open(`${wsUrl}?api_key=qk-wrong`);
const query = await open(`${wsUrl}?api_key=${encodeURIComponent(key)}`);
const header = await open(wsUrl, { headers: { Authorization: `Bearer ${key}` } });
const openCount = await gauge();
for (const c of [query, header]) if (c.w) c.w.close();
let after = null;
for (let i = 0; i < 50; ++i) {
  await new Promise((r) => setTimeout(r, 100));
  after = await gauge();
  if (after === 0) break;
}
console.log(JSON.stringify({ none: none.status ?? null, wrong: wrong.status ?? null, query: query.ok, header: header.ok,
  open: openCount, after }));
process.exit(0);  // refused upgrades leave keep-alive sockets open
