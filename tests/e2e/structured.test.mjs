// End-to-end structured output: `hearth serve` with a tiny synthetic model (noise weights) must
// answer response_format json_schema / json_object (OpenAI) and format (Ollama) with JSON that
// parses and validates, whatever the weights say; bad schemas are a 400.
// HEARTH_BIN: the binary with `serve` and `make-test-model` (default: ../../build/bin/hearth).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './harness.mjs';

let server, port, openai, ollama;

before(async () => {
  server = await startServer({ prefix: 'hearth-e2e-so-' });
  ({ port, openai, ollama } = server);
});

after(() => server?.stop());

const messages = [{ role: 'user', content: 'Describe a person as JSON' }];
const noThink = { chat_template_kwargs: { enable_thinking: false } };

// Every string is bounded so noise weights still finish well inside max_tokens.
const personSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 20 },
    age: { type: 'integer' },
    tags: { type: 'array', items: { enum: ['red', 'green', 'blue'] }, maxItems: 3 },
    ok: { type: 'boolean' },
  },
  required: ['name', 'age', 'tags', 'ok'],
  additionalProperties: false,
};

function checkPerson(obj) {
  assert.equal(typeof obj, 'object');
  assert.deepEqual(Object.keys(obj), ['name', 'age', 'tags', 'ok']);
  assert.equal(typeof obj.name, 'string');
  assert.ok([...obj.name].length <= 20);
  assert.ok(Number.isInteger(obj.age));
  assert.ok(Array.isArray(obj.tags) && obj.tags.length <= 3);
  for (const t of obj.tags) assert.ok(['red', 'green', 'blue'].includes(t));
  assert.equal(typeof obj.ok, 'boolean');
}

test('openai: json_schema output parses and validates', async () => {
  for (const seed of [1, 2, 3]) {
    const r = await openai.chat.completions.create({
      model: 'tiny', messages, max_tokens: 400, temperature: 1, seed, ...noThink,
      response_format: { type: 'json_schema',
                         json_schema: { name: 'person', schema: personSchema, strict: true } },
    });
    assert.equal(r.choices[0].finish_reason, 'stop');
    checkPerson(JSON.parse(r.choices[0].message.content));
  }
});

test('openai: json_schema while streaming', async () => {
  const stream = await openai.chat.completions.create({
    model: 'tiny', messages, max_tokens: 400, temperature: 1, seed: 9, stream: true, ...noThink,
    response_format: { type: 'json_schema', json_schema: { name: 'person', schema: personSchema } },
  });
  let text = '', finish = null;
  for await (const chunk of stream) {
    if (!chunk.choices.length) continue;
    text += chunk.choices[0].delta.content ?? '';
    finish = chunk.choices[0].finish_reason ?? finish;
  }
  assert.equal(finish, 'stop');
  checkPerson(JSON.parse(text));
});

test('openai: json_object output is a JSON object', async () => {
  // Noise weights rarely close free strings: a bias towards '"' and '}' (byte tokens 34 and
  // 125 in the synthetic vocabulary) keeps keys short. The bias only reorders allowed tokens.
  const r = await openai.chat.completions.create({
    model: 'tiny', messages, max_tokens: 600, temperature: 1, seed: 4, ...noThink,
    logit_bias: { 34: 4, 125: 3 },
    response_format: { type: 'json_object' },
  });
  assert.equal(r.choices[0].finish_reason, 'stop');
  const obj = JSON.parse(r.choices[0].message.content);
  assert.ok(obj !== null && typeof obj === 'object' && !Array.isArray(obj));
});

test('openai: completions endpoint honours response_format', async () => {
  const res = await fetch(`http://127.0.0.1:${port}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tiny', prompt: 'JSON:', max_tokens: 100, seed: 5,
                           response_format: { type: 'json_schema', json_schema: { name: 'n',
                             schema: { type: 'object', properties: { n: { type: 'integer' } },
                                       required: ['n'] } } } }),
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.choices[0].finish_reason, 'stop');
  const obj = JSON.parse(body.choices[0].text);
  assert.ok(Number.isInteger(obj.n));
});

test('ollama: format schema and format json', async () => {
  const r = await ollama.chat({
    model: 'tiny', messages, think: false, format: personSchema,
    options: { num_predict: 400, temperature: 1, seed: 3 },
  });
  assert.equal(r.done_reason, 'stop');
  checkPerson(JSON.parse(r.message.content));
  const g = await ollama.generate({
    model: 'tiny', prompt: 'A colour:', think: false, stream: false,
    format: { type: 'object', properties: { c: { enum: ['red', 'green'] }, n: { type: 'null' } },
              required: ['c'] },
    options: { num_predict: 100, seed: 1 },
  });
  assert.equal(g.done_reason, 'stop');
  const obj = JSON.parse(g.response);
  assert.ok(['red', 'green'].includes(obj.c));
});

test('bad schemas are a 400 with a clear message', async () => {
  const bad = async (schema) => {
    await assert.rejects(
      openai.chat.completions.create({
        model: 'tiny', messages, max_tokens: 10,
        response_format: { type: 'json_schema', json_schema: { name: 'x', schema } },
      }),
      (e) => e.status === 400 && /schema/.test(e.message));
  };
  await bad({ type: 'string', pattern: '^a+$' });
  await bad({ type: 'integer', minimum: 3 });
  await bad({ type: 'frobnicate' });
  await bad({ $defs: { N: { type: 'object', properties: { n: { $ref: '#/$defs/N' } } } },
              $ref: '#/$defs/N' });
  await assert.rejects(
    openai.chat.completions.create({ model: 'tiny', messages, response_format: { type: 'xml' } }),
    (e) => e.status === 400);
  const res = await fetch(`http://127.0.0.1:${port}/api/chat`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tiny', messages, stream: false, format: 'yaml' }),
  });
  assert.equal(res.status, 400);
});
