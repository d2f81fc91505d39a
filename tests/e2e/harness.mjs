// Shared start-up for the end-to-end suites: builds a tiny synthetic model (noise weights) with
// `hearth make-test-model`, starts `hearth serve` on a free port and hands back clients for it.
// HEARTH_BIN: the binary with `serve` and `make-test-model` (default: ../../build/bin/hearth).
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { Ollama } from 'ollama';

export const here = dirname(fileURLToPath(import.meta.url));
export const bin = process.env.HEARTH_BIN || join(here, '../../build/bin/hearth');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

// Starts `hearth serve` with the model served as `tiny` and resolves once it listens.
// Returns { port, dir (temp folder holding tiny.gguf), model (its path), openai, ollama, stop() }.
export async function startServer({ ctx = 2048, parallel = 4, threads = 2,
                                    prefix = 'hearth-e2e-' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const model = join(dir, 'tiny.gguf');
  const stop = (proc) => {
    if (proc) proc.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  let proc;
  try {
    execFileSync(bin, ['make-test-model', '--vocab', 'synthetic', '--out', model],
                 { stdio: 'ignore' });
    const port = await freePort();
    proc = spawn(bin, ['serve', '--host', `127.0.0.1:${port}`, '--ctx', String(ctx),
                       '--parallel', String(parallel), '--threads', String(threads),
                       '--model-path', `tiny=${model}`],
                 { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HEARTH_API_KEY: '' } });
    await new Promise((resolve, reject) => {
      let out = '';
      proc.stdout.on('data', (d) => {
        out += d;
        if (out.includes('listening')) resolve();
      });
      proc.on('exit', (code) => reject(new Error(`hearth serve exited with ${code}`)));
    });
    return {
      port,
      dir,
      model,
      openai: new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'ollama',
                           maxRetries: 0 }),
      ollama: new Ollama({ host: `http://127.0.0.1:${port}` }),
      stop: () => stop(proc),
    };
  } catch (e) {
    stop(proc);
    throw e;
  }
}
