// Parsing and validation of model names (see model_name.h for the accepted forms).
#include "store/model_name.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace hearth::store {
namespace {

constexpr size_t kMaxNameLength = 512;
constexpr size_t kMaxPartLength = 128;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool ends_with_gguf(std::string_view s) {
  return s.size() > 5 && lower(s.substr(s.size() - 5)) == ".gguf";
}

bool is_valid_host(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  if (!std::isalnum(static_cast<unsigned char>(host.front()))) return false;
  size_t colons = 0;
  for (char c : host) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == ':') {
      ++colons;
    } else if (!(std::isalnum(u) || c == '.' || c == '-')) {
      return false;
    }
  }
  if (colons > 1) return false;
  if (colons == 1) {  // host:port, port all digits
    std::string_view port = host.substr(host.find(':') + 1);
    if (port.empty() || port.size() > 5) return false;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
  }
  return host.find("..") == std::string_view::npos;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

}  // namespace

bool is_valid_name_part(std::string_view part, bool allow_colon) {
  if (part.empty() || part.size() > kMaxPartLength) return false;
  // A leading alphanumeric rules out ".", "..", hidden files and option-like "-x".
  if (!std::isalnum(static_cast<unsigned char>(part.front()))) return false;
  for (char c : part) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '.' || c == '_' || c == '-') continue;
    if (allow_colon && c == ':') continue;
    return false;
  }
  return true;
}

std::string ModelName::display() const {
  switch (kind) {
    case Kind::kLocalFile:
      return path;
    case Kind::kHuggingFace:
      return host + "/" + name_space + "/" + model + ":" + tag;
    case Kind::kRegistry:
      break;
  }
  if (host == kDefaultRegistryHost) {
    if (name_space == kDefaultNamespace) return model + ":" + tag;
    return name_space + "/" + model + ":" + tag;
  }
  return host + "/" + name_space + "/" + model + ":" + tag;
}

std::string ModelName::manifest_relpath() const {
  return host + "/" + name_space + "/" + model + "/" + tag;
}

Result<ModelName> parse_model_name(std::string_view text) {
  if (text.empty()) return invalid_argument_error("model name is empty");
  std::string shown(text.substr(0, 80));
  if (text.size() > kMaxNameLength) {
    return invalid_argument_error(str_format("model name '%s...' is too long", shown.c_str()));
  }
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return invalid_argument_error("model name contains a control character");
    }
  }
  ModelName name;
  if (ends_with_gguf(text)) {
    name.kind = ModelName::Kind::kLocalFile;
    name.path = std::string(text);
    return name;
  }
  char first = text.front();
  if (first == '/' || first == '.' || first == '~' || text.find('\\') != std::string_view::npos) {
    return invalid_argument_error(str_format(
        "invalid model name '%s': paths are only accepted for .gguf files", shown.c_str()));
  }

  // The tag is what follows the last ':' after the last '/' (a ':' before a '/' is a port).
  std::string_view base = text;
  std::string_view tag;
  bool has_tag = false;
  size_t colon = text.rfind(':');
  size_t slash = text.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    base = text.substr(0, colon);
    tag = text.substr(colon + 1);
    has_tag = true;
  }
  std::vector<std::string_view> parts = split(base, '/');
  if (parts.size() > 3) {
    return invalid_argument_error(str_format(
        "invalid model name '%s': expected [host/][namespace/]model[:tag]", shown.c_str()));
  }
  if (parts.size() < 3 && parts.size() > 1 &&
      (lower(parts[0]) == kHuggingFaceHost || lower(parts[0]) == "huggingface.co")) {
    return invalid_argument_error(str_format(
        "invalid model name '%s': Hugging Face names are hf.co/OWNER/REPO[:QUANT]", shown.c_str()));
  }
  std::string_view host_part, ns_part, model_part;
  if (parts.size() == 3) {
    host_part = parts[0];
    ns_part = parts[1];
    model_part = parts[2];
  } else if (parts.size() == 2) {
    ns_part = parts[0];
    model_part = parts[1];
  } else {
    model_part = parts[0];
  }
  name.host = host_part.empty() && parts.size() < 3 ? kDefaultRegistryHost : lower(host_part);
  if (name.host == "huggingface.co" || name.host == "hf.co") {
    name.host = kHuggingFaceHost;
    name.kind = ModelName::Kind::kHuggingFace;
  }
  if (!is_valid_host(name.host)) {
    return invalid_argument_error(
        str_format("invalid model name '%s': bad host '%s'", shown.c_str(), name.host.c_str()));
  }
  if (parts.size() >= 2 && ns_part.empty()) {
    return invalid_argument_error(
        str_format("invalid model name '%s': empty namespace", shown.c_str()));
  }
  if (has_tag && tag.empty()) {
    return invalid_argument_error(str_format("invalid model name '%s': empty tag", shown.c_str()));
  }
  const bool hf = name.kind == ModelName::Kind::kHuggingFace;
  if (hf && parts.size() != 3) {
    return invalid_argument_error(str_format(
        "invalid model name '%s': Hugging Face names are hf.co/OWNER/REPO[:QUANT]", shown.c_str()));
  }
  // Registry names are case-insensitive (stored lower case); Hugging Face repos keep their case.
  name.name_space = ns_part.empty() ? std::string(kDefaultNamespace)
                                    : (hf ? std::string(ns_part) : lower(ns_part));
  name.model = hf ? std::string(model_part) : lower(model_part);
  name.tag = has_tag ? (hf ? std::string(tag) : lower(tag))
                     : std::string(hf ? kDefaultHfQuant : kDefaultTag);
  struct Check {
    const char* what;
    const std::string& value;
  };
  for (const Check& check :
       {Check{"namespace", name.name_space}, Check{"model", name.model}, Check{"tag", name.tag}}) {
    if (!is_valid_name_part(check.value)) {
      return invalid_argument_error(
          str_format("invalid model name '%s': bad %s '%s' (use letters, digits, '.', '_', '-'; "
                     "start with a letter or digit; at most %zu characters)",
                     shown.c_str(), check.what, std::string(check.value.substr(0, 80)).c_str(),
                     kMaxPartLength));
    }
  }
  return name;
}

}  // namespace hearth::store
