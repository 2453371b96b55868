// 32 clients at once against a running `quarrel serve`, with the official `openai` npm client.
//   node tests/js/server_concurrency.mjs http://127.0.0.1:PORT MODEL_ID [N] [MAX_TOKENS]
// First runs each of N different greedy prompts alone (one after another), then all N at once
// as streams; every stream must be complete (a finish_reason, then the end of the stream) and
// its text must equal the same request run alone. Prints a JSON summary on stdout; exits 1 on a
// failure.
import OpenAI from 'openai';

const [url, modelId, nArg, maxArg] = process.argv.slice(2);
const n = Number(nArg ?? 32);
const maxTokens = Number(maxArg ?? 12);
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120000 });

const subjects = ['a little dog', 'the sun', 'Lily', 'a big red ball', 'Tom and Sue', 'the old tree', 'a bird',
  'the park', 'a cat named Max', 'the rain'];
const prompts = Array.from({ length: n }, (_, i) =>
  `Once upon a time, ${subjects[i % subjects.length]}${' was happy'.repeat(1 + (i % 4))}${i >= 10 ? ' and' : ''}`);

async function stream(prompt) {
  const s = await client.completions.create({
    model: modelId, prompt, max_tokens: maxTokens, temperature: 0, stream: true,
  });
  let text = '';
  let finish = null;
  let chunks = 0;
  for await (const chunk of s) {
    ++chunks;
    for (const ch of chunk.choices) {
      text += ch.text ?? '';
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  return { text, finish, chunks };
}

const alone = [];
for (const p of prompts) alone.push(await stream(p));
const t0 = Date.now();
const together = await Promise.all(prompts.map(stream));
const ms = Date.now() - t0;

const failures = [];
together.forEach((r, i) => {
  if (!r.finish) failures.push({ i, why: 'no finish_reason', r });
  else if (r.text !== alone[i].text) failures.push({ i, why: 'differs from alone', alone: alone[i].text, together: r.text });
});
alone.forEach((r, i) => {
  if (r.finish !== 'length' && r.finish !== 'stop') failures.push({ i, why: `alone finished with ${r.finish}` });
});
console.log(JSON.stringify({ n, max_tokens: maxTokens, concurrent_ms: ms, failures }));
process.exit(failures.length ? 1 : 0);
