// libcurl-backed GET and resumable download (see http.h). One easy handle per call: pulls are
// rare and long, so connection reuse is not worth shared state.
#include "store/http.h"

#include <curl/curl.h>

#include <strings.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace hearth::store {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Easy {
  CURL* curl = nullptr;
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {0};
  Easy() {
    global_init();
    curl = curl_easy_init();
  }
  ~Easy() {
    if (headers) curl_slist_free_all(headers);
    if (curl) curl_easy_cleanup(curl);
  }
  Easy(const Easy&) = delete;
  Easy& operator=(const Easy&) = delete;
};

void configure(Easy& easy, const std::string& url, const HttpOptions& options) {
  CURL* c = easy.curl;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, easy.error);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "hearth/0.1.0");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, options.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, options.low_speed_time_s);
  for (const std::string& h : options.headers)
    easy.headers = curl_slist_append(easy.headers, h.c_str());
  if (easy.headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, easy.headers);
}

Status status_for_http(long code, const std::string& url, const std::string& body) {
  std::string detail = body.substr(0, 200);
  for (char& ch : detail) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  std::string msg = str_format("HTTP %ld from %s%s%s", code, url.c_str(),
                               detail.empty() ? "" : ": ", detail.c_str());
  if (code == 404) return not_found_error(msg);
  if (code == 401 || code == 403) return invalid_argument_error(msg + " (access denied)");
  if (code == 429 || code >= 500) return Status(ErrorCode::kUnavailable, msg);
  return io_error(msg);
}

Status status_for_curl(CURLcode rc, const Easy& easy, const std::string& url) {
  const char* text = easy.error[0] ? easy.error : curl_easy_strerror(rc);
  return Status(ErrorCode::kUnavailable,
                str_format("network error fetching %s: %s", url.c_str(), text));
}

struct GetState {
  std::string body;
  size_t max = 0;
  bool too_big = false;
};

size_t get_write(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* st = static_cast<GetState*>(user);
  size_t n = size * nmemb;
  if (st->body.size() + n > st->max) {
    st->too_big = true;
    return 0;
  }
  st->body.append(ptr, n);
  return n;
}

struct DownloadState {
  CURL* curl = nullptr;
  const std::function<Status(long, uint64_t)>* on_start = nullptr;
  const std::function<Status(const uint8_t*, size_t)>* on_data = nullptr;
  bool started = false;
  long status = 0;
  uint64_t total = 0;      // from Content-Range ".../total"
  std::string error_body;  // body of a >= 400 answer (first bytes)
  Status failure;          // from a callback
  DownloadResult result;
};

size_t download_header(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* st = static_cast<DownloadState*>(user);
  size_t n = size * nmemb;
  std::string line(ptr, n);
  if (line.rfind("HTTP/", 0) == 0) {
    st->total = 0;  // a new response (after a redirect)
  } else if (line.size() > 14 && strncasecmp(line.c_str(), "content-range:", 14) == 0) {
    size_t slash = line.find('/');
    if (slash != std::string::npos)
      st->total = std::strtoull(line.c_str() + slash + 1, nullptr, 10);
  }
  return n;
}

Status start(DownloadState* st) {
  st->started = true;
  curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &st->status);
  if (st->status >= 400) return Status::ok();
  if (st->status != 206) {
    curl_off_t length = -1;
    curl_easy_getinfo(st->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    st->total = length > 0 ? static_cast<uint64_t>(length) : 0;
  }
  st->result.status = st->status;
  st->result.total_size = st->total;
  return (*st->on_start)(st->status, st->total);
}

size_t download_write(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* st = static_cast<DownloadState*>(user);
  size_t n = size * nmemb;
  if (!st->started) {
    st->failure = start(st);
    if (!st->failure.is_ok()) return 0;
  }
  if (st->status >= 400) {
    if (st->error_body.size() < 4096) st->error_body.append(ptr, std::min<size_t>(n, 4096));
    return n;
  }
  st->failure = (*st->on_data)(reinterpret_cast<const uint8_t*>(ptr), n);
  if (!st->failure.is_ok()) return 0;
  st->result.bytes_written += n;
  return n;
}

}  // namespace

Result<HttpResponse> http_get(const std::string& url, const HttpOptions& options) {
  Easy easy;
  if (!easy.curl) return internal_error("curl_easy_init failed");
  configure(easy, url, options);
  GetState st;
  st.max = options.max_body_bytes;
  curl_easy_setopt(easy.curl, CURLOPT_WRITEFUNCTION, get_write);
  curl_easy_setopt(easy.curl, CURLOPT_WRITEDATA, &st);
  CURLcode rc = curl_easy_perform(easy.curl);
  if (st.too_big) {
    return out_of_range_error(
        str_format("response from %s is larger than %zu bytes", url.c_str(), st.max));
  }
  if (rc != CURLE_OK) return status_for_curl(rc, easy, url);
  HttpResponse response;
  curl_easy_getinfo(easy.curl, CURLINFO_RESPONSE_CODE, &response.status);
  char* effective = nullptr;
  curl_easy_getinfo(easy.curl, CURLINFO_EFFECTIVE_URL, &effective);
  if (effective) response.effective_url = effective;
  if (response.status >= 400) return status_for_http(response.status, url, st.body);
  response.body = std::move(st.body);
  return response;
}

Result<DownloadResult> http_download(
    const std::string& url, uint64_t offset, const HttpOptions& options,
    const std::function<Status(long status, uint64_t total)>& on_start,
    const std::function<Status(const uint8_t* data, size_t n)>& on_data) {
  Easy easy;
  if (!easy.curl) return internal_error("curl_easy_init failed");
  configure(easy, url, options);
  DownloadState st;
  st.curl = easy.curl;
  st.on_start = &on_start;
  st.on_data = &on_data;
  std::string range = std::to_string(offset) + "-";
  if (offset > 0) curl_easy_setopt(easy.curl, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(easy.curl, CURLOPT_HEADERFUNCTION, download_header);
  curl_easy_setopt(easy.curl, CURLOPT_HEADERDATA, &st);
  curl_easy_setopt(easy.curl, CURLOPT_WRITEFUNCTION, download_write);
  curl_easy_setopt(easy.curl, CURLOPT_WRITEDATA, &st);
  CURLcode rc = curl_easy_perform(easy.curl);
  if (!st.failure.is_ok()) return st.failure;
  if (rc != CURLE_OK) {
    return status_for_curl(rc, easy, url)
        .with_context(str_format("download interrupted after %llu bytes",
                                 static_cast<unsigned long long>(st.result.bytes_written)));
  }
  if (!st.started) {  // empty body
    Status s = start(&st);
    if (!s.is_ok()) return s;
  }
  if (st.status >= 400) return status_for_http(st.status, url, st.error_body);
  return st.result;
}

}  // namespace hearth::store
