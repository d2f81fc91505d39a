// `hearth version` (version, git commit of the build, kernel ISA in use) and `hearth ps` (the
// models loaded in a running `hearth serve`, from GET /api/ps, in Ollama's column layout).
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/cpu_features.h"
#include "cli/commands.h"
#include "cli/version_info.h"
#include "kernels/kernels.h"
#include "server/server.h"
#include "store/http.h"
#include "store/model_store.h"

namespace hearth::cli {

std::string version_line() {
  std::string line = std::string("hearth ") + kHearthVersion;
  if (kHearthGitCommit[0] != '\0') line += std::string(" (") + kHearthGitCommit + ")";
  return line;
}

namespace {

void print_version() {
  std::printf("%s\n", version_line().c_str());
  std::printf("kernel isa: %s (cap with HEARTH_ISA=scalar|avx2|avx512)\n",
              kernels::isa_name(kernels::best_isa()));
  std::printf("cpu: %s\n", cpu_features().brand.c_str());
}

// "2026-11-23T21:30:00.123456789Z" -> seconds since the epoch (UTC); -1 if unreadable.
int64_t parse_rfc3339_utc(const std::string& text) {
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) != 6) return -1;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  int64_t t = static_cast<int64_t>(timegm(&tm));
  // A numeric offset ("+02:00") after the seconds and optional fraction.
  size_t tpos = text.find('T');
  size_t off = text.find_first_of("+-", tpos == std::string::npos ? 0 : tpos);
  if (off != std::string::npos) {
    int oh = 0, om = 0;
    if (std::sscanf(text.c_str() + off + 1, "%d:%d", &oh, &om) >= 1) {
      int64_t delta = oh * 3600 + om * 60;
      t += text[off] == '+' ? -delta : delta;
    }
  }
  return t;
}

// Ollama's UNTIL column: "4 minutes from now", "Forever", "Stopping...".
std::string until_text(int64_t expires, int64_t now) {
  if (expires < 0) return "unknown";
  int64_t left = expires - now;
  if (left > 50LL * 365 * 86400) return "Forever";  // the server sends ~100 years for "never"
  if (left <= 0) return "Stopping...";
  auto unit = [](int64_t n, const char* what) {
    return str_format("%lld %s%s from now", static_cast<long long>(n), what, n == 1 ? "" : "s");
  };
  if (left < 60) return unit(left, "second");
  if (left < 3600) return unit(left / 60, "minute");
  if (left < 86400) return unit(left / 3600, "hour");
  return unit(left / 86400, "day");
}

// HEARTH_HOST as the server reads it; a wildcard bind address is reached via loopback.
Result<std::string> server_base_url() {
  std::string host = "127.0.0.1";
  int port = 11434;
  if (const char* env = std::getenv("HEARTH_HOST"); env && *env) {
    HEARTH_RETURN_IF_ERROR(server::parse_host_port(env, &host, &port));
  }
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::" || host == "[::]") host = "[::1]";
  return str_format("http://%s:%d", host.c_str(), port);
}

Status run_ps() {
  HEARTH_ASSIGN_OR_RETURN(std::string base, server_base_url());
  store::HttpOptions http;
  http.connect_timeout_s = 5;
  http.low_speed_time_s = 10;
  if (const char* key = std::getenv("HEARTH_API_KEY"); key && *key) {
    http.headers.push_back(std::string("Authorization: Bearer ") + key);
  }
  auto response = store::http_get(base + "/api/ps", http);
  if (!response.is_ok()) {
    if (response.status().code() == ErrorCode::kUnavailable) {
      return Status(ErrorCode::kUnavailable, "could not connect to hearth server at " + base +
                                                 "; start it with `hearth serve`");
    }
    return response.status().with_context("GET " + base + "/api/ps");
  }
  auto body = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("models") || !body["models"].is_array()) {
    return corrupt_data_error("unexpected answer from " + base + "/api/ps");
  }
  struct Row {
    std::string name, id, size, processor, context, until;
  };
  std::vector<Row> rows;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  store::ModelStore models(store::ModelStore::default_root());
  for (const auto& m : body["models"]) {
    if (!m.is_object()) continue;
    Row r;
    r.name = m.value("name", std::string());
    std::string digest = m.value("digest", std::string());
    if (digest.rfind("sha256:", 0) == 0) digest = digest.substr(7);
    r.id = digest.substr(0, std::min<size_t>(12, digest.size()));
    if (r.id.empty()) {  // a model served from a plain file has no manifest digest
      if (auto parsed = store::parse_model_name(r.name); parsed.is_ok()) {
        if (auto entry = models.resolve(*parsed); entry.is_ok()) r.id = entry->id;
      }
    }
    uint64_t size = m.value("size", uint64_t{0});
    uint64_t vram = m.value("size_vram", uint64_t{0});
    r.size = store::human_size(size);
    if (vram == 0 || size == 0) {
      r.processor = "100% CPU";
    } else if (vram >= size) {
      r.processor = "100% GPU";
    } else {
      int gpu =
          static_cast<int>(100.0 * static_cast<double>(vram) / static_cast<double>(size) + 0.5);
      r.processor = str_format("%d%%/%d%% CPU/GPU", 100 - gpu, gpu);
    }
    int64_t ctx = m.value("context_length", int64_t{0});
    r.context = ctx > 0 ? std::to_string(ctx) : "";
    r.until = until_text(parse_rfc3339_utc(m.value("expires_at", std::string())), now);
    rows.push_back(r);
  }
  size_t w_name = 4, w_id = 2, w_size = 4, w_proc = 9, w_ctx = 7;
  for (const Row& r : rows) {
    w_name = std::max(w_name, r.name.size());
    w_id = std::max(w_id, r.id.size());
    w_size = std::max(w_size, r.size.size());
    w_proc = std::max(w_proc, r.processor.size());
    w_ctx = std::max(w_ctx, r.context.size());
  }
  auto line = [&](const Row& r) {
    std::printf("%-*s    %-*s    %-*s    %-*s    %-*s    %s\n", int(w_name), r.name.c_str(),
                int(w_id), r.id.c_str(), int(w_size), r.size.c_str(), int(w_proc),
                r.processor.c_str(), int(w_ctx), r.context.c_str(), r.until.c_str());
  };
  line({"NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"});
  for (const Row& r : rows) line(r);
  return Status::ok();
}

}  // namespace

void register_info_commands(CLI::App& app) {
  CLI::App* version =
      app.add_subcommand("version", "print hearth's version, git commit and kernel ISA");
  version->callback([] { print_version(); });

  CLI::App* ps = app.add_subcommand("ps", "list the models loaded in the running hearth server");
  ps->footer(
      "Server: $HEARTH_HOST (default 127.0.0.1:11434); $HEARTH_API_KEY is sent as a bearer token.");
  ps->callback([] {
    Status s = run_ps();
    if (!s.is_ok()) report_error(s);
  });
}

}  // namespace hearth::cli
