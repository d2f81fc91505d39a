// Server: routes of the OpenAI (/v1/...) and Ollama (/api/...) APIs, error shapes, auth,
// metrics, and the loop that feeds engine events to (streamed) responses.
#include "server/server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <random>

#include "api/json_value.h"
#include "base/log.h"
#include "chat/output_parser.h"
#include "gguf/gguf_file.h"
#include "server/chat_output.h"
#include "server/structured_output.h"
#include "server/tool_choice.h"
#include "store/file_util.h"
#include "store/manifest.h"
#include "store/model_name.h"
#include "store/model_store.h"
#include "store/sha256.h"

namespace hearth::server {

using api::Json;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- options

Status parse_host_port(const std::string& text_in, std::string* host, int* port) {
  std::string text = text_in;
  for (const char* scheme : {"http://", "https://"})
    if (text.rfind(scheme, 0) == 0) text = text.substr(std::string(scheme).size());
  while (!text.empty() && text.back() == '/') text.pop_back();
  if (text.empty()) return invalid_argument_error("empty host");
  size_t colon = text.rfind(':');
  if (colon != std::string::npos && text.find(':') == colon) {
    std::string p = text.substr(colon + 1);
    char* end = nullptr;
    long v = std::strtol(p.c_str(), &end, 10);
    if (p.empty() || *end != '\0' || v < 0 || v > 65535)
      return invalid_argument_error("invalid port in '" + text_in + "'");
    *port = static_cast<int>(v);
    text = text.substr(0, colon);
  }
  *host = text.empty() ? "127.0.0.1" : text;
  return Status::ok();
}

Status ServerOptions::apply_environment() {
  if (const char* h = std::getenv("HEARTH_HOST"); h && *h)
    HEARTH_RETURN_IF_ERROR(parse_host_port(h, &host, &port).with_context("HEARTH_HOST"));
  if (const char* k = std::getenv("HEARTH_API_KEY"); k && *k) api_key = k;
  if (const char* ka = std::getenv("HEARTH_KEEP_ALIVE"); ka && *ka) {
    auto parsed = parse_keep_alive(ka);
    if (!parsed.is_ok()) return parsed.status().with_context("HEARTH_KEEP_ALIVE");
    keep_alive = parsed.value();
  }
  return Status::ok();
}

namespace {

// ---------------------------------------------------------------- errors

enum class Dialect { kOpenAI, kOllama };

struct ApiError {
  ApiError(int s, std::string m, std::string c = "", std::string p = "")
      : status(s), message(std::move(m)), code(std::move(c)), param(std::move(p)) {}
  int status = 400;
  std::string message;
  std::string code;   // OpenAI "code" (empty: null)
  std::string param;  // OpenAI "param" (empty: null)
};

[[noreturn]] void fail(int status, std::string message, std::string code = "",
                       std::string param = "") {
  throw ApiError{status, std::move(message), std::move(code), std::move(param)};
}

int http_status_of(const Status& s) {
  switch (s.code()) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kOutOfRange:
    case ErrorCode::kUnsupported:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kResourceExhausted:
    case ErrorCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

[[noreturn]] void fail_status(const Status& s) {
  fail(http_status_of(s), s.message());
}

const char* openai_error_type(int status) {
  if (status == 401) return "authentication_error";
  if (status == 404) return "not_found_error";
  if (status == 429 || status == 503) return "rate_limit_error";
  if (status < 500) return "invalid_request_error";
  return "api_error";
}

Json openai_error_json(const ApiError& e) {
  Json err = {{"message", e.message},
              {"type", openai_error_type(e.status)},
              {"param", e.param.empty() ? Json(nullptr) : Json(e.param)},
              {"code", e.code.empty() ? Json(nullptr) : Json(e.code)}};
  return Json{{"error", err}};
}

std::string error_body(Dialect d, const ApiError& e) {
  if (d == Dialect::kOpenAI) return dump_json(openai_error_json(e));
  return dump_json(Json{{"error", e.message}});
}

Dialect dialect_of(const std::string& path) {
  return path.rfind("/v1", 0) == 0 ? Dialect::kOpenAI : Dialect::kOllama;
}

void send_error(httplib::Response& res, Dialect d, const ApiError& e) {
  res.status = e.status;
  if (e.status == 503 || e.status == 429) res.set_header("Retry-After", "1");
  res.set_content(error_body(d, e), "application/json");
}

// ---------------------------------------------------------------- JSON field access

Json parse_body(const std::string& body) {
  if (body.empty()) fail(400, "request body is empty (expected a JSON object)");
  Json j;
  try {
    j = Json::parse(body);
  } catch (const std::exception& ex) {
    fail(400, std::string("malformed JSON: ") + ex.what());
  }
  if (!j.is_object()) fail(400, "request body must be a JSON object");
  return j;
}

const Json* member(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string require_string(const Json& obj, const char* name) {
  const Json* v = member(obj, name);
  if (!v) fail(400, std::string(name) + " is required", "", name);
  if (!v->is_string() || v->get<std::string>().empty())
    fail(400, std::string(name) + " must be a non-empty string", "", name);
  return v->get<std::string>();
}

std::optional<double> opt_number(const Json& obj, const char* name, double lo, double hi) {
  const Json* v = member(obj, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) fail(400, std::string(name) + " must be a number", "", name);
  double d = v->get<double>();
  if (!(d >= lo && d <= hi))
    fail(400, str_format("%s must be between %g and %g", name, lo, hi), "", name);
  return d;
}

std::optional<int64_t> opt_int(const Json& obj, const char* name, int64_t lo, int64_t hi) {
  const Json* v = member(obj, name);
  if (!v) return std::nullopt;
  if (!v->is_number_integer() &&
      !(v->is_number_float() && std::floor(v->get<double>()) == v->get<double>()))
    fail(400, std::string(name) + " must be an integer", "", name);
  double d = v->get<double>();
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)))
    fail(400, str_format("%s must be between %lld and %lld", name, (long long)lo, (long long)hi),
         "", name);
  return v->is_number_unsigned() ? static_cast<int64_t>(v->get<uint64_t>()) : v->get<int64_t>();
}

std::optional<bool> opt_bool(const Json& obj, const char* name) {
  const Json* v = member(obj, name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) fail(400, std::string(name) + " must be a boolean", "", name);
  return v->get<bool>();
}

std::vector<std::string> read_stop(const Json& obj, const char* name, size_t max_count) {
  std::vector<std::string> out;
  const Json* v = member(obj, name);
  if (!v) return out;
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    for (const auto& s : *v) {
      if (!s.is_string()) fail(400, std::string(name) + " must be a string or a list of strings");
      out.push_back(s.get<std::string>());
    }
  } else {
    fail(400, std::string(name) + " must be a string or a list of strings", "", name);
  }
  if (out.size() > max_count)
    fail(400, str_format("%s allows at most %zu strings", name, max_count));
  std::vector<std::string> non_empty;
  for (auto& s : out)
    if (!s.empty()) non_empty.push_back(std::move(s));
  return non_empty;
}

// Qwen3.5's recommended sampling, used for every field the request omits (not 1.0/1.0).
sampling::SamplingParams qwen_defaults(bool thinking) {
  sampling::SamplingParams p;
  p.temperature = thinking ? 1.0f : 0.7f;
  p.top_p = thinking ? 0.95f : 0.8f;
  p.top_k = 20;
  p.min_p = 0.0f;
  p.presence_penalty = 1.5f;
  p.repeat_penalty = 1.0f;
  return p;
}

struct GenParams {
  sampling::SamplingParams sampling;
  int64_t max_tokens = -1;
  std::vector<std::string> stop;
  int n = 1;
  bool logprobs = false;
  // Structured output / tool_choice: a fresh constraint per choice (null = free generation). Set
  // after the model is acquired, since constraints need its vocabulary.
  std::function<std::unique_ptr<sampling::TokenConstraint>()> make_constraint;
};

GenParams openai_params(const Json& body, bool thinking) {
  GenParams g;
  g.sampling = qwen_defaults(thinking);
  if (auto t = opt_number(body, "temperature", 0, 2))
    g.sampling.temperature = static_cast<float>(*t);
  if (auto t = opt_number(body, "top_p", 0, 1)) g.sampling.top_p = static_cast<float>(*t);
  if (auto t = opt_int(body, "top_k", -1, 1 << 20)) g.sampling.top_k = static_cast<int>(*t);
  if (auto t = opt_number(body, "min_p", 0, 1)) g.sampling.min_p = static_cast<float>(*t);
  if (auto t = opt_number(body, "presence_penalty", -2, 2))
    g.sampling.presence_penalty = static_cast<float>(*t);
  if (auto t = opt_number(body, "frequency_penalty", -2, 2))
    g.sampling.frequency_penalty = static_cast<float>(*t);
  if (auto t = opt_number(body, "repetition_penalty", 0, 10))
    g.sampling.repeat_penalty = static_cast<float>(*t);
  if (auto s = opt_int(body, "seed", INT64_MIN, INT64_MAX))
    g.sampling.seed = static_cast<uint64_t>(*s);
  if (auto m = opt_int(body, "max_tokens", 1, INT64_MAX)) g.max_tokens = *m;
  if (auto m = opt_int(body, "max_completion_tokens", 1, INT64_MAX)) g.max_tokens = *m;
  if (auto n = opt_int(body, "n", 1, 16)) g.n = static_cast<int>(*n);
  g.stop = read_stop(body, "stop", 4);
  if (const Json* lb = member(body, "logit_bias")) {
    if (!lb->is_object())
      fail(400, "logit_bias must be an object of token id -> bias", "", "logit_bias");
    for (auto it = lb->begin(); it != lb->end(); ++it) {
      char* end = nullptr;
      long long id = std::strtoll(it.key().c_str(), &end, 10);
      if (it.key().empty() || *end != '\0' || id < 0 || id > INT32_MAX)
        fail(400, "logit_bias key '" + it.key() + "' is not a token id", "", "logit_bias");
      if (!it.value().is_number() || std::fabs(it.value().get<double>()) > 100)
        fail(400, "logit_bias values must be numbers between -100 and 100", "", "logit_bias");
      g.sampling.logit_bias.emplace_back(static_cast<int32_t>(id), it.value().get<float>());
    }
  }
  if (auto lp = opt_bool(body, "logprobs")) g.logprobs = *lp;
  g.sampling.logprobs = g.logprobs;
  if (auto tl = opt_int(body, "top_logprobs", 0, 20)) {
    if (!g.logprobs && *tl > 0)
      fail(400, "top_logprobs requires logprobs: true", "", "top_logprobs");
    g.sampling.top_logprobs = static_cast<int>(*tl);
  }
  return g;
}

// Ollama `options` on top of the model defaults.
GenParams ollama_params(const Json& body, bool thinking) {
  GenParams g;
  g.sampling = qwen_defaults(thinking);
  const Json* opts = member(body, "options");
  if (!opts) return g;
  if (!opts->is_object()) fail(400, "options must be an object");
  const Json& o = *opts;
  if (auto t = opt_number(o, "temperature", 0, 100))
    g.sampling.temperature = static_cast<float>(*t);
  if (auto t = opt_int(o, "top_k", -1, 1 << 20)) g.sampling.top_k = static_cast<int>(*t);
  if (auto t = opt_number(o, "top_p", 0, 1)) g.sampling.top_p = static_cast<float>(*t);
  if (auto t = opt_number(o, "min_p", 0, 1)) g.sampling.min_p = static_cast<float>(*t);
  if (auto t = opt_number(o, "repeat_penalty", 0, 100))
    g.sampling.repeat_penalty = static_cast<float>(*t);
  if (auto t = opt_int(o, "repeat_last_n", -1, 1 << 20))
    g.sampling.repeat_last_n = static_cast<int>(*t < 0 ? 1 << 20 : *t);
  if (auto t = opt_number(o, "presence_penalty", -100, 100))
    g.sampling.presence_penalty = static_cast<float>(*t);
  if (auto t = opt_number(o, "frequency_penalty", -100, 100))
    g.sampling.frequency_penalty = static_cast<float>(*t);
  if (auto s = opt_int(o, "seed", INT64_MIN, INT64_MAX))
    g.sampling.seed = static_cast<uint64_t>(*s);
  if (auto m = opt_int(o, "num_predict", -2, INT64_MAX)) g.max_tokens = *m > 0 ? *m : -1;
  (void)opt_int(o, "num_ctx", 1, INT64_MAX);  // validated; the engine's context is fixed at load
  g.stop = read_stop(o, "stop", 16);
  return g;
}

std::optional<KeepAlive> read_keep_alive(const Json& body) {
  const Json* v = member(body, "keep_alive");
  if (!v) return std::nullopt;
  if (v->is_number()) {
    double s = v->get<double>();
    return s < 0 ? KeepAlive(-1) : KeepAlive(static_cast<int64_t>(std::min(s, 1e12) * 1000));
  }
  if (!v->is_string()) fail(400, "keep_alive must be a duration string or a number of seconds");
  auto parsed = parse_keep_alive(v->get<std::string>());
  if (!parsed.is_ok()) fail(400, parsed.status().message());
  return parsed.value();
}

std::string random_hex(int n) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < n; ++i) s += hex[rng() % 16];
  return s;
}

int64_t unix_now() {
  return static_cast<int64_t>(std::time(nullptr));
}

std::string rfc3339(std::chrono::system_clock::time_point tp) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(ns % 1000000000));
  return buf;
}

int64_t ns_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
}

// ---------------------------------------------------------------- generation jobs

struct ChoiceState {
  explicit ChoiceState(chat::OutputParserOptions o) : out(std::move(o)) {}
  ChoiceOutput out;
  std::string raw_text;  // jobs without a parser (completions, raw generate)
  std::string finish = "stop";
  engine::Usage usage;
  int64_t reasoning_tokens = 0;
  Json logprobs = Json::array();  // OpenAI logprobs.content entries
  size_t logprobs_sent = 0;
  size_t text_offset = 0;  // legacy completions logprobs: bytes of the tokens already reported
  size_t tools_sent = 0;
  bool done = false;
  Status error;
};

struct Job {
  ModelManager::Lease lease;
  std::string model_name;
  std::vector<std::shared_ptr<engine::RequestHandle>> handles;
  std::vector<ChoiceState> choices;
  size_t prompt_tokens = 0;
  bool use_parser = true;
  bool logprobs = false;
  Clock::time_point start, loaded, first_token, end;
  bool have_first_token = false;
  std::string id;
  int64_t created = 0;

  void cancel_all() {
    for (auto& h : handles) h->cancel();
  }
  ~Job() { cancel_all(); }  // a response abandoned at any point stops its generation
};

Json logprob_entry(const tokenizer::Tokenizer& tok, int32_t id, float logprob) {
  const std::string& piece = tok.token_to_piece(id);
  Json bytes = Json::array();
  for (unsigned char c : piece) bytes.push_back(static_cast<int>(c));
  return Json{{"token", piece}, {"logprob", logprob}, {"bytes", bytes}};
}

// Applies one engine event to choice i; returns what became visible.
ChoiceDelta apply_event(Job& job, size_t i, const engine::Event& ev) {
  ChoiceState& c = job.choices[i];
  ChoiceDelta delta;
  auto add_text = [&](const std::string& text) {
    if (text.empty()) return;
    if (job.use_parser) {
      ChoiceDelta d = c.out.feed(text);
      delta.reasoning += d.reasoning;
      delta.content += d.content;
      for (auto& t : d.tool_calls) delta.tool_calls.push_back(std::move(t));
    } else {
      c.raw_text += text;
      delta.content += text;
    }
  };
  if (ev.kind == engine::Event::Kind::kToken) {
    if (!job.have_first_token) {
      job.have_first_token = true;
      job.first_token = Clock::now();
    }
    if (job.use_parser && c.out.in_reasoning()) ++c.reasoning_tokens;
    if (job.logprobs) {
      const auto& tok = *job.lease->tokenizer;
      Json entry = logprob_entry(tok, ev.token, ev.logprob);
      Json top = Json::array();
      for (const auto& t : ev.top_logprobs) top.push_back(logprob_entry(tok, t.token, t.logprob));
      entry["top_logprobs"] = std::move(top);
      c.logprobs.push_back(std::move(entry));
    }
    add_text(ev.text);
    return delta;
  }
  add_text(ev.text);
  if (job.use_parser) {
    ChoiceDelta d = c.out.finish();
    delta.reasoning += d.reasoning;
    delta.content += d.content;
    for (auto& t : d.tool_calls) delta.tool_calls.push_back(std::move(t));
  }
  c.done = true;
  c.usage = ev.usage;
  c.finish = engine::finish_reason_name(ev.finish);
  if (ev.finish == engine::FinishReason::kError) c.error = ev.error;
  return delta;
}

// Reads events of every choice until all finish. on_event(i, event, delta) returns false when
// the client is gone; on_idle() is called when nothing arrived for a while (keep-alives);
// client_alive() (non-streamed responses, which write nothing until the end) is polled a few
// times a second and returning false cancels the generation.
bool drive(Job& job,
           const std::function<bool(size_t, const engine::Event&, const ChoiceDelta&)>& on_event,
           const std::function<bool()>& on_idle,
           const std::function<bool()>& client_alive = nullptr) {
  size_t left = job.handles.size();
  auto wait = left == 1 ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5);
  auto last_activity = Clock::now();
  auto last_alive_check = Clock::now();
  while (left > 0) {
    if (client_alive && Clock::now() - last_alive_check > std::chrono::milliseconds(100)) {
      last_alive_check = Clock::now();
      if (!client_alive()) {
        job.cancel_all();
        return false;
      }
    }
    bool got = false;
    for (size_t i = 0; i < job.handles.size(); ++i) {
      if (job.choices[i].done) continue;
      for (;;) {  // drain what is ready
        auto ev = job.handles[i]->next(got ? std::chrono::milliseconds(0) : wait);
        if (!ev) break;
        got = true;
        ChoiceDelta delta = apply_event(job, i, *ev);
        if (!on_event(i, *ev, delta)) {
          job.cancel_all();
          return false;
        }
        if (job.choices[i].done) {
          --left;
          break;
        }
      }
    }
    auto now = Clock::now();
    if (got) {
      last_activity = now;
    } else if (on_idle && now - last_activity > std::chrono::seconds(5)) {
      last_activity = now;
      if (!on_idle()) {
        job.cancel_all();
        return false;
      }
    }
  }
  job.end = Clock::now();
  return true;
}

// httplib 0.11 gives handlers no access to the connection, so a non-streamed handler finds its
// socket among the process's descriptors by the connection's addresses (a TCP 4-tuple is unique
// while the connection is open, and httplib keeps it open until the handler returns).
int find_client_socket(const httplib::Request& req) {
  if (req.remote_port <= 0 || req.local_port <= 0) return -1;
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int found = -1;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || end == e->d_name) continue;
    sockaddr_storage local{}, peer{};
    socklen_t local_len = sizeof local, peer_len = sizeof peer;
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
        getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0)
      continue;
    auto port_and_host = [](const sockaddr_storage& a, int* port, std::string* host) {
      char buf[INET6_ADDRSTRLEN] = {};
      if (a.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&a);
        *port = ntohs(in->sin_port);
        inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
      } else if (a.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
        *port = ntohs(in6->sin6_port);
        inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
      } else {
        return false;
      }
      *host = buf;
      return true;
    };
    int lport = 0, pport = 0;
    std::string lhost, phost;
    if (!port_and_host(local, &lport, &lhost) || !port_and_host(peer, &pport, &phost)) continue;
    if (lport == req.local_port && pport == req.remote_port && phost == req.remote_addr) {
      found = static_cast<int>(fd);
      break;
    }
  }
  closedir(dir);
  return found;
}

// False once the peer closed the connection (or it failed). A client that only half-closes
// (shutdown(SHUT_WR)) after its request also reads as gone; HTTP clients do not do that.
bool socket_peer_open(int fd) {
  if (fd < 0) return true;  // unknown: assume the client is there
  pollfd p{fd, static_cast<short>(POLLIN | POLLRDHUP), 0};
  if (poll(&p, 1, 0) <= 0) return true;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return false;
  if (p.revents & POLLIN) {  // data (a pipelined request) or EOF
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
  }
  return true;
}

std::function<bool()> client_watch(const httplib::Request& req) {
  int fd = find_client_socket(req);
  if (fd < 0) LOG_WARN("cannot find the client's socket: a disconnect will not cancel");
  return [fd] { return socket_peer_open(fd); };
}

struct Metrics {
  std::mutex mutex;
  std::map<std::pair<std::string, int>, uint64_t> requests;  // (endpoint, status) -> count
  std::atomic<uint64_t> prompt_tokens{0}, generated_tokens{0};
};

}  // namespace

// ---------------------------------------------------------------- Impl

struct Server::Impl {
  Server* self;
  httplib::Server http;
  Metrics metrics;
  std::mutex details_mutex;
  std::map<std::string, std::pair<int64_t, Json>> details_cache;  // path -> (mtime, details)

  explicit Impl(Server* s) : self(s) {}

  ModelManager& models() { return *self->models_; }
  const ServerOptions& opts() { return self->options_; }

  ModelManager::Lease acquire(const std::string& name, std::optional<KeepAlive> keep_alive) {
    auto lease = models().acquire(name, keep_alive);
    if (!lease.is_ok()) {
      const Status& s = lease.status();
      if (s.code() == ErrorCode::kNotFound)
        fail(404, "model '" + name + "' not found", "model_not_found", "model");
      fail(http_status_of(s), s.message());
    }
    return std::move(lease).value();
  }

  std::vector<int32_t> tokenize(const Job& job, const std::string& text, bool parse_special) {
    auto ids = job.lease->tokenizer->encode(text, parse_special);
    if (!ids.is_ok()) fail(400, "cannot tokenize the prompt: " + ids.status().message());
    if (ids.value().empty()) fail(400, "the prompt is empty");
    int64_t ctx = job.lease->engine->context_length();
    if (static_cast<int64_t>(ids.value().size()) >= ctx)
      fail(400,
           str_format("the prompt is %zu tokens but the model's context is %lld tokens; shorten "
                      "the prompt (it is never truncated)",
                      ids.value().size(), static_cast<long long>(ctx)),
           "context_length_exceeded", "messages");
    return std::move(ids).value();
  }

  void submit(Job& job, const std::vector<int32_t>& prompt, const GenParams& g) {
    job.prompt_tokens = prompt.size();
    for (int i = 0; i < g.n; ++i) {
      engine::Request r;
      r.prompt = prompt;
      r.sampling = g.sampling;
      if (r.sampling.seed && i > 0) r.sampling.seed = *r.sampling.seed + static_cast<uint64_t>(i);
      r.max_tokens = g.max_tokens;
      r.stop = g.stop;
      // The test script and the request's own constraint both apply (tests of tool_choice).
      r.make_constraint = combine_constraints(opts().constraint_for_testing, g.make_constraint);
      auto h = job.lease->engine->submit(std::move(r));
      if (!h.is_ok()) {
        job.cancel_all();
        const Status& s = h.status();
        if (s.code() == ErrorCode::kResourceExhausted)
          fail(503, "the server is busy (request queue full); retry later", "queue_full");
        fail_status(s);
      }
      job.handles.push_back(std::move(h).value());
    }
  }

  // A non-streamed request: waits for every choice (cancelling them when the client goes away),
  // counts the tokens, and turns a failed generation into a 500.
  void run_to_completion(Job& job, const httplib::Request& req) {
    if (!drive(
            job, [](size_t, const engine::Event&, const ChoiceDelta&) { return true; }, nullptr,
            client_watch(req)))
      fail(499, "the client closed the connection");
    count_tokens(job);
    for (const ChoiceState& c : job.choices)
      if (c.finish == "error") fail(500, "generation failed: " + c.error.message());
  }

  void count_tokens(const Job& job) {
    uint64_t gen = 0;
    for (const auto& c : job.choices) gen += static_cast<uint64_t>(c.usage.completion_tokens);
    metrics.prompt_tokens += job.prompt_tokens;
    metrics.generated_tokens += gen;
  }

  Json openai_usage(const Job& job) {
    int64_t completion = 0, reasoning = 0, cached = 0;
    for (const auto& c : job.choices) {
      completion += c.usage.completion_tokens;
      reasoning += c.reasoning_tokens;
    }
    if (!job.choices.empty()) cached = job.choices[0].usage.cached_tokens;
    int64_t prompt = static_cast<int64_t>(job.prompt_tokens);
    return Json{{"prompt_tokens", prompt},
                {"completion_tokens", completion},
                {"total_tokens", prompt + completion},
                {"prompt_tokens_details", {{"cached_tokens", cached}}},
                {"completion_tokens_details", {{"reasoning_tokens", reasoning}}}};
  }

  // ---------------------------------------------------------------- OpenAI

  void openai_chat(const httplib::Request& req, httplib::Response& res) {
    Json body = parse_body(req.body);
    std::string model_name = require_string(body, "model");
    const Json* messages = member(body, "messages");
    if (!messages) fail(400, "messages is required", "", "messages");
    if (!messages->is_array()) fail(400, "messages must be an array", "", "messages");
    if (messages->empty()) fail(400, "messages must not be empty", "", "messages");
    JsonSchemaPtr json_schema = check_response_format(body);
    ToolChoice tool_choice = read_tool_choice(body);
    if (const Json* effort = member(body, "reasoning_effort")) {
      static const char* known[] = {"none", "minimal", "low", "medium", "high", "xhigh", "max"};
      bool ok = false;
      if (effort->is_string())
        for (const char* k : known) ok = ok || effort->get<std::string>() == k;
      if (!ok)
        fail(400, "reasoning_effort must be one of none, minimal, low, medium, high, xhigh, max",
             "", "reasoning_effort");
    }
    auto chat = api::chat_request_from_json(body);
    if (!chat.is_ok()) fail(400, chat.status().message());
    GenParams g = openai_params(body, chat.value().enable_thinking);
    bool stream = opt_bool(body, "stream").value_or(false);
    bool include_usage = false;
    if (const Json* so = member(body, "stream_options")) {
      if (!so->is_object()) fail(400, "stream_options must be an object", "", "stream_options");
      include_usage = opt_bool(*so, "include_usage").value_or(false);
    }

    auto job = std::make_shared<Job>();
    job->start = Clock::now();
    job->model_name = model_name;
    job->lease = acquire(model_name, std::nullopt);
    job->loaded = Clock::now();
    auto text = job->lease->chat_template->render(chat.value());
    if (!text.is_ok()) fail(400, text.status().message(), "", "messages");
    std::vector<int32_t> prompt = tokenize(*job, text.value(), /*parse_special=*/true);
    auto parser_options = chat::output_parser_options_for(chat.value());
    for (int i = 0; i < g.n; ++i) job->choices.emplace_back(parser_options);
    job->logprobs = g.logprobs;
    job->id = "chatcmpl-" + random_hex(24);
    job->created = unix_now();
    if (json_schema)
      g.make_constraint = json_constraint_factory(json_schema, job->lease->tokenizer,
                                                  parser_options.reasoning_open);
    apply_tool_choice(tool_choice, *job, parser_options.reasoning_open, g);
    submit(*job, prompt, g);

    if (!stream) {
      run_to_completion(*job, req);
      Json choices = Json::array();
      for (size_t i = 0; i < job->choices.size(); ++i) {
        const ChoiceState& c = job->choices[i];
        choices.push_back(
            {{"index", i},
             {"message", openai_message(c.out)},
             {"logprobs", job->logprobs ? Json{{"content", c.logprobs}} : Json(nullptr)},
             {"finish_reason", openai_finish_reason(c.finish, !c.out.tool_calls().empty())}});
      }
      Json out = {{"id", job->id},
                  {"object", "chat.completion"},
                  {"created", job->created},
                  {"model", model_name},
                  {"system_fingerprint", "fp_hearth"},
                  {"choices", choices},
                  {"usage", openai_usage(*job)}};
      res.set_content(dump_json(out), "application/json");
      return;
    }

    Json chunk_base = {{"id", job->id},
                       {"object", "chat.completion.chunk"},
                       {"created", job->created},
                       {"model", job->model_name},
                       {"system_fingerprint", "fp_hearth"}};
    auto chunk = [chunk_base, include_usage](Json choices) {
      Json c = chunk_base;
      c["choices"] = std::move(choices);
      if (include_usage) c["usage"] = nullptr;
      return c;
    };
    stream_openai(
        res, job, chunk_base, include_usage, [this, job] { return openai_usage(*job); },
        [job, chunk](const SseSend& send) {
          for (size_t i = 0; i < job->choices.size(); ++i) {
            Json first = {{"index", i},
                          {"delta", {{"role", "assistant"}, {"content", ""}}},
                          {"logprobs", nullptr},
                          {"finish_reason", nullptr}};
            if (!send(chunk(Json::array({first})))) return false;
          }
          return true;
        },
        [job, chunk](const SseSend& send, size_t i, const engine::Event& ev,
                     const ChoiceDelta& delta) {
          ChoiceState& c = job->choices[i];
          bool finished = ev.kind == engine::Event::Kind::kFinished;
          Json lp = nullptr;
          if (job->logprobs && c.logprobs.size() > c.logprobs_sent &&
              (!delta.empty() || finished)) {
            Json content = Json::array();
            for (size_t k = c.logprobs_sent; k < c.logprobs.size(); ++k)
              content.push_back(c.logprobs[k]);
            c.logprobs_sent = c.logprobs.size();
            lp = Json{{"content", content}};
          }
          if (!delta.empty()) {
            Json d = openai_delta(delta, c.tools_sent);
            c.tools_sent += delta.tool_calls.size();
            if (!send(chunk(Json::array(
                    {{{"index", i}, {"delta", d}, {"logprobs", lp}, {"finish_reason", nullptr}}}))))
              return false;
            lp = nullptr;
          }
          if (finished) {
            std::string reason = openai_finish_reason(c.finish, !c.out.tool_calls().empty());
            if (!send(chunk(Json::array({{{"index", i},
                                          {"delta", Json::object()},
                                          {"logprobs", lp},
                                          {"finish_reason", reason}}}))))
              return false;
          }
          return true;
        });
  }

  using SseSend = std::function<bool(const Json&)>;

  // The SSE response shared by the OpenAI chat and completion streams: `opening` writes the
  // first chunks, `emit` turns each engine event of choice i into chunks; a failed generation
  // becomes an error event, idle periods get keep-alive comments, and the stream ends with the
  // usage chunk (when asked for) and [DONE]. A client that goes away cancels the generation.
  void stream_openai(
      httplib::Response& res, std::shared_ptr<Job> job, Json chunk_base, bool include_usage,
      std::function<Json()> usage, std::function<bool(const SseSend&)> opening,
      std::function<bool(const SseSend&, size_t, const engine::Event&, const ChoiceDelta&)> emit) {
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, job, chunk_base, include_usage, usage, opening, emit](size_t,
                                                                     httplib::DataSink& sink) {
          SseSend send = [&sink](const Json& j) {
            std::string s = "data: " + dump_json(j) + "\n\n";
            return sink.write(s.data(), s.size());
          };
          if (opening && !opening(send)) return false;
          bool ok = drive(
              *job,
              [&](size_t i, const engine::Event& ev, const ChoiceDelta& delta) {
                const ChoiceState& c = job->choices[i];
                if (ev.kind == engine::Event::Kind::kFinished && c.finish == "error")
                  return send(
                      openai_error_json(ApiError{500, "generation failed: " + c.error.message()}));
                return emit(send, i, ev, delta);
              },
              [&] {
                static const char kKeepAlive[] = ": keep-alive\n\n";
                return sink.write(kKeepAlive, sizeof kKeepAlive - 1);
              });
          if (!ok) return false;
          count_tokens(*job);
          if (include_usage) {
            Json u = chunk_base;
            u["choices"] = Json::array();
            u["usage"] = usage();
            if (!send(u)) return false;
          }
          static const char kDone[] = "data: [DONE]\n\n";
          if (!sink.write(kDone, sizeof kDone - 1)) return false;
          sink.done();
          return true;
        },
        [job](bool) { job->cancel_all(); });
  }

  // Legacy completions logprobs of a choice's entries [from, end); text offsets continue from
  // the choice's text_offset.
  static Json legacy_logprobs(ChoiceState& c, size_t from) {
    Json tokens = Json::array(), token_logprobs = Json::array(), top = Json::array(),
         offsets = Json::array();
    for (size_t k = from; k < c.logprobs.size(); ++k) {
      const Json& e = c.logprobs[k];
      tokens.push_back(e["token"]);
      token_logprobs.push_back(e["logprob"]);
      Json alternatives = Json::object();
      for (const auto& t : e["top_logprobs"])
        alternatives[t["token"].get<std::string>()] = t["logprob"];
      top.push_back(std::move(alternatives));
      offsets.push_back(c.text_offset);
      c.text_offset += e["token"].get<std::string>().size();
    }
    c.logprobs_sent = c.logprobs.size();
    return Json{{"tokens", tokens},
                {"token_logprobs", token_logprobs},
                {"top_logprobs", top},
                {"text_offset", offsets}};
  }

  static ToolChoice read_tool_choice(const Json& body) {
    auto choice =
        parse_tool_choice(member(body, "tool_choice"), tool_function_names(member(body, "tools")));
    if (!choice.is_ok()) fail(400, choice.status().message(), "", "tool_choice");
    return choice.value();
  }

  // Adds the tool_choice constraint to `g` (after any response_format constraint was set).
  static void apply_tool_choice(const ToolChoice& choice, const Job& job, bool thinking,
                                GenParams& g) {
    if (choice.mode == ToolChoice::Mode::kAuto) return;
    if (choice.forces_call() && g.make_constraint)
      fail(400, "tool_choice required cannot be combined with response_format", "", "tool_choice");
    auto factory = tool_choice_constraint(choice, *job.lease->tokenizer, thinking);
    if (!factory.is_ok()) fail(400, factory.status().message(), "", "tool_choice");
    g.make_constraint = combine_constraints(std::move(g.make_constraint), factory.value());
  }

  // The compiled schema of response_format json_object/json_schema (null: free text).
  static JsonSchemaPtr check_response_format(const Json& body) {
    auto schema = parse_response_format(member(body, "response_format"));
    if (!schema.is_ok()) fail(400, schema.status().message(), "", "response_format");
    return schema.value();
  }

  void openai_completions(const httplib::Request& req, httplib::Response& res) {
    Json body = parse_body(req.body);
    std::string model_name = require_string(body, "model");
    const Json* p = member(body, "prompt");
    if (!p) fail(400, "prompt is required", "", "prompt");
    std::string prompt_text;
    if (p->is_string()) {
      prompt_text = p->get<std::string>();
    } else if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
      prompt_text = (*p)[0].get<std::string>();
    } else {
      fail(400, "prompt must be a string (batched prompts are not supported)", "", "prompt");
    }
    // Legacy logprobs: an integer 0..5 (alternatives per token), not the chat API's boolean.
    Json params_body = body;
    int legacy_top = -1;  // -1: no logprobs
    if (const Json* lp = member(body, "logprobs")) {
      if (lp->is_boolean())
        legacy_top = lp->get<bool>() ? 0 : -1;
      else
        legacy_top = static_cast<int>(*opt_int(body, "logprobs", 0, 5));
      params_body.erase("logprobs");
    }
    JsonSchemaPtr json_schema = check_response_format(body);
    GenParams g = openai_params(params_body, false);
    if (legacy_top >= 0) {
      g.logprobs = true;
      g.sampling.logprobs = true;
      g.sampling.top_logprobs = legacy_top;
    }
    if (!member(body, "max_tokens")) g.max_tokens = 16;  // the OpenAI default for completions
    bool stream = opt_bool(body, "stream").value_or(false);
    bool include_usage = false;
    if (const Json* so = member(body, "stream_options"); so && so->is_object())
      include_usage = opt_bool(*so, "include_usage").value_or(false);

    auto job = std::make_shared<Job>();
    job->start = Clock::now();
    job->model_name = model_name;
    job->use_parser = false;
    job->lease = acquire(model_name, std::nullopt);
    job->loaded = Clock::now();
    std::vector<int32_t> prompt = tokenize(*job, prompt_text, /*parse_special=*/true);
    for (int i = 0; i < g.n; ++i) job->choices.emplace_back(chat::OutputParserOptions{});
    job->logprobs = g.logprobs;
    job->id = "cmpl-" + random_hex(24);
    job->created = unix_now();
    if (json_schema)
      g.make_constraint = json_constraint_factory(json_schema, job->lease->tokenizer, false);
    submit(*job, prompt, g);

    auto usage = [this, job] {
      Json u = openai_usage(*job);
      u.erase("completion_tokens_details");
      return u;
    };
    if (!stream) {
      run_to_completion(*job, req);
      Json choices = Json::array();
      for (size_t i = 0; i < job->choices.size(); ++i) {
        const ChoiceState& c = job->choices[i];
        choices.push_back(
            {{"text", c.raw_text},
             {"index", i},
             {"logprobs", job->logprobs ? legacy_logprobs(job->choices[i], 0) : Json(nullptr)},
             {"finish_reason", openai_finish_reason(c.finish, false)}});
      }
      Json out = {{"id", job->id},       {"object", "text_completion"}, {"created", job->created},
                  {"model", model_name}, {"choices", choices},          {"usage", usage()}};
      res.set_content(dump_json(out), "application/json");
      return;
    }
    Json chunk_base = {{"id", job->id},
                       {"object", "text_completion"},
                       {"created", job->created},
                       {"model", job->model_name}};
    stream_openai(
        res, job, chunk_base, include_usage, usage, nullptr,
        [job, chunk_base, include_usage](const SseSend& send, size_t i, const engine::Event& ev,
                                         const ChoiceDelta& delta) {
          ChoiceState& c = job->choices[i];
          bool finished = ev.kind == engine::Event::Kind::kFinished;
          auto chunk = [&](const std::string& text, Json finish) {
            Json lp = nullptr;
            if (job->logprobs && c.logprobs.size() > c.logprobs_sent)
              lp = legacy_logprobs(c, c.logprobs_sent);
            Json out = chunk_base;
            out["choices"] = Json::array(
                {{{"text", text}, {"index", i}, {"logprobs", lp}, {"finish_reason", finish}}});
            if (include_usage) out["usage"] = nullptr;
            return out;
          };
          if (!delta.content.empty() && !send(chunk(delta.content, nullptr))) return false;
          if (finished && !send(chunk("", openai_finish_reason(c.finish, false)))) return false;
          return true;
        });
  }

  std::vector<ModelListing> listings() {
    return opts().list_models ? opts().list_models() : std::vector<ModelListing>{};
  }

  void openai_models(const httplib::Request&, httplib::Response& res) {
    Json data = Json::array();
    for (const auto& m : listings())
      data.push_back({{"id", m.name},
                      {"object", "model"},
                      {"created", m.modified_unix},
                      {"owned_by", "library"}});
    res.set_content(dump_json(Json{{"object", "list"}, {"data", data}}), "application/json");
  }

  void openai_model(const httplib::Request& req, httplib::Response& res) {
    std::string id = req.matches.size() > 1 ? req.matches[1].str() : "";
    for (const auto& m : listings()) {
      if (m.name != id) continue;
      res.set_content(dump_json(Json{{"id", m.name},
                                     {"object", "model"},
                                     {"created", m.modified_unix},
                                     {"owned_by", "library"}}),
                      "application/json");
      return;
    }
    auto path = opts().resolve_model(id);
    if (!path.is_ok()) fail(404, "model '" + id + "' not found", "model_not_found", "model");
    res.set_content(
        dump_json(Json{
            {"id", id}, {"object", "model"}, {"created", unix_now()}, {"owned_by", "library"}}),
        "application/json");
  }

  // ---------------------------------------------------------------- Ollama

  static std::optional<bool> read_think(const Json& body) {
    const Json* t = member(body, "think");
    if (!t) return std::nullopt;
    if (t->is_boolean()) return t->get<bool>();
    if (t->is_string()) {
      std::string s = t->get<std::string>();
      if (s == "low" || s == "medium" || s == "high" || s == "max") return true;
    }
    fail(400, "think must be a boolean or one of \"low\", \"medium\", \"high\", \"max\"");
  }

  static void reject_unsupported_ollama(const Json& body) {
    if (const Json* im = member(body, "images"); im && !(im->is_array() && im->empty()))
      fail(400, "images are not supported by this server");
  }

  void ollama_generate_common(const httplib::Request& req, httplib::Response& res, bool is_chat) {
    Json body = parse_body(req.body);
    std::string model_name = require_string(body, "model");
    reject_unsupported_ollama(body);
    auto format_schema = parse_ollama_format(member(body, "format"));
    if (!format_schema.is_ok()) fail(400, format_schema.status().message());
    JsonSchemaPtr json_schema = format_schema.value();
    std::optional<bool> think = read_think(body);
    std::optional<KeepAlive> keep_alive = read_keep_alive(body);
    bool stream = opt_bool(body, "stream").value_or(true);

    chat::ChatRequest chat;
    std::string raw_prompt;
    bool raw = false;
    if (is_chat) {
      const Json* messages = member(body, "messages");
      if (messages && !messages->is_array()) fail(400, "messages must be an array");
      if (!messages || messages->empty()) {
        return ollama_load_only(model_name, keep_alive, res, true);
      }
      Json converted = Json::object();
      converted["messages"] = Json::array();
      for (const auto& m : *messages) {
        if (!m.is_object()) fail(400, "each message must be an object");
        if (const Json* im = member(m, "images"); im && !(im->is_array() && im->empty()))
          fail(400, "images are not supported by this server");
        Json c = m;
        if (c.contains("thinking")) {
          c["reasoning_content"] = c["thinking"];
          c.erase("thinking");
        }
        if (c.contains("tool_name")) {
          c["name"] = c["tool_name"];
          c.erase("tool_name");
        }
        c.erase("images");
        converted["messages"].push_back(std::move(c));
      }
      if (const Json* tools = member(body, "tools")) converted["tools"] = *tools;
      if (think) converted["chat_template_kwargs"] = {{"enable_thinking", *think}};
      auto parsed = api::chat_request_from_json(converted);
      if (!parsed.is_ok()) fail(400, parsed.status().message());
      chat = std::move(parsed).value();
    } else {
      const Json* p = member(body, "prompt");
      if (p && !p->is_string()) fail(400, "prompt must be a string");
      std::string prompt = p ? p->get<std::string>() : "";
      if (prompt.empty()) return ollama_load_only(model_name, keep_alive, res, false);
      raw = opt_bool(body, "raw").value_or(false);
      if (raw) {
        raw_prompt = prompt;
      } else {
        if (const Json* sys = member(body, "system")) {
          if (!sys->is_string()) fail(400, "system must be a string");
          chat::Message m;
          m.role = "system";
          m.content = chat::MessageContent::from_text(sys->get<std::string>());
          chat.messages.push_back(std::move(m));
        }
        chat::Message m;
        m.role = "user";
        m.content = chat::MessageContent::from_text(prompt);
        chat.messages.push_back(std::move(m));
        if (think) chat.enable_thinking = *think;
      }
    }
    GenParams g = ollama_params(body, raw ? false : chat.enable_thinking);

    auto job = std::make_shared<Job>();
    job->start = Clock::now();
    job->model_name = model_name;
    job->lease = acquire(model_name, keep_alive);
    job->loaded = Clock::now();
    std::vector<int32_t> prompt;
    if (raw) {
      job->use_parser = false;
      prompt = tokenize(*job, raw_prompt, true);
      job->choices.emplace_back(chat::OutputParserOptions{});
    } else {
      auto text = job->lease->chat_template->render(chat);
      if (!text.is_ok()) fail(400, text.status().message());
      prompt = tokenize(*job, text.value(), true);
      job->choices.emplace_back(chat::output_parser_options_for(chat));
    }
    if (json_schema)
      g.make_constraint = json_constraint_factory(
          json_schema, job->lease->tokenizer,
          !raw && chat::output_parser_options_for(chat).reasoning_open);
    submit(*job, prompt, g);

    auto final_fields = [job](Json& j) {
      const ChoiceState& c = job->choices[0];
      auto first = job->have_first_token ? job->first_token : job->end;
      j["done_reason"] = c.finish == "length" ? "length" : "stop";
      j["total_duration"] = ns_between(job->start, job->end);
      j["load_duration"] = ns_between(job->start, job->loaded);
      j["prompt_eval_count"] = job->prompt_tokens;
      j["prompt_eval_duration"] = ns_between(job->loaded, first);
      j["eval_count"] = c.usage.completion_tokens;
      j["eval_duration"] = ns_between(first, job->end);
    };
    auto line = [job, is_chat](const std::string& reasoning, const std::string& content,
                               const std::vector<ToolCallOut>& calls, bool done) {
      Json j = {{"model", job->model_name},
                {"created_at", rfc3339(std::chrono::system_clock::now())}};
      if (is_chat) {
        j["message"] = ollama_message(reasoning, content, calls);
      } else {
        j["response"] = content;
        if (!reasoning.empty()) j["thinking"] = reasoning;
      }
      j["done"] = done;
      return j;
    };

    if (!stream) {
      run_to_completion(*job, req);
      const ChoiceState& c = job->choices[0];
      Json j = job->use_parser ? line(c.out.reasoning(), c.out.content(), c.out.tool_calls(), true)
                               : line("", c.raw_text, {}, true);
      final_fields(j);
      res.set_content(dump_json(j), "application/json");
      return;
    }
    res.set_chunked_content_provider(
        "application/x-ndjson",
        [this, job, line, final_fields](size_t, httplib::DataSink& sink) {
          auto send = [&sink](const Json& j) {
            std::string s = dump_json(j) + "\n";
            return sink.write(s.data(), s.size());
          };
          bool ok = drive(
              *job,
              [&](size_t, const engine::Event& ev, const ChoiceDelta& delta) {
                const ChoiceState& c = job->choices[0];
                if (ev.kind == engine::Event::Kind::kFinished && c.finish == "error")
                  return send(Json{{"error", "generation failed: " + c.error.message()}});
                if (delta.empty()) return true;
                return send(line(delta.reasoning, delta.content, delta.tool_calls, false));
              },
              nullptr);
          if (!ok) return false;
          count_tokens(*job);
          if (job->choices[0].finish != "error") {
            Json j = line("", "", {}, true);
            final_fields(j);
            if (!send(j)) return false;
          }
          sink.done();
          return true;
        },
        [job](bool) { job->cancel_all(); });
  }

  // Empty prompt / messages: load (or, with keep_alive 0, unload) and answer at once.
  void ollama_load_only(const std::string& model_name, std::optional<KeepAlive> keep_alive,
                        httplib::Response& res, bool is_chat) {
    Json j = {{"model", model_name}, {"created_at", rfc3339(std::chrono::system_clock::now())}};
    if (is_chat)
      j["message"] = {{"role", "assistant"}, {"content", ""}};
    else
      j["response"] = "";
    j["done"] = true;
    if (keep_alive && keep_alive->count() == 0) {
      models().unload(model_name);
      j["done_reason"] = "unload";
    } else {
      ModelManager::Lease lease = acquire(model_name, keep_alive);
      j["done_reason"] = "load";
    }
    res.set_content(dump_json(j), "application/json");
  }

  // Ollama's `details`, read from the GGUF header once per file (cached by path and mtime).
  Json model_details(const std::string& path) {
    struct stat st {};
    int64_t mtime = ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtime) : 0;
    {
      std::lock_guard<std::mutex> lock(details_mutex);
      auto it = details_cache.find(path);
      if (it != details_cache.end() && it->second.first == mtime) return it->second.second;
    }
    Json d = {{"parent_model", ""},   {"format", "gguf"},
              {"family", "qwen35"},   {"families", Json::array({"qwen35"})},
              {"parameter_size", ""}, {"quantization_level", ""}};
    auto file = gguf::GgufFile::open(path);
    if (file.is_ok()) {
      if (auto arch = file->get_string("general.architecture"); arch.is_ok()) {
        d["family"] = arch.value();
        d["families"] = Json::array({arch.value()});
      }
      uint64_t params = 0;
      for (const auto& t : file->tensors()) params += t.n_elements;
      d["parameter_size"] = parameter_size_label(params);
      if (auto ft = file->get_u64("general.file_type"); ft.is_ok())
        d["quantization_level"] = store::gguf_file_type_name(ft.value());
    }
    std::lock_guard<std::mutex> lock(details_mutex);
    details_cache[path] = {mtime, d};
    return d;
  }

  // Ollama's model digest ("sha256:<hex>" of the manifest, whose first 12 hex are the ID that
  // `hearth list` shows) when `path` is the weights blob of `name` in a model store
  // (<root>/blobs/sha256-<hex>); empty for models served from other files. Reads one small file.
  static std::string store_model_digest(const std::string& name, const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos || path.compare(slash + 1, 7, "sha256-") != 0) return "";
    std::string blobs_dir = path.substr(0, slash);
    size_t parent = blobs_dir.rfind('/');
    if (parent == std::string::npos || blobs_dir.substr(parent + 1) != "blobs") return "";
    auto parsed = store::parse_model_name(name);
    if (!parsed.is_ok() || parsed->kind == store::ModelName::Kind::kLocalFile) return "";
    store::ModelStore model_store(blobs_dir.substr(0, parent));
    auto bytes = store::read_small_file(model_store.manifest_path(*parsed), size_t{1} << 20);
    if (!bytes.is_ok()) return "";
    auto manifest = store::parse_manifest(*bytes);
    if (!manifest.is_ok()) return "";
    const store::ManifestLayer* layer = manifest->model_layer();
    if (!layer || model_store.blob_path(layer->digest) != path) return "";
    return "sha256:" + store::sha256_hex(*bytes);
  }

  // Ollama's parameter_size form: "751.63M", "9.0B".
  static std::string parameter_size_label(uint64_t n) {
    if (n >= 1000000000ull) return str_format("%.1fB", static_cast<double>(n) / 1e9);
    if (n >= 1000000ull) return str_format("%.2fM", static_cast<double>(n) / 1e6);
    return str_format("%.2fK", static_cast<double>(n) / 1e3);
  }

  void ollama_tags(const httplib::Request&, httplib::Response& res) {
    Json models = Json::array();
    for (const auto& m : listings()) {
      models.push_back({{"name", m.name},
                        {"model", m.name},
                        {"modified_at", rfc3339(std::chrono::system_clock::from_time_t(
                                            static_cast<std::time_t>(m.modified_unix)))},
                        {"size", m.size_bytes},
                        {"digest", store_model_digest(m.name, m.path)},
                        {"details", model_details(m.path)}});
    }
    res.set_content(dump_json(Json{{"models", models}}), "application/json");
  }

  void ollama_show(const httplib::Request& req, httplib::Response& res) {
    Json body = parse_body(req.body);
    std::string name;
    if (member(body, "model"))
      name = require_string(body, "model");
    else
      name = require_string(body, "name");
    ModelManager::Lease lease = acquire(name, std::nullopt);
    const auto& hp = lease->model->hparams();
    std::string arch = hp.arch == model::Arch::kQwen35 ? "qwen35" : "qwen35moe";
    Json info = {{"general.architecture", arch},
                 {arch + ".context_length", hp.context_length},
                 {arch + ".block_count", hp.n_block},
                 {arch + ".embedding_length", hp.n_embd},
                 {"hearth.served_context_length", lease->engine->context_length()}};
    Json out = {{"modelfile", ""},
                {"parameters", "temperature 1\ntop_k 20\ntop_p 0.95\npresence_penalty 1.5"},
                {"template", lease->tokenizer->chat_template()},
                {"details", model_details(lease->path)},
                {"model_info", info},
                {"capabilities", Json::array({"completion", "tools", "thinking"})},
                {"modified_at", rfc3339(std::chrono::system_clock::now())}};
    res.set_content(dump_json(out), "application/json");
  }

  void ollama_ps(const httplib::Request&, httplib::Response& res) {
    Json models = Json::array();
    for (const auto& m : self->models_->loaded()) {
      auto expires = m.forever
                         ? std::chrono::system_clock::now() + std::chrono::hours(24 * 365 * 100)
                         : m.expires_at;
      models.push_back({{"name", m.name},
                        {"model", m.name},
                        {"size", m.memory_bytes},
                        {"digest", store_model_digest(m.name, m.path)},
                        {"details", model_details(m.path)},
                        {"expires_at", rfc3339(expires)},
                        {"size_vram", 0},
                        {"context_length", m.context_length}});
    }
    res.set_content(dump_json(Json{{"models", models}}), "application/json");
  }

  void ollama_delete(const httplib::Request& req, httplib::Response& res) {
    Json body = parse_body(req.body);
    std::string name =
        member(body, "model") ? require_string(body, "model") : require_string(body, "name");
    models().unload(name);
    Status s = opts().delete_model(name);
    if (!s.is_ok()) {
      if (s.code() == ErrorCode::kNotFound) fail(404, "model '" + name + "' not found");
      fail_status(s);
    }
    res.status = 200;
  }

  // ---------------------------------------------------------------- pull

  // A pull running on its own thread; the HTTP thread reads its progress. Destroying it (when
  // the response is done or abandoned) cancels the pull and waits for it.
  struct PullJob {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<PullUpdate> updates;  // not yet sent
    bool finished = false;
    Status result;
    std::atomic<bool> cancelled{false};
    std::thread thread;

    void push(const PullUpdate& u) {
      std::lock_guard<std::mutex> lock(mutex);
      // Byte counts arrive far faster than a client needs them: keep the newest per step.
      if (!updates.empty() && updates.back().status == u.status &&
          updates.back().digest == u.digest)
        updates.back() = u;
      else
        updates.push_back(u);
      changed.notify_all();
    }
    ~PullJob() {
      cancelled = true;
      if (thread.joinable()) thread.join();
    }
  };

  static Json pull_line(const PullUpdate& u) {
    Json j = {{"status", u.status}};
    if (!u.digest.empty()) {
      j["digest"] = u.digest;
      j["total"] = u.total;
      j["completed"] = u.completed;
    }
    return j;
  }

  [[noreturn]] static void fail_pull(const std::string& name, const Status& s) {
    if (s.code() == ErrorCode::kNotFound) fail(404, s.message());
    if (s.code() == ErrorCode::kCancelled) fail(499, "pull of '" + name + "' cancelled");
    fail(http_status_of(s), "pull of '" + name + "' failed: " + s.message());
  }

  void ollama_pull(const httplib::Request& req, httplib::Response& res) {
    Json body = parse_body(req.body);
    std::string name =
        member(body, "model") ? require_string(body, "model") : require_string(body, "name");
    bool stream = opt_bool(body, "stream").value_or(true);
    (void)opt_bool(body, "insecure");  // validated; TLS is always verified

    auto job = std::make_shared<PullJob>();
    PullJob* raw = job.get();  // outlives the thread: ~PullJob joins it
    job->thread = std::thread([raw, pull = opts().pull_model, name] {
      Status s = pull(
          name, [raw](const PullUpdate& u) { raw->push(u); },
          [raw] { return raw->cancelled.load(); });
      std::lock_guard<std::mutex> lock(raw->mutex);
      raw->result = s;
      raw->finished = true;
      raw->changed.notify_all();
    });

    if (!stream) {
      std::function<bool()> alive = client_watch(req);
      std::unique_lock<std::mutex> lock(job->mutex);
      while (!job->changed.wait_for(lock, std::chrono::milliseconds(200),
                                    [&] { return job->finished; })) {
        if (!alive()) {
          job->cancelled = true;
          lock.unlock();
          fail(499, "the client closed the connection");
        }
      }
      if (!job->result.is_ok()) fail_pull(name, job->result);
      res.set_content(dump_json(Json{{"status", "success"}}), "application/json");
      return;
    }
    // The status line is only sent once the pull got past its manifest, so an unknown model or
    // an unreachable registry still answers with an error status, not a 200 with an error line.
    {
      std::unique_lock<std::mutex> lock(job->mutex);
      job->changed.wait(lock, [&] {
        if (job->finished) return true;
        for (const auto& u : job->updates)
          if (u.status != "pulling manifest") return true;
        return false;
      });
      if (job->finished && !job->result.is_ok()) fail_pull(name, job->result);
    }
    res.set_chunked_content_provider(
        "application/x-ndjson",
        [job, name](size_t, httplib::DataSink& sink) {
          std::string last_status;
          for (;;) {
            std::deque<PullUpdate> batch;
            bool finished = false;
            Status result;
            {
              std::unique_lock<std::mutex> lock(job->mutex);
              job->changed.wait_for(lock, std::chrono::milliseconds(500),
                                    [&] { return job->finished || !job->updates.empty(); });
              batch.swap(job->updates);
              finished = job->finished;
              result = job->result;
            }
            for (const auto& u : batch) {
              std::string line = dump_json(pull_line(u)) + "\n";
              if (!sink.write(line.data(), line.size())) {
                job->cancelled = true;
                return false;
              }
              last_status = u.status;
            }
            if (!finished) {
              if (!sink.is_writable()) {
                job->cancelled = true;
                return false;
              }
              continue;
            }
            std::string tail;
            if (!result.is_ok())
              tail =
                  dump_json(Json{{"error", "pull of '" + name + "' failed: " + result.message()}});
            else if (last_status != "success")
              tail = dump_json(Json{{"status", "success"}});
            if (!tail.empty()) {
              tail += "\n";
              if (!sink.write(tail.data(), tail.size())) return false;
            }
            sink.done();
            return true;
          }
        },
        [job](bool) { job->cancelled = true; });
  }

  // ---------------------------------------------------------------- metrics

  void metrics_page(const httplib::Request&, httplib::Response& res) {
    std::string out;
    out += "# HELP hearth_requests_total HTTP requests by endpoint and status.\n";
    out += "# TYPE hearth_requests_total counter\n";
    {
      std::lock_guard<std::mutex> lock(metrics.mutex);
      for (const auto& [key, count] : metrics.requests)
        out += str_format("hearth_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n",
                          key.first.c_str(), key.second, static_cast<unsigned long long>(count));
    }
    engine::EngineStats s = self->models_->engine_stats();
    auto gauge = [&out](const char* name, const char* type, const char* help, double v) {
      out += str_format("# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
    };
    gauge("hearth_prompt_tokens_total", "counter", "Prompt tokens of finished requests.",
          static_cast<double>(metrics.prompt_tokens.load()));
    gauge("hearth_generated_tokens_total", "counter", "Generated tokens of finished requests.",
          static_cast<double>(metrics.generated_tokens.load()));
    gauge("hearth_queue_depth", "gauge", "Requests waiting for a sequence slot.", s.waiting);
    gauge("hearth_running_sequences", "gauge", "Sequences being decoded.", s.running);
    gauge("hearth_prefix_cache_hits_total", "counter", "Prompts that reused a cached prefix.",
          static_cast<double>(s.prefix_hits));
    gauge("hearth_prefix_cache_misses_total", "counter", "Prompts with no cached prefix.",
          static_cast<double>(s.prefix_misses));
    gauge("hearth_prompt_tokens_cached_total", "counter", "Prompt tokens taken from the cache.",
          static_cast<double>(s.prompt_tokens_cached));
    gauge("hearth_loaded_models", "gauge", "Models loaded now.",
          static_cast<double>(self->models_->loaded().size()));
    res.set_content(out, "text/plain; version=0.0.4");
  }

  static std::string endpoint_label(const std::string& path) {
    static const char* known[] = {"/v1/chat/completions",
                                  "/v1/completions",
                                  "/v1/models",
                                  "/api/chat",
                                  "/api/generate",
                                  "/api/tags",
                                  "/api/show",
                                  "/api/ps",
                                  "/api/version",
                                  "/api/delete",
                                  "/api/pull",
                                  "/health",
                                  "/metrics",
                                  "/"};
    for (const char* k : known)
      if (path == k) return k;
    if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
    return "other";
  }

  // ---------------------------------------------------------------- wiring

  template <typename Fn>
  httplib::Server::Handler guarded(Fn fn) {
    return [this, fn](const httplib::Request& req, httplib::Response& res) {
      Dialect d = dialect_of(req.path);
      try {
        (this->*fn)(req, res);
      } catch (const ApiError& e) {
        send_error(res, d, e);
      } catch (const std::exception& e) {
        LOG_ERROR("internal error on %s: %s", req.path.c_str(), e.what());
        send_error(res, d, {500, std::string("internal error: ") + e.what()});
      } catch (...) {
        send_error(res, d, {500, "internal error"});
      }
    };
  }

  void setup() {
    http.new_task_queue = [n = opts().http_threads] {
      return new httplib::ThreadPool(static_cast<size_t>(std::max(2, n)));
    };
    http.set_payload_max_length(opts().max_body_bytes);
    http.set_read_timeout(600);
    http.set_write_timeout(600);
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (opts().api_key.empty() || req.path == "/" || req.path == "/health")
        return httplib::Server::HandlerResponse::Unhandled;
      std::string auth = req.get_header_value("Authorization");
      if (auth == "Bearer " + opts().api_key) return httplib::Server::HandlerResponse::Unhandled;
      send_error(
          res, dialect_of(req.path),
          {401, "invalid or missing API key (Authorization: Bearer <key>)", "invalid_api_key"});
      return httplib::Server::HandlerResponse::Handled;
    });
    http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty() || req.method == "HEAD") return;
      std::string msg;
      if (res.status == 413)
        msg = "request body too large";
      else if (res.status == 404)
        msg = "no such endpoint: " + req.method + " " + req.path;
      else
        msg = str_format("HTTP error %d", res.status);
      send_error(res, dialect_of(req.path), {res.status, msg});
    });
    http.set_exception_handler(
        [](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
          send_error(res, dialect_of(req.path), {500, "internal error"});
        });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      std::lock_guard<std::mutex> lock(metrics.mutex);
      ++metrics.requests[{endpoint_label(req.path), res.status}];
    });

    http.Post("/v1/chat/completions", guarded(&Impl::openai_chat));
    http.Post("/chat/completions", guarded(&Impl::openai_chat));
    http.Post("/v1/completions", guarded(&Impl::openai_completions));
    http.Get("/v1/models", guarded(&Impl::openai_models));
    http.Get(R"(/v1/models/(.+))", guarded(&Impl::openai_model));
    http.Post("/api/chat", guarded(&Impl::ollama_chat));
    http.Post("/api/generate", guarded(&Impl::ollama_generate));
    http.Get("/api/tags", guarded(&Impl::ollama_tags));
    http.Post("/api/show", guarded(&Impl::ollama_show));
    http.Get("/api/ps", guarded(&Impl::ollama_ps));
    if (opts().delete_model) http.Delete("/api/delete", guarded(&Impl::ollama_delete));
    if (opts().pull_model) http.Post("/api/pull", guarded(&Impl::ollama_pull));
    http.Get("/api/version", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"version":"0.1.0"})", "application/json");
    });
    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hearth is running", "text/plain");
    });
    http.Get("/health", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"status":"ok"})", "application/json");
    });
    http.Get("/metrics", guarded(&Impl::metrics_page));
  }

  void ollama_chat(const httplib::Request& req, httplib::Response& res) {
    ollama_generate_common(req, res, true);
  }
  void ollama_generate(const httplib::Request& req, httplib::Response& res) {
    ollama_generate_common(req, res, false);
  }
};

// ---------------------------------------------------------------- Server

Server::Server(ServerOptions options)
    : options_(std::move(options)),
      models_(std::make_unique<ModelManager>(options_.resolve_model, options_.engine,
                                             options_.keep_alive)),
      impl_(std::make_unique<Impl>(this)) {
  impl_->setup();
}

Server::~Server() {
  stop();
  impl_.reset();
  models_.reset();
}

Status Server::bind() {
  if (bound_port_ > 0) return Status::ok();
  if (!options_.resolve_model) return invalid_argument_error("server: no model resolver");
  if (options_.port == 0) {
    int p = impl_->http.bind_to_any_port(options_.host);
    if (p <= 0) return io_error("cannot bind to " + options_.host);
    bound_port_ = p;
  } else {
    if (!impl_->http.bind_to_port(options_.host, options_.port))
      return io_error(
          str_format("cannot bind to %s:%d (in use?)", options_.host.c_str(), options_.port));
    bound_port_ = options_.port;
  }
  return Status::ok();
}

Status Server::serve() {
  HEARTH_RETURN_IF_ERROR(bind());
  LOG_INFO("hearth serving on http://%s:%d", options_.host.c_str(), bound_port_);
  if (!impl_->http.listen_after_bind()) return io_error("the HTTP server stopped with an error");
  return Status::ok();
}

Status Server::start() {
  HEARTH_RETURN_IF_ERROR(bind());
  thread_ = std::thread([this] { (void)serve(); });
  for (int i = 0; i < 2000 && !impl_->http.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return Status::ok();
}

void Server::stop() {
  if (impl_) impl_->http.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace hearth::server
