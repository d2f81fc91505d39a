// Load benchmark for `hearth serve` (or any OpenAI-compatible server): for each concurrency level
// N, N clients each send M streamed chat requests back to back. Reports requests/s, generated
// tokens/s (from the servers' usage counts) and p50/p99 time to first token, as a table or JSON.
// Plain fetch (Node >= 18), no dependencies.
//
//   node bench/load/load.mjs --url http://127.0.0.1:11434 --model q35-0.8b \
//        --clients 1,4,8 --requests 4 --max-tokens 64 [--json]
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:11434' },
    model: { type: 'string', default: 'qwen3.5:0.8b' },
    clients: { type: 'string', default: '1,4,8' },
    requests: { type: 'string', default: '4' },  // per client
    'max-tokens': { type: 'string', default: '64' },
    prompt: { type: 'string', default: 'Write a short story about a lighthouse keeper.' },
    think: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log('node load.mjs [--url U] [--model M] [--clients 1,4,8] [--requests M] ' +
              '[--max-tokens T] [--prompt P] [--think] [--json]');
  process.exit(0);
}
const levels = args.clients.split(',').map(Number).filter((n) => n > 0);
const perClient = Number(args.requests);
const maxTokens = Number(args['max-tokens']);

// One streamed request: time to first generated text (content or reasoning) and usage.
async function one(clientIndex, requestIndex) {
  const start = performance.now();
  const res = await fetch(`${args.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      model: args.model,
      // A distinct first line per request, so the prefix cache cannot answer whole prompts.
      messages: [{ role: 'user', content: `Request ${clientIndex}.${requestIndex}. ${args.prompt}` }],
      max_tokens: maxTokens,
      stream: true,
      stream_options: { include_usage: true },
      chat_template_kwargs: { enable_thinking: args.think },
    }),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let ttft = null, completion = 0, buffer = '';
  const decoder = new TextDecoder();
  for await (const bytes of res.body) {
    buffer += decoder.decode(bytes, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
      const chunk = JSON.parse(event.slice(6));
      if (chunk.error) throw new Error(chunk.error.message);
      const delta = chunk.choices?.[0]?.delta;
      if (ttft === null && delta && (delta.content || delta.reasoning_content || delta.tool_calls))
        ttft = performance.now() - start;
      if (chunk.usage) completion = chunk.usage.completion_tokens;
    }
  }
  return { ttft: ttft ?? performance.now() - start, completion, total: performance.now() - start };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

async function level(n) {
  const results = [];
  const start = performance.now();
  await Promise.all(Array.from({ length: n }, async (_, c) => {
    for (let r = 0; r < perClient; ++r) results.push(await one(c, r));
  }));
  const wall = (performance.now() - start) / 1000;
  const ttfts = results.map((r) => r.ttft).sort((a, b) => a - b);
  const tokens = results.reduce((s, r) => s + r.completion, 0);
  return {
    clients: n,
    requests: results.length,
    wall_s: wall,
    requests_per_s: results.length / wall,
    generated_tokens: tokens,
    generated_tokens_per_s: tokens / wall,
    ttft_p50_ms: percentile(ttfts, 50),
    ttft_p99_ms: percentile(ttfts, 99),
  };
}

await one(0, -1);  // warm-up: loads the model
const rows = [];
for (const n of levels) rows.push(await level(n));
if (args.json) {
  console.log(JSON.stringify({ url: args.url, model: args.model, max_tokens: maxTokens,
                               requests_per_client: perClient, results: rows }, null, 2));
} else {
  console.log('| clients | requests | wall s | req/s | gen tok/s | TTFT p50 ms | TTFT p99 ms |');
  console.log('|--------:|---------:|-------:|------:|----------:|------------:|------------:|');
  for (const r of rows)
    console.log(`| ${r.clients} | ${r.requests} | ${r.wall_s.toFixed(1)} | ` +
                `${r.requests_per_s.toFixed(2)} | ${r.generated_tokens_per_s.toFixed(1)} | ` +
                `${r.ttft_p50_ms.toFixed(0)} | ${r.ttft_p99_ms.toFixed(0)} |`);
}
