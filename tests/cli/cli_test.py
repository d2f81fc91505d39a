#!/usr/bin/env python3
"""Runs the `hearth` binary the way a user does, one scenario per ctest test:

  cli_test.py HEARTH_BINARY SCENARIO [HF_FIXTURE_BINARY]

Every scenario works in its own temporary HEARTH_MODELS (and HOME), so it never touches
~/.hearth. Exit 0 = pass, 1 = fail, 77 = skipped (ctest SKIP_RETURN_CODE).
"""
import http.server
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77


class Failure(Exception):
    pass


def check(cond, what, result=None):
    if not cond:
        detail = ""
        if result is not None:
            detail = (f"\n  command: {' '.join(result.args)}\n  exit: {result.returncode}"
                      f"\n  stdout: {result.stdout[-2000:]!r}\n  stderr: {result.stderr[-2000:]!r}")
        raise Failure(what + detail)


class Env:
    def __init__(self, hearth, tmp):
        self.hearth = hearth
        self.tmp = tmp
        self.env = dict(os.environ)
        self.env["HEARTH_MODELS"] = os.path.join(tmp, "models")
        self.env["HOME"] = os.path.join(tmp, "home")
        os.makedirs(self.env["HOME"], exist_ok=True)
        for k in ("HEARTH_HOST", "HEARTH_API_KEY", "HEARTH_REGISTRY", "HEARTH_ISA"):
            self.env.pop(k, None)
        self.env["HEARTH_HOST"] = "127.0.0.1:%d" % free_port()  # never a real server

    def run(self, *args, stdin=None, timeout=300, env=None):
        e = dict(self.env)
        if env:
            e.update(env)
        return subprocess.run([self.hearth, *args], input=stdin if stdin is not None else "",
                              capture_output=True, text=True, timeout=timeout, env=e)

    def tiny_gguf(self, name="tiny.gguf", type_="q8_0", seed=1):
        path = os.path.join(self.tmp, name)
        r = self.run("make-test-model", "--arch", "qwen35", "--size", "tiny", "--type", type_,
                     "--seed", str(seed), "--out", path)
        check(r.returncode == 0 and os.path.exists(path), "make-test-model failed", r)
        return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- scenarios


def scenario_version(env):
    r = env.run("version")
    check(r.returncode == 0, "version exits 0", r)
    check(r.stdout.startswith("hearth "), "version prints 'hearth <version>'", r)
    check("kernel isa:" in r.stdout and any(i in r.stdout for i in ("scalar", "avx2", "avx512")),
          "version names the kernel ISA", r)
    r2 = env.run("--version")
    check(r2.returncode == 0 and r2.stdout.strip() == r.stdout.splitlines()[0].strip(),
          "--version prints the same version line", r2)


def scenario_run(env):
    r = env.run("run", "demo", "hello", "-n", "8", "--seed", "1")
    check(r.returncode == 0, "one-shot run of the demo exits 0", r)
    check(r.stdout.strip() != "", "one-shot run prints text", r)
    check("random weights" in r.stderr, "the demo's random-weights notice is shown", r)
    # The demo is now registered in the store.
    r = env.run("list")
    check(r.returncode == 0 and "demo" in r.stdout, "the demo is listed after first use", r)

    r = env.run("run", "demo", "Summarize", "-n", "8", "--verbose", stdin="a document about cats\n")
    check(r.returncode == 0 and r.stdout.strip() != "", "piped stdin + prompt works", r)
    # --verbose reports the prompt token count: the document must be part of the prompt.
    with_doc = prompt_tokens(r)
    r = env.run("run", "demo", "Summarize", "-n", "8", "--verbose", stdin="")
    base = prompt_tokens(r)
    check(with_doc > base, f"the piped document reaches the prompt ({with_doc} vs {base} tokens)", r)

    r = env.run("run", "no-such-model", "hi", "-n", "4")
    check(r.returncode != 0, "an unknown model fails", r)
    check("not in the store" in r.stderr and "hearth pull" in r.stderr,
          "an unknown model gets a clear message", r)

    long_prompt = "word " * 400
    r = env.run("run", "demo", "--ctx", "128", long_prompt, "-n", "4")
    check(r.returncode != 0, "a prompt longer than the context fails", r)
    check("context" in r.stderr.lower() and "error" in r.stderr.lower(),
          "a prompt longer than the context gets a clear message", r)


def prompt_tokens(r):
    check(r.returncode == 0, "run --verbose exits 0", r)
    for line in r.stderr.splitlines():
        if line.startswith("prompt eval count:"):
            return int(line.split(":")[1].split()[0])
    raise Failure("no 'prompt eval count' in --verbose output: " + r.stderr)


def scenario_store(env):
    gguf = env.tiny_gguf()
    r = env.run("import", gguf, "mini:q8")
    check(r.returncode == 0 and "imported 'mini:q8'" in r.stdout, "import succeeds", r)
    r = env.run("list")
    check(r.returncode == 0, "list exits 0", r)
    check(r.stdout.split()[:4] == ["NAME", "ID", "SIZE", "MODIFIED"], "list has Ollama's columns", r)
    check(any(l.startswith("mini:q8 ") for l in r.stdout.splitlines()), "list shows the import", r)

    r = env.run("show", "mini:q8")
    check(r.returncode == 0, "show exits 0", r)
    for needle in ("architecture", "qwen35", "quantization", "Memory (estimate", "KV cache",
                   "4096", "random weights", "noise"):
        check(needle in r.stdout, f"show prints '{needle}'", r)

    r = env.run("ls")
    check("mini:q8" in r.stdout, "ls is an alias of list", r)
    r = env.run("rm", "mini:q8")
    check(r.returncode == 0 and "deleted 'mini:q8'" in r.stdout, "rm succeeds", r)
    r = env.run("list")
    check("mini:q8" not in r.stdout, "rm removes the model from the list", r)
    blobs = os.path.join(env.env["HEARTH_MODELS"], "blobs")
    check(not os.path.isdir(blobs) or os.listdir(blobs) == [], "rm prunes the blobs")

    r = env.run("rm", "mini:q8")
    check(r.returncode != 0 and "not found" in r.stderr, "rm of an unknown name fails clearly", r)
    r = env.run("show", "nothing:here")
    check(r.returncode != 0 and "error" in r.stderr, "show of an unknown name fails", r)


def scenario_create(env, fixture):
    if not fixture or not os.path.exists(fixture):
        print("SKIP: no Hugging Face fixture writer")
        return SKIP
    hf = os.path.join(env.tmp, "hf")
    r = subprocess.run([fixture, hf], capture_output=True, text=True, timeout=300)
    check(r.returncode == 0 and os.path.exists(os.path.join(hf, "config.json")),
          "the fixture writes a Hugging Face folder", r)

    r = env.run("create", "mine:q8", "--from", hf, "--type", "q4_k_m")
    check(r.returncode == 0 and "created 'mine:q8'" in r.stdout, "create from a folder", r)
    r = env.run("show", "mine:q8")
    check(r.returncode == 0 and "Q4_K_M" in r.stdout, "the created model is q4_k_m", r)
    r = env.run("run", "mine:q8", "hi", "-n", "4")
    check(r.returncode == 0, "the created model runs", r)

    r = env.run("create", "mine:q8", "--from", hf, "--type", "q8_0")
    check(r.returncode != 0 and "already exists" in r.stderr and "--force" in r.stderr,
          "create refuses an existing name", r)
    blobs_dir = os.path.join(env.env["HEARTH_MODELS"], "blobs")
    before = sorted(os.listdir(blobs_dir))
    r = env.run("create", "mine:q8", "--from", hf, "--type", "q4_0", "--force")
    check(r.returncode == 0, "create --force replaces", r)
    r = env.run("show", "mine:q8")
    check("Q4_0" in r.stdout, "the replaced model is q4_0", r)
    after = sorted(os.listdir(blobs_dir))
    check(len(after) == len(before), f"the replaced model's blobs are pruned ({before} -> {after})")

    r = env.run("create", "other:x", "--from", hf, "--type", "q5_banana")
    check(r.returncode != 0 and "unknown type" in r.stderr, "create rejects an unknown type", r)
    r = env.run("create", "other:x", "--from", os.path.join(env.tmp, "missing"), "--type", "q8_0")
    check(r.returncode != 0 and "no such folder" in r.stderr, "create rejects a missing folder", r)
    empty = os.path.join(env.tmp, "empty")
    os.makedirs(empty)
    r = env.run("create", "other:x", "--from", empty, "--type", "q8_0")
    check(r.returncode != 0 and "config.json" in r.stderr, "create rejects a folder without config", r)
    r = env.run("list")
    check("other:x" not in r.stdout, "failed creates register nothing", r)
    tmp_dir = os.path.join(env.env["HEARTH_MODELS"], "tmp")
    leftovers = [f for f in os.listdir(tmp_dir) if f.startswith("create-")] if os.path.isdir(tmp_dir) else []
    check(leftovers == [], f"create leaves no temp files ({leftovers})")

    # From a GGUF: quantised on the way in.
    gguf = env.tiny_gguf(type_="f16")
    r = env.run("create", "fromgguf:q8", "--from", gguf, "--type", "q8_0")
    check(r.returncode == 0, "create from a .gguf with --type", r)
    r = env.run("show", "fromgguf:q8")
    check("Q8_0" in r.stdout, "create from a .gguf re-quantises", r)


class MockRegistry:
    """The Ollama registry's v2 API for one model, served by http.server on a free port."""

    def __init__(self, blobs, manifests):
        self.blobs = blobs          # digest -> bytes
        self.manifests = manifests  # "ns/model:tag" -> json text
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = self.path.split("?")[0].split("/")
                # /v2/<ns>/<model>/manifests/<tag> or /v2/<ns>/<model>/blobs/<digest>
                if len(parts) == 6 and parts[1] == "v2":
                    key = f"{parts[2]}/{parts[3]}"
                    if parts[4] == "manifests" and f"{key}:{parts[5]}" in registry.manifests:
                        return self.send(registry.manifests[f"{key}:{parts[5]}"].encode(),
                                         "application/vnd.docker.distribution.manifest.v2+json")
                    if parts[4] == "blobs" and parts[5] in registry.blobs:
                        return self.send(registry.blobs[parts[5]], "application/octet-stream")
                self.send(b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', "application/json", 404)

            def send(self, body, ctype, code=200):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def scenario_pull(env):
    # Resume after a cut and checksum mismatch are covered through the library in tests/store
    # (pull_test.cpp); here: the binary end to end, success and 404.
    gguf = open(env.tiny_gguf(), "rb").read()
    config = b'{"model_format":"gguf","model_family":"qwen35"}'
    def digest(b):
        return "sha256:" + hashlib.sha256(b).hexdigest()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": digest(gguf),
                    "size": len(gguf)}],
    })
    reg = MockRegistry({digest(gguf): gguf, digest(config): config},
                       {"library/tinyq:latest": manifest})
    try:
        env.env["HEARTH_REGISTRY"] = reg.url
        r = env.run("pull", "tinyq")
        check(r.returncode == 0, "pull from the mock registry succeeds", r)
        for step in ("pulling manifest", "verifying", "writing manifest", "success"):
            check(step in r.stderr, f"pull reports '{step}'", r)
        r = env.run("list")
        check("tinyq:latest" in r.stdout, "the pulled model is listed", r)
        blob = os.path.join(env.env["HEARTH_MODELS"], "blobs", digest(gguf).replace(":", "-"))
        check(os.path.exists(blob) and open(blob, "rb").read() == gguf, "the blob is stored intact")
        r = env.run("run", "tinyq", "hi", "-n", "4")
        check(r.returncode == 0, "the pulled model runs", r)

        r = env.run("pull", "nothere:7b")
        check(r.returncode != 0 and "not found" in r.stderr, "pull of an unknown model is a clear 404", r)
        r = env.run("list")
        check("nothere" not in r.stdout, "a failed pull registers nothing", r)
    finally:
        reg.close()


def scenario_ps(env):
    r = env.run("ps")
    check(r.returncode == 1, "ps without a server exits 1", r)
    check("could not connect to hearth server at" in r.stderr and "hearth serve" in r.stderr,
          "ps without a server says how to start one", r)

    gguf = env.tiny_gguf()
    port = free_port()
    host = "127.0.0.1:%d" % port
    key = "test-key-123"
    proc = subprocess.Popen([env.hearth, "serve", "--model-path", "mini=" + gguf],
                            env={**env.env, "HEARTH_HOST": host, "HEARTH_API_KEY": key,
                                 "HEARTH_KEEP_ALIVE": "10m"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise Failure("hearth serve did not start: " + (proc.stderr.read() or ""))
                time.sleep(0.2)
        r = env.run("ps", env={"HEARTH_HOST": host, "HEARTH_API_KEY": key})
        check(r.returncode == 0, "ps against an empty server exits 0", r)
        check(r.stdout.split() == ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"],
              "ps prints Ollama's columns and no model yet", r)
        r = env.run("ps", env={"HEARTH_HOST": host, "HEARTH_API_KEY": "wrong"})
        check(r.returncode != 0 and "401" in r.stderr, "ps sends the API key (a wrong one is refused)", r)
        # Load the model: a generate with an empty prompt loads it (Ollama convention).
        import urllib.request
        req = urllib.request.Request("http://%s/api/generate" % host,
                                     data=json.dumps({"model": "mini", "prompt": ""}).encode(),
                                     headers={"Authorization": "Bearer " + key,
                                              "Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=120).read()
        r = env.run("ps", env={"HEARTH_HOST": host, "HEARTH_API_KEY": key})
        check(r.returncode == 0, "ps exits 0", r)
        rows = [l for l in r.stdout.splitlines()[1:] if l.strip()]
        check(len(rows) == 1 and rows[0].startswith("mini "), "ps lists the loaded model", r)
        check("100% CPU" in rows[0] and "from now" in rows[0], "ps shows processor and expiry", r)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def read_json_lines(text):
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise Failure("no JSON in: " + text)


def scenario_fit(env):
    # A 0.8B-shaped q8_0 model (published shapes and vocabulary, random weights): large enough
    # that the weights dominate the process's memory, as they do for real models.
    model = os.path.join(env.tmp, "fit-0.8b-q8_0.gguf")
    r = env.run("make-test-model", "--arch", "qwen35", "--size", "0.8b", "--type", "q8_0",
                "--out", model, timeout=900)
    check(r.returncode == 0, "make-test-model 0.8b", r)
    ctx = 1024
    r = env.run("fit", "--model", model, "--ctx", str(ctx), "--parallel", "1", "--json")
    check(r.returncode == 0, "fit --model exits 0", r)
    est = read_json_lines(r.stdout)
    # A prompt that fills most of the context (the synthetic vocabulary is byte-level: one
    # character is about one token), then one generated token: every weight matrix is read
    # during the prefill, and the tied embedding as the output head.
    import random
    rng = random.Random(5)
    text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ,.") for _ in range(4 * ctx))
    text_file = os.path.join(env.tmp, "prompt.txt")
    with open(text_file, "w") as f:
        f.write(text)
    r = env.run("tokenize", "-m", model, "-f", text_file, "--json")
    check(r.returncode == 0, "tokenize the prompt text", r)
    chars_per_token = len(text) / len(json.loads(r.stdout))
    # Leave room for the chat template's tokens and the generated one.
    prompt = text[: int((ctx - 96) * chars_per_token)]
    r = env.run("run", model, "--ctx", str(ctx), "-n", "1", "--print-peak-memory", "--verbose",
                stdin=prompt, timeout=900)
    check(r.returncode == 0, "run with --print-peak-memory exits 0", r)
    peak = None
    for line in r.stderr.splitlines():
        if line.startswith("peak memory:"):
            peak = int(line.split()[2])
    check(peak, "run prints the peak memory", r)
    ratio = est["total_bytes"] / peak
    print(f"fit estimate {est['total_bytes']} bytes (weights {est['weights_bytes']}, kv "
          f"{est['kv_bytes']}, state {est['state_bytes']}, compute {est['compute_bytes']}); "
          f"measured peak {peak} bytes; estimate/measured = {ratio:.3f}")
    tokens = prompt_tokens(r)
    print(f"prompt: {tokens} tokens of a {ctx}-token context")
    check(tokens > ctx * 3 // 4, f"the prompt fills the context ({tokens} of {ctx} tokens)", r)
    check(0.9 <= ratio <= 1.1, f"fit's estimate is within 10% of the measured peak ({ratio:.3f})")


def tmux(*args, check_rc=True):
    r = subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=30)
    if check_rc and r.returncode != 0:
        raise Failure(f"tmux {' '.join(args)}: {r.stderr}")
    return r


def scenario_interactive(env):
    if shutil.which("tmux") is None:
        print("SKIP: tmux is not installed")
        return SKIP
    # The demo model is registered first (outside tmux) so the session starts quickly.
    r = env.run("run", "demo", "hi", "-n", "1")
    check(r.returncode == 0, "demo model ready", r)
    sock = os.path.join(env.tmp, "tmux.sock")
    session = "hearth-cli-test"
    status_file = os.path.join(env.tmp, "exit-status")
    exports = " ".join(f"{k}={shlex_quote(env.env[k])}" for k in ("HEARTH_MODELS", "HOME"))
    # A long generation limit and thinking on: the answer runs long enough to be interrupted.
    cmd = (f"env {exports} {shlex_quote(env.hearth)} run demo --think on --seed 7 -n 100000 "
           f"--ctx 32768; echo EXIT=$? > {shlex_quote(status_file)}; sleep 60")
    tmux("-S", sock, "new-session", "-d", "-s", session, "-x", "200", "-y", "50", cmd)
    try:
        def screen():
            return tmux("-S", sock, "capture-pane", "-p", "-S", "-2000", "-t", session).stdout

        def wait_for(pred, what, timeout=60):
            deadline = time.time() + timeout
            while time.time() < deadline:
                s = screen()
                if pred(s):
                    return s
                time.sleep(0.2)
            raise Failure(f"timed out waiting for {what}; screen:\n{screen()}")

        wait_for(lambda s: ">>>" in s, "the prompt")
        tmux("-S", sock, "send-keys", "-t", session, "tell me a long story", "Enter")
        # Wait until the answer is streaming, then interrupt it.
        wait_for(lambda s: len(s.split("tell me a long story", 1)[-1].strip()) > 40,
                 "the answer to stream")
        tmux("-S", sock, "send-keys", "-t", session, "C-c")
        s = wait_for(lambda s: "(cancelled)" in s and s.rstrip().endswith(">>>"),
                     "the cancelled answer and a new prompt")
        check(not os.path.exists(status_file), "Ctrl-C did not end the session")
        # The session still works: a command answers.
        tmux("-S", sock, "send-keys", "-t", session, "/?", "Enter")
        wait_for(lambda s: "Available commands" in s, "the help text")
        tmux("-S", sock, "send-keys", "-t", session, "/bye", "Enter")
        deadline = time.time() + 30
        while not os.path.exists(status_file) and time.time() < deadline:
            time.sleep(0.2)
        check(os.path.exists(status_file), "/bye ends the session")
        status = open(status_file).read().strip()
        check(status == "EXIT=0", f"/bye exits 0 ({status})")
    finally:
        tmux("-S", sock, "kill-server", check_rc=False)


def shlex_quote(s):
    import shlex
    return shlex.quote(s)


SCENARIOS = {
    "version": scenario_version,
    "run": scenario_run,
    "store": scenario_store,
    "create": scenario_create,
    "pull": scenario_pull,
    "ps": scenario_ps,
    "fit": scenario_fit,
    "interactive": scenario_interactive,
}


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in SCENARIOS:
        print(__doc__)
        print("scenarios:", ", ".join(SCENARIOS))
        return 2
    hearth, name = os.path.abspath(sys.argv[1]), sys.argv[2]
    tmp = tempfile.mkdtemp(prefix=f"hearth-cli-{name}-")
    try:
        env = Env(hearth, tmp)
        fn = SCENARIOS[name]
        rc = fn(env, sys.argv[3] if len(sys.argv) > 3 else None) if name == "create" else fn(env)
        if rc == SKIP:
            return SKIP
        print(f"PASS {name}")
        return 0
    except Failure as e:
        print(f"FAIL {name}: {e}")
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
