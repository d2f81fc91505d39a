// End-to-end: `hearth serve` with a tiny synthetic model (noise weights), driven by the official
// `openai` and `ollama` npm clients, exactly as users point them at a local server. The text is
// noise, so these tests check shapes, counts and determinism, not wording.
// HEARTH_BIN: the binary with `serve` and `make-test-model` (default: ../../build/bin/hearth).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer as createHttpServer } from 'node:http';
import { mkdirSync, writeFileSync, readFileSync, existsSync, symlinkSync,
         copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, bin, here } from './harness.mjs';

let server, dir, port, openai, ollama;

before(async () => {
  server = await startServer({ prefix: 'hearth-e2e-' });
  ({ dir, port, openai, ollama } = server);
});

after(() => server?.stop());

const messages = [{ role: 'user', content: 'Say something' }];

test('openai: chat completion shape and usage', async () => {
  const r = await openai.chat.completions.create({ model: 'tiny', messages, max_tokens: 8 });
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.prompt_tokens > 0);
  assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 8);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test('openai: streaming with include_usage', async () => {
  const stream = await openai.chat.completions.create({
    model: 'tiny', messages, max_tokens: 6, stream: true, stream_options: { include_usage: true },
  });
  let finish = null, usage = null, chunks = 0, id = null;
  for await (const chunk of stream) {
    chunks++;
    id ??= chunk.id;
    assert.equal(chunk.id, id);
    if (chunk.choices.length && chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(chunks >= 2);
  assert.ok(['stop', 'length'].includes(finish));
  assert.ok(usage && usage.completion_tokens >= 1 && usage.completion_tokens <= 6);
});

test('openai: n=2 and seed reproducibility', async () => {
  const req = { model: 'tiny', messages, max_tokens: 8, temperature: 1, seed: 7,
                chat_template_kwargs: { enable_thinking: false } };
  const a = await openai.chat.completions.create(req);
  const b = await openai.chat.completions.create(req);
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  const n2 = await openai.chat.completions.create({ ...req, n: 2 });
  assert.deepEqual(n2.choices.map((c) => c.index), [0, 1]);
});

test('openai: completions with stop', async () => {
  const r = await openai.completions.create({ model: 'tiny', prompt: 'Once upon', max_tokens: 12,
                                              temperature: 0 });
  assert.equal(r.object, 'text_completion');
  const text = r.choices[0].text;
  if (text.length >= 3) {
    const stop = text.slice(1, 2);
    const s = await openai.completions.create({ model: 'tiny', prompt: 'Once upon', max_tokens: 12,
                                                temperature: 0, stop: [stop] });
    assert.equal(s.choices[0].text, text.slice(0, text.indexOf(stop)));
    assert.equal(s.choices[0].finish_reason, 'stop');
  }
});

test('openai: models and errors', async () => {
  const models = await openai.models.list();
  assert.ok(models.data.some((m) => m.id === 'tiny'));
  await assert.rejects(openai.chat.completions.create({ model: 'nope', messages }),
                       (e) => e.status === 404);
  await assert.rejects(openai.chat.completions.create({ model: 'tiny', messages: [] }),
                       (e) => e.status === 400);
  const long = 'word '.repeat(6000);
  await assert.rejects(
      openai.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: long }] }),
      (e) => e.status === 400 && e.code === 'context_length_exceeded');
});

test('ollama: chat, stream, generate, list, show, ps', async () => {
  const r = await ollama.chat({ model: 'tiny', messages, think: false, options: { num_predict: 5 } });
  assert.equal(r.message.role, 'assistant');
  assert.equal(r.done, true);
  assert.ok(r.eval_count >= 1 && r.eval_count <= 5);
  let last = null;
  for await (const part of await ollama.chat({ model: 'tiny', messages, stream: true,
                                               options: { num_predict: 4 } })) last = part;
  assert.equal(last.done, true);
  const g = await ollama.generate({ model: 'tiny', prompt: 'Why?', options: { num_predict: 3 } });
  assert.equal(typeof g.response, 'string');
  assert.equal(g.done, true);
  const list = await ollama.list();
  assert.ok(list.models.some((m) => m.name === 'tiny'));
  const show = await ollama.show({ model: 'tiny' });
  assert.equal(show.model_info['general.architecture'], 'qwen35');
  const ps = await ollama.ps();
  assert.ok(ps.models.some((m) => m.name === 'tiny'));
  await assert.rejects(ollama.chat({ model: 'nope', messages }), (e) => e.status_code === 404);
});

// tool_choice "required" forces the answer to open a tool call. The noise model then writes junk
// arguments and never closes the call, so the unfinished call comes back as text that starts with
// the forced opening (thinking off: forcing starts at once).
test('openai: tool_choice required forces a tool call', async () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather',
                   parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const base = { model: 'tiny', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools,
                 chat_template_kwargs: { enable_thinking: false }, temperature: 1, seed: 3 };
  const r = await openai.chat.completions.create({ ...base, tool_choice: 'required', max_tokens: 40 });
  assert.ok(r.choices[0].message.content.startsWith('<tool_call>\n<function='),
            JSON.stringify(r.choices[0].message));
  const named = await openai.chat.completions.create({
    ...base, tool_choice: { type: 'function', function: { name: 'get_weather' } }, max_tokens: 60 });
  assert.ok(named.choices[0].message.content.startsWith('<tool_call>\n<function=get_weather>\n'),
            JSON.stringify(named.choices[0].message));
  await assert.rejects(
      openai.chat.completions.create({ ...base, tool_choice: { type: 'function',
                                                               function: { name: 'nope' } } }),
      (e) => e.status === 400);
});

// examples/summarize.mjs, run as a user would: from a folder holding ./documents, against this
// server (the model and base URL come from the environment). The noise model writes only
// newlines at the script's temperature 0.2 (an empty summary) and would run to max_tokens 1024,
// so the script talks to a small proxy that keeps its requests but samples short, seeded,
// hot text without thinking or end tokens: the test checks the plumbing, not the model.
test('examples/summarize.mjs writes a summary per document', async () => {
  const endIds = JSON.parse(execFileSync(bin, ['tokenize', '-m', join(dir, 'tiny.gguf'), '--special',
                                               '--json', '-t', '<|im_end|><|endoftext|>']));
  const seen = [];
  const proxy = createHttpServer(async (req, res) => {
    let body = '';
    for await (const part of req) body += part;
    const request = JSON.parse(body);
    seen.push({ ...request });
    Object.assign(request, { max_tokens: 16, temperature: 1.5, seed: 5,
                             chat_template_kwargs: { enable_thinking: false },
                             logit_bias: Object.fromEntries(endIds.map((id) => [id, -100])) });
    const upstream = await fetch(`http://127.0.0.1:${port}${req.url}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(request),
    });
    res.writeHead(upstream.status, { 'Content-Type': 'application/json' });
    res.end(await upstream.text());
  });
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  try {
    const work = join(dir, 'summarize');
    mkdirSync(join(work, 'documents'), { recursive: true });
    copyFileSync(join(here, '../../examples/summarize.mjs'), join(work, 'summarize.mjs'));
    symlinkSync(join(here, 'node_modules'), join(work, 'node_modules'));
    writeFileSync(join(work, 'documents', 'alpha.txt'), 'The quick brown fox jumps over the dog.\n');
    writeFileSync(join(work, 'documents', 'beta.txt'), 'Rain is expected tomorrow in the north.\n');
    await promisify(execFile)(process.execPath, ['summarize.mjs'], {
      cwd: work,
      env: { ...process.env, HEARTH_MODEL: 'tiny',
             OPENAI_BASE_URL: `http://127.0.0.1:${proxy.address().port}/v1` },
    });
    assert.equal(seen.length, 2);
    for (const r of seen) {
      assert.equal(r.model, 'tiny');
      assert.equal(r.temperature, 0.2);
      assert.equal(r.max_tokens, 1024);
    }
    for (const name of ['alpha', 'beta']) {
      const out = join(work, 'documents', `${name}.summary.txt`);
      assert.ok(existsSync(out), `${out} missing`);
      assert.ok(readFileSync(out, 'utf8').trim().length > 0, `${out} is empty`);
    }
  } finally {
    proxy.close();
  }
});
