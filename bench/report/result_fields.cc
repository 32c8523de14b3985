#include "bench/report/result_fields.h"

namespace ingest::bench {

const JsonValue* ObjectMember(const JsonValue* object, std::string_view key) {
  if (object == nullptr) return nullptr;
  const JsonValue* member = object->Find(key);
  return member != nullptr && member->is_object() ? member : nullptr;
}

const JsonValue* ArrayMember(const JsonValue* object, std::string_view key) {
  if (object == nullptr) return nullptr;
  const JsonValue* member = object->Find(key);
  return member != nullptr && member->is_array() ? member : nullptr;
}

std::optional<double> NumberMember(const JsonValue* object, std::string_view key) {
  if (object == nullptr) return std::nullopt;
  const JsonValue* member = object->Find(key);
  if (member == nullptr || !member->is_number()) return std::nullopt;
  return member->number();
}

std::vector<std::optional<double>> NumberItems(const JsonValue* array) {
  std::vector<std::optional<double>> out;
  if (array == nullptr || !array->is_array()) return out;
  out.reserve(array->items().size());
  for (const JsonValue& item : array->items()) {
    out.push_back(item.is_number() ? std::optional<double>(item.number()) : std::nullopt);
  }
  return out;
}

}  // namespace ingest::bench
