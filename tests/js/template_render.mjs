// Reference renderer for Quarrel's chat-template tests: renders jobs with @huggingface/jinja
// (the Jinja implementation of transformers.js) and prints the results as JSON.
//
//   node template_render.mjs JOBS.json
//
// JOBS.json: {"fixed_time": SECONDS (optional), "jobs": [{"id": ..., "template_path": P or
// "template": SOURCE, "messages": [...], "tools": [...] | null, "add_generation_prompt": bool,
// "bos_token": "", "eos_token": "", "extra": {...}}, ...]}
// Output: [{"id": ..., "ok": true, "text": "..."} | {"id": ..., "ok": false, "error": "..."}]
//
// The template variables are {...extra, messages, tools, add_generation_prompt, bos_token,
// eos_token}, exactly as quarrel::chat::ChatTemplate::render builds them. strftime_now() sees
// the fixed time (fixed_time, else $QUARREL_FIXED_TIME) in the local time zone ($TZ).
import { readFileSync } from "node:fs";
import { Template } from "@huggingface/jinja";

const jobFile = process.argv[2];
if (!jobFile) {
  console.error("usage: node template_render.mjs JOBS.json");
  process.exit(2);
}
const spec = JSON.parse(readFileSync(jobFile, "utf8"));

const fixed = spec.fixed_time ?? process.env.QUARREL_FIXED_TIME;
if (fixed !== undefined && fixed !== null && fixed !== "") {
  const ms = Number(fixed) * 1000;
  const RealDate = globalThis.Date;
  class FixedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(ms);
      else super(...args);
    }
    static now() {
      return ms;
    }
  }
  globalThis.Date = FixedDate;
}

const parsed = new Map();
const results = [];
for (const job of spec.jobs) {
  const out = { id: job.id };
  try {
    const source = job.template_path !== undefined ? readFileSync(job.template_path, "utf8") : job.template;
    let template = parsed.get(source);
    if (template === undefined) {
      try {
        template = new Template(source);
      } catch (e) {
        template = e;
      }
      parsed.set(source, template);
    }
    if (template instanceof Error) throw template;
    const variables = {
      ...(job.extra ?? {}),
      messages: job.messages,
      tools: job.tools ?? null,
      add_generation_prompt: job.add_generation_prompt ?? false,
      bos_token: job.bos_token ?? "",
      eos_token: job.eos_token ?? "",
    };
    out.text = template.render(variables);
    out.ok = true;
  } catch (e) {
    out.ok = false;
    out.error = String(e && e.message !== undefined ? e.message : e);
  }
  results.push(out);
}
process.stdout.write(JSON.stringify(results));
