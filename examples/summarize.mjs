// Summarises every ./documents/*.txt with a local hearth (or Ollama) server through the official
// `openai` npm client, writing <name>.summary.txt next to each document.
//
//   npm install openai
//   hearth serve &            # listens on http://localhost:11434
//   node examples/summarize.mjs
//
// Environment: HEARTH_MODEL (default qwen3.5:9b), OPENAI_BASE_URL (default
// http://localhost:11434/v1), HEARTH_REASONING_EFFORT ("none" skips the model's thinking).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';

const model = process.env.HEARTH_MODEL || 'qwen3.5:9b';
const baseURL = process.env.OPENAI_BASE_URL || 'http://localhost:11434/v1';
const reasoningEffort = process.env.HEARTH_REASONING_EFFORT;
const client = new OpenAI({ baseURL, apiKey: 'ollama' });  // the key is required but not checked

async function summarize(text) {
  const response = await client.chat.completions.create({
    model,
    messages: [
      { role: 'system', content: 'You summarise documents accurately and concisely.' },
      { role: 'user', content: `Summarise this document:\n\n${text}` },
    ],
    temperature: 0.2,
    max_tokens: 1024,
    ...(reasoningEffort ? { reasoning_effort: reasoningEffort } : {}),
  });
  return response.choices[0].message.content ?? '';
}

const dir = './documents';
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.txt') && !f.endsWith('.summary.txt'))
  .sort();
if (files.length === 0) {
  console.error('no ./documents/*.txt to summarise');
  process.exit(1);
}
for (const file of files) {
  const path = join(dir, file);
  const summary = await summarize(readFileSync(path, 'utf8'));
  const out = path.slice(0, -'.txt'.length) + '.summary.txt';
  writeFileSync(out, summary.trim() + '\n');
  console.log(`${path} -> ${out} (${summary.length} chars)`);
}
