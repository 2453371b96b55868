// Drives a running `quarrel serve`'s WebSocket API (/ws) with the `ws` npm client.
//   node tests/js/server_ws.mjs http://127.0.0.1:PORT MODEL_ID
// Checks: JSON ping -> pong and WebSocket ping frames -> pong frames; bad JSON and unknown types
// -> error messages with a code; status and metrics; two generations at once on one connection
// (their messages interleave; the greedy one equals /v1/completions), `stop` cancels the other;
// non-streaming and chat inference; duplicate and unknown ids; closing a connection cancels
// its generations (the engine's active sequences drop to 0 well before they could have
// finished). Prints {"ok": true} on success; exits 1 on the first failure.
import WebSocket from 'ws';
import assert from 'node:assert/strict';

const [url, modelId] = process.argv.slice(2);
const wsUrl = `${url.replace(/^http/, 'ws')}/ws`;
const prompt = 'Once upon a time';
let step = 'connect';  // named in timeout errors

function connect() {
  const ws = new WebSocket(wsUrl);
  const queue = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    assert.equal(isBinary, false);
    const m = JSON.parse(data.toString());
    queue.push(m);
    for (const w of waiters.splice(0)) w();
  });
  // Resolves with the first message (taken from the queue) that matches.
  ws.next = (pred, timeoutMs = 30000) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${step}: no matching message in ${timeoutMs} ms`)), timeoutMs);
    const look = () => {
      const i = queue.findIndex(pred);
      if (i >= 0) {
        clearTimeout(timer);
        resolve(queue.splice(i, 1)[0]);
      } else {
        waiters.push(look);
      }
    };
    look();
  });
  ws.sendJson = (m) => ws.send(JSON.stringify(m));
  return new Promise((resolve, reject) => {
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  });
}

// Collects one generation's messages until complete (or an error message for it).
async function collect(ws, id, onToken) {
  const tokens = [];
  for (;;) {
    const m = await ws.next((x) => x.id === id);
    if (m.type === 'error') return { error: m.payload, tokens };
    assert.equal(m.type, 'inference');
    if (!m.payload.complete) {
      assert.equal(typeof m.payload.token, 'string');
      assert.ok(Number.isInteger(m.payload.token_id));
      assert.ok(m.payload.tokens_per_sec >= 0);
      tokens.push(m.payload);
      if (onToken) onToken(tokens.length);
      continue;
    }
    return { final: m.payload, tokens, text: tokens.map((t) => t.token).join('') + m.payload.token };
  }
}

const ws = await connect();

step = 'heartbeats';
// Heartbeats: the JSON ping and the protocol's ping frame.
ws.sendJson({ type: 'ping', id: 'p1' });
const pong = await ws.next((m) => m.id === 'p1');
assert.equal(pong.type, 'pong');
const framePong = new Promise((resolve) => ws.once('pong', (data) => resolve(data.toString())));
ws.ping('hello');
assert.equal(await framePong, 'hello');

step = 'errors';
// Errors: bad JSON, a message that is not {type}, an unknown type, a bad payload.
ws.send('{this is not json');
let e = await ws.next((m) => m.type === 'error');
assert.equal(e.payload.code, 'INVALID_REQUEST');
assert.match(e.payload.message, /not valid JSON/);
ws.sendJson([1, 2]);
e = await ws.next((m) => m.type === 'error');
assert.equal(e.payload.code, 'INVALID_REQUEST');
ws.sendJson({ type: 'dance', id: 'd' });
e = await ws.next((m) => m.id === 'd');
assert.equal(e.type, 'error');
ws.sendJson({ type: 'inference', id: 'bad', payload: { prompt, temperature: 'hot' } });
e = await ws.next((m) => m.id === 'bad');
assert.equal(e.type, 'error');
assert.match(e.payload.message, /temperature/);
ws.sendJson({ type: 'inference', id: 'nomodel', payload: { prompt, model: 'gpt-4' } });
e = await ws.next((m) => m.id === 'nomodel');
assert.equal(e.payload.code, 'MODEL_NOT_FOUND');
ws.sendJson({ type: 'stop', id: 'nothing-running' });
e = await ws.next((m) => m.id === 'nothing-running');
assert.equal(e.type, 'error');

step = 'status';
// Status and metrics.
ws.sendJson({ type: 'status', id: 's' });
const status = await ws.next((m) => m.id === 's');
assert.equal(status.type, 'status');
assert.equal(status.payload.model, modelId);
assert.equal(status.payload.ready, true);
ws.sendJson({ type: 'metrics', id: 'm' });
const metrics = await ws.next((m) => m.id === 'm');
assert.equal(metrics.type, 'metrics');
assert.ok(metrics.payload.kv_blocks_total > 0);

step = 'two generations';
// Two generations at once; `stop` cancels the long one after a few tokens.
const order = [];
// Long generations (ignore_eos: stories260K is fast, and they must overlap; the server runs
// with --ctx 2048).
ws.sendJson({ type: 'inference', id: 'a', payload: { prompt, max_tokens: 1500, temperature: 0, ignore_eos: true } });
ws.sendJson({ type: 'inference', id: 'b',
  payload: { prompt: 'The little dog', max_tokens: 1500, temperature: 0.8, seed: 1, ignore_eos: true } });
ws.sendJson({ type: 'inference', id: 'a', payload: { prompt, max_tokens: 4 } });  // duplicate id while running
const dup = await ws.next((m) => m.id === 'a' && m.type === 'error');
assert.match(dup.payload.message, /running/);
const [a, b] = await Promise.all([
  collect(ws, 'a', (n) => order.push(`a${n}`)),
  collect(ws, 'b', (n) => {
    order.push(`b${n}`);
    if (n === 3) ws.sendJson({ type: 'stop', id: 'b' });
  }),
]);
assert.equal(a.final.finish_reason, 'length');
assert.equal(a.final.usage.completion_tokens, 1500);
assert.equal(a.tokens.length, 1500);
assert.equal(b.final.finish_reason, 'cancelled');
assert.ok(b.tokens.length < 1500, `b sent ${b.tokens.length} tokens`);
const firstB = order.indexOf('b1');
const lastA = order.lastIndexOf(`a${a.tokens.length}`);
assert.ok(firstB >= 0 && firstB < lastA, `the generations did not interleave: ${order.slice(0, 50).join(' ')}`);
const oc = await (await fetch(`${url}/v1/completions`, {
  method: 'POST', headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ model: modelId, prompt, max_tokens: 40, temperature: 0 }),
})).json();
assert.ok(a.text.startsWith(oc.choices[0].text), 'greedy /ws != greedy /v1/completions');

// Not streaming: one message with the whole text; chat messages.
ws.sendJson({ type: 'inference', id: 7, payload: { prompt, max_tokens: 40, temperature: 0, stream: false } });
const whole = await ws.next((m) => m.id === 7);
assert.equal(whole.payload.complete, true);
assert.equal(whole.payload.text, oc.choices[0].text);
ws.sendJson({ type: 'inference', id: 'chat',
  payload: { messages: [{ role: 'user', content: 'Tell me a story.' }], max_tokens: 8, topk: 1, topp: 0.5 } });
const chat = await collect(ws, 'chat');
assert.ok(chat.final.usage.prompt_tokens > 0);
assert.ok(['stop', 'length'].includes(chat.final.finish_reason));

step = 'disconnect';
// Closing a connection cancels its generations: a long one on a second connection, closed
// after its first token; the engine is idle again at once.
ws.sendJson({ type: 'metrics', id: 'before' });
const before = (await ws.next((m) => m.id === 'before')).payload.generated_tokens;
const ws2 = await connect();
ws2.sendJson({ type: 'inference', id: 'long', payload: { prompt, max_tokens: 1500, temperature: 0.8, seed: 3, ignore_eos: true } });
await ws2.next((m) => m.id === 'long' && m.type === 'inference');
ws2.terminate();
let idle = null;
for (let i = 0; i < 200 && !idle; ++i) {
  ws.sendJson({ type: 'metrics', id: `m${i}` });
  const mm = await ws.next((m) => m.id === `m${i}`);
  if (mm.payload.active_sequences === 0 && mm.payload.kv_blocks_used === 0) idle = mm.payload;
  else await new Promise((r) => setTimeout(r, 10));
}
assert.ok(idle, 'the closed connection\'s generation still runs');
assert.ok(idle.generated_tokens - before < 1500, `it ran to the end: ${idle.generated_tokens - before} tokens`);

ws.close();
console.log(JSON.stringify({ ok: true }));
