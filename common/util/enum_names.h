// Names for people of C++ enums, from one table per enum: the same table
// gives a value's name (messages, logs, metric labels) and, where a name is
// also accepted as input, the value a name stands for.
//
//   enum class Role { kEdge, kFrontend };
//   inline constexpr util::EnumName<Role> kRoleNames[] = {{Role::kEdge, "edge"},
//                                                         {Role::kFrontend, "frontend"}};
//   absl::string_view name = util::NameOf(kRoleNames, Role::kEdge, "unknown");  // "edge"
//   std::optional<Role> role = util::ValueOf(kRoleNames, "frontend");          // kFrontend
//
// Proto enums do not need a table: their names come from the generated
// descriptor (trust::ProtoEnumName in common/trust/validation.h).
#ifndef TRUSTFABRIC_COMMON_UTIL_ENUM_NAMES_H_
#define TRUSTFABRIC_COMMON_UTIL_ENUM_NAMES_H_

#include <cstddef>
#include <optional>

#include "absl/strings/string_view.h"

namespace trustfabric::util {

// One row of a name table: a value and its name.
template <typename E>
struct EnumName {
  E value;
  absl::string_view name;
};

// The name of `value` in `table`, or `fallback` when no row has it (a value
// cast from an out-of-range integer). Rows are searched in order: a table
// lists each value once.
template <typename E, size_t N>
constexpr absl::string_view NameOf(const EnumName<E> (&table)[N], E value,
                                   absl::string_view fallback) {
  for (const EnumName<E>& row : table) {
    if (row.value == value) return row.name;
  }
  return fallback;
}

// The value named exactly `name` (case-sensitive) in `table`; nullopt when no
// row has that name.
template <typename E, size_t N>
constexpr std::optional<E> ValueOf(const EnumName<E> (&table)[N], absl::string_view name) {
  for (const EnumName<E>& row : table) {
    if (row.name == name) return row.value;
  }
  return std::nullopt;
}

}  // namespace trustfabric::util

#endif  // TRUSTFABRIC_COMMON_UTIL_ENUM_NAMES_H_
