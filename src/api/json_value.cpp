// chat::Value <-> nlohmann::ordered_json conversion.
#include "api/json_value.h"

#include <cmath>
#include <cstdint>
#include <limits>

namespace hearth::api {

chat::Value value_from_json(const Json& json) {
  switch (json.type()) {
    case Json::value_t::null:
    case Json::value_t::discarded:
      return chat::Value(nullptr);
    case Json::value_t::boolean:
      return chat::Value(json.get<bool>());
    case Json::value_t::number_integer:
      return chat::Value(json.get<int64_t>());
    case Json::value_t::number_unsigned: {
      uint64_t u = json.get<uint64_t>();
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return chat::Value(static_cast<int64_t>(u));
      }
      return chat::Value(static_cast<double>(u));
    }
    case Json::value_t::number_float:
      return chat::Value(json.get<double>());
    case Json::value_t::string:
      return chat::Value(json.get_ref<const std::string&>());
    case Json::value_t::array: {
      chat::Value out = chat::Value::array();
      for (const Json& item : json) out.push_back(value_from_json(item));
      return out;
    }
    case Json::value_t::object: {
      chat::Value out = chat::Value::object();
      for (const auto& [key, item] : json.items()) out.set(key, value_from_json(item));
      return out;
    }
    case Json::value_t::binary:
      return chat::Value(nullptr);
  }
  return chat::Value(nullptr);
}

Json value_to_json(const chat::Value& value) {
  switch (value.kind()) {
    case chat::Value::Kind::kNull:
      return Json(nullptr);
    case chat::Value::Kind::kBool:
      return Json(value.as_bool());
    case chat::Value::Kind::kInt:
      return Json(value.as_int());
    case chat::Value::Kind::kDouble: {
      double d = value.as_double();
      return std::isfinite(d) ? Json(d) : Json(nullptr);
    }
    case chat::Value::Kind::kString:
      return Json(value.as_string());
    case chat::Value::Kind::kArray: {
      Json out = Json::array();
      for (const chat::Value& item : value.as_array()) out.push_back(value_to_json(item));
      return out;
    }
    case chat::Value::Kind::kObject: {
      Json out = Json::object();
      for (const auto& [key, item] : value.as_object()) out[key] = value_to_json(item);
      return out;
    }
  }
  return Json(nullptr);
}

}  // namespace hearth::api
