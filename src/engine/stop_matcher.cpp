// StopMatcher implementation: search the held-back tail plus the new piece, keep the longest
// suffix that is a proper prefix of a stop string.
#include "engine/stop_matcher.h"

#include <algorithm>

namespace hearth::engine {

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (auto& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

StopMatcher::Output StopMatcher::feed(std::string_view piece) {
  Output out;
  if (stopped_) return out;
  pending_.append(piece);
  // Earliest match wins; among matches at the same position, the longest.
  size_t best_pos = std::string::npos;
  const std::string* best = nullptr;
  for (const auto& s : stops_) {
    size_t pos = pending_.find(s);
    if (pos != std::string::npos &&
        (pos < best_pos || (pos == best_pos && best && s.size() > best->size()))) {
      best_pos = pos;
      best = &s;
    }
  }
  if (best) {
    out.text = pending_.substr(0, best_pos);
    out.stopped = true;
    out.matched = *best;
    stopped_ = true;
    pending_.clear();
    return out;
  }
  size_t hold = 0;
  for (const auto& s : stops_) {
    size_t max_len = std::min(s.size() - 1, pending_.size());
    for (size_t len = max_len; len > hold; --len) {
      if (pending_.compare(pending_.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  out.text = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopMatcher::flush() {
  std::string rest;
  if (!stopped_) rest.swap(pending_);
  pending_.clear();
  return rest;
}

}  // namespace hearth::engine
