// Drives a running `quarrel serve` with the official `ollama` npm client.
//   node tests/js/server_ollama.mjs http://127.0.0.1:PORT MODEL_ID
// Checks /api/generate and /api/chat (streaming and not: the streamed text equals the whole
// answer; the final object's done_reason and counters), that greedy answers equal the same
// requests through the OpenAI routes (plain fetch), /api/tags, /api/ps, /api/show,
// /api/version, and errors as the client sees them. Exits 1 on the first failure.
import { Ollama } from 'ollama';
import assert from 'node:assert/strict';

const [url, modelId] = process.argv.slice(2);
const ollama = new Ollama({ host: url });
const prompt = 'Once upon a time';
const greedy = { temperature: 0, repeat_penalty: 1, num_predict: 40 };

async function openai(path, body) {
  const r = await fetch(`${url}/v1/${path}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal(r.status, 200);
  return r.json();
}

function checkFinal(f, evalCount) {
  assert.equal(f.done, true);
  assert.equal(f.model, modelId);
  assert.match(f.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
  for (const k of ['total_duration', 'load_duration', 'prompt_eval_duration', 'eval_duration']) {
    assert.ok(Number.isInteger(f[k]) && f[k] >= 0, `${k} = ${f[k]}`);
  }
  assert.ok(f.total_duration > 0);
  assert.ok(f.prompt_eval_count > 0);
  if (evalCount !== undefined) assert.equal(f.eval_count, evalCount);
}

// Model listing routes.
const version = await ollama.version();
assert.equal(typeof version.version, 'string');
const tags = await ollama.list();
assert.equal(tags.models.length, 1);
assert.equal(tags.models[0].name, modelId);
assert.equal(tags.models[0].details.format, 'gguf');
assert.ok(tags.models[0].size > 0);
const ps = await ollama.ps();
assert.equal(ps.models[0].name, modelId);
const show = await ollama.show({ model: modelId });
assert.equal(typeof show.template, 'string');
assert.equal(show.details.family, show.model_info['general.architecture']);
assert.ok(show.model_info['general.parameter_count'] > 0);

// /api/generate, raw (no template): the same text as /v1/completions.
const g = await ollama.generate({ model: modelId, prompt, raw: true, options: greedy });
assert.equal(g.done_reason, 'length');
checkFinal(g, 40);
assert.equal(g.prompt_eval_count, 5);
const oc = await openai('completions', { model: modelId, prompt, max_tokens: 40, temperature: 0 });
assert.equal(g.response, oc.choices[0].text);
assert.ok(Array.isArray(g.context) && g.context.length === 45, `context of ${g.context?.length}`);

// Streaming: NDJSON lines whose text joins to the same answer, then the final object.
let streamed = '';
let last = null;
let lines = 0;
for await (const part of await ollama.generate({ model: modelId, prompt, raw: true, options: greedy, stream: true })) {
  streamed += part.response;
  last = part;
  lines += 1;
}
assert.equal(streamed, g.response);
assert.ok(lines > 2);
checkFinal(last, 40);
assert.equal(last.done_reason, 'length');

// Stop strings, and seeded sampling repeats itself.
const words = g.response.trim().split(' ');
const stopWord = words[Math.min(3, words.length - 1)];
const st = await ollama.generate({ model: modelId, prompt, raw: true, options: { ...greedy, stop: [stopWord] } });
assert.equal(st.done_reason, 'stop');
assert.ok(!st.response.includes(stopWord));
assert.ok(g.response.startsWith(st.response));
const seeded = async () => (await ollama.generate({
  model: modelId, prompt, raw: true,
  options: { temperature: 1, top_k: 20, top_p: 0.9, min_p: 0.01, seed: 7, num_predict: 20,
    presence_penalty: 0.2, frequency_penalty: 0.2, repeat_penalty: 1.05 },
})).response;
assert.equal(await seeded(), await seeded());

// Continuation with `context`: the prompt is the earlier answer's tokens plus the new text.
const cont = await ollama.generate({ model: modelId, prompt: ' The end.', raw: true, context: g.context,
  options: { ...greedy, num_predict: 5 } });
assert.ok(cont.prompt_eval_count > g.context.length);

// Empty prompt: Ollama's "load" answer.
const load = await ollama.generate({ model: modelId, prompt: '' });
assert.equal(load.done, true);
assert.equal(load.done_reason, 'load');

// /api/chat: the same as /v1/chat/completions, streaming and not.
const messages = [{ role: 'user', content: 'Tell me a story.' }];
const chat = await ollama.chat({ model: modelId, messages, options: { ...greedy, num_predict: 24 } });
assert.equal(chat.message.role, 'assistant');
checkFinal(chat, undefined);
assert.ok(['stop', 'length'].includes(chat.done_reason));
const occ = await openai('chat/completions', { model: modelId, messages, max_tokens: 24, temperature: 0 });
assert.equal(chat.message.content, occ.choices[0].message.content);
assert.equal(chat.prompt_eval_count, occ.usage.prompt_tokens);
assert.equal(chat.eval_count, occ.usage.completion_tokens);
let chatStreamed = '';
let chatLast = null;
for await (const part of await ollama.chat({ model: modelId, messages, options: { ...greedy, num_predict: 24 }, stream: true })) {
  assert.equal(part.message.role, 'assistant');
  chatStreamed += part.message.content;
  chatLast = part;
}
assert.equal(chatStreamed, chat.message.content);
assert.equal(chatLast.done, true);

// Errors through the client: {"error": "..."} with the HTTP status.
await assert.rejects(ollama.generate({ model: 'no-such-model', prompt }),
  (e) => e.name === 'ResponseError' && e.status_code === 404 && /not found/.test(e.error));
await assert.rejects(ollama.chat({ model: modelId, messages, options: { temperature: 'hot' } }),
  (e) => e.status_code === 400 && /options\.temperature/.test(e.error));
await assert.rejects(ollama.chat({ model: modelId, messages: [] }), (e) => e.status_code === 400);
const raw = await fetch(`${url}/api/generate`, { method: 'POST', body: '{not json' });
assert.equal(raw.status, 400);
const body = await raw.json();
assert.equal(typeof body.error, 'string');
assert.equal(body.code, 'INVALID_REQUEST');
assert.match(body.request_id, /^req-/);

console.log(JSON.stringify({ ok: true, greedy_generate: g.response }));
