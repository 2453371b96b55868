// Drives a running `quarrel serve` with the official `openai` npm client.
//   node tests/js/server_openai.mjs http://127.0.0.1:PORT MODEL_ID
// Checks each answer's shape and consistency (streamed text == non-streamed text for greedy
// requests, usage counts, finish reasons, logprobs); prints {"greedy_completion": ...} as JSON
// on stdout for the C++ test to compare with `quarrel run --temp 0`. Exits 1 on the first failure.
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const [url, modelId] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
const prompt = 'Once upon a time';

const models = await client.models.list();
assert.ok(models.data.some((m) => m.id === modelId), `models.list has ${modelId}`);

// Completions, not streaming.
const c = await client.completions.create({ model: modelId, prompt, max_tokens: 40, temperature: 0 });
assert.equal(c.object, 'text_completion');
assert.equal(c.choices.length, 1);
assert.equal(c.choices[0].finish_reason, 'length');
assert.equal(c.usage.completion_tokens, 40);
assert.equal(c.usage.prompt_tokens, 5);
assert.equal(c.usage.total_tokens, 45);
const greedy = c.choices[0].text;
assert.ok(greedy.length > 0);

// Completions, streaming (with the usage chunk): the same text.
let streamed = '';
let usage = null;
let finish = null;
const s = await client.completions.create({
  model: modelId, prompt, max_tokens: 40, temperature: 0, stream: true, stream_options: { include_usage: true },
});
for await (const chunk of s) {
  if (chunk.usage) usage = chunk.usage;
  for (const ch of chunk.choices) {
    streamed += ch.text ?? '';
    if (ch.finish_reason) finish = ch.finish_reason;
  }
}
assert.equal(streamed, greedy);
assert.equal(finish, 'length');
assert.equal(usage?.completion_tokens, 40);

// Stop strings: generation ends before the stop string, which is never sent.
const words = greedy.trim().split(' ');
const stopWord = words[Math.min(3, words.length - 1)];
const st = await client.completions.create({ model: modelId, prompt, max_tokens: 40, temperature: 0, stop: [stopWord] });
assert.equal(st.choices[0].finish_reason, 'stop');
assert.ok(!st.choices[0].text.includes(stopWord));
assert.ok(greedy.startsWith(st.choices[0].text));

// Seeded sampling repeats itself.
const seeded = async () => (await client.completions.create({
  model: modelId, prompt, max_tokens: 20, temperature: 1.0, top_p: 0.9, seed: 42,
})).choices[0].text;
assert.equal(await seeded(), await seeded());

// Chat, not streaming and streaming.
const messages = [{ role: 'user', content: 'Tell me a story.' }];
const chat = await client.chat.completions.create({ model: modelId, messages, max_tokens: 24, temperature: 0 });
assert.equal(chat.object, 'chat.completion');
assert.equal(chat.choices[0].message.role, 'assistant');
assert.equal(typeof chat.choices[0].message.content, 'string');
assert.ok(['stop', 'length'].includes(chat.choices[0].finish_reason));
assert.ok(chat.usage.prompt_tokens > 0);
let chatStreamed = '';
let sawRole = false;
const cs = await client.chat.completions.create({ model: modelId, messages, max_tokens: 24, temperature: 0, stream: true });
for await (const chunk of cs) {
  assert.equal(chunk.object, 'chat.completion.chunk');
  for (const ch of chunk.choices) {
    if (ch.delta?.role === 'assistant') sawRole = true;
    chatStreamed += ch.delta?.content ?? '';
  }
}
assert.ok(sawRole);
assert.equal(chatStreamed, chat.choices[0].message.content);

// Logprobs: one entry per generated token, each with its top alternatives; greedy picks the top.
const lp = await client.chat.completions.create({
  model: modelId, messages, max_tokens: 8, temperature: 0, logprobs: true, top_logprobs: 3,
});
const entries = lp.choices[0].logprobs.content;
assert.equal(entries.length, lp.usage.completion_tokens);
for (const e of entries) {
  assert.equal(e.top_logprobs.length, 3);
  assert.ok(e.logprob <= 0);
  assert.ok(Math.abs(e.logprob - e.top_logprobs[0].logprob) < 1e-4);
}

// Penalties and logit_bias are accepted; a banned token never appears.
const banned = await client.completions.create({
  model: modelId, prompt, max_tokens: 10, temperature: 0, presence_penalty: 0.5, frequency_penalty: 0.5,
  logit_bias: { 2: -100 },
});
assert.equal(banned.choices.length, 1);

// Errors through the client: an unknown model is a 404 with MODEL_NOT_FOUND.
await assert.rejects(
  client.completions.create({ model: 'no-such-model', prompt, max_tokens: 4 }),
  (e) => e.status === 404 && e.error?.code === 'MODEL_NOT_FOUND',
);
await assert.rejects(
  client.completions.create({ model: modelId, prompt, max_tokens: 4, temperature: 'hot' }),
  (e) => e.status === 400 && e.error?.code === 'INVALID_REQUEST',
);

console.log(JSON.stringify({ greedy_completion: greedy }));
