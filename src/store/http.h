// A thin libcurl wrapper: small GETs into memory (manifests, API listings) and resumable
// downloads into an open file descriptor. Failures come back as Status with the URL, the HTTP
// status or the curl error text; HTTP 404 is kNotFound, network errors are kUnavailable.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"

namespace hearth::store {

struct HttpOptions {
  std::vector<std::string> headers;  // "Name: value"
  long connect_timeout_s = 30;
  // Abort when fewer than 1 byte/s arrive for this long (a stalled connection).
  long low_speed_time_s = 60;
  size_t max_body_bytes = 64u << 20;  // http_get only
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string effective_url;
};

// GET into memory. Any status >= 400 is an error (404 -> kNotFound).
Result<HttpResponse> http_get(const std::string& url, const HttpOptions& options);

struct DownloadResult {
  long status = 0;  // 200 (whole body) or 206 (from `offset`)
  uint64_t bytes_written = 0;
  uint64_t total_size = 0;  // full size from Content-Length/Content-Range, 0 if unknown
};

// GET `url`, asking for bytes from `offset` (Range) when offset > 0. `on_start(status, total)`
// is called once the headers are in and before any body byte (a 200 answer to a Range request
// means the server restarts from 0: the callback must truncate). `on_data` receives body bytes
// in order; returning a non-ok Status aborts the transfer with that Status.
Result<DownloadResult> http_download(
    const std::string& url, uint64_t offset, const HttpOptions& options,
    const std::function<Status(long status, uint64_t total)>& on_start,
    const std::function<Status(const uint8_t* data, size_t n)>& on_data);

}  // namespace hearth::store
