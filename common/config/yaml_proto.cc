// YAML <-> protobuf mapping; see yaml_proto.h.
#include "common/config/yaml_proto.h"

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <type_traits>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>
#include <yaml-cpp/yaml.h>

#include "absl/functional/function_ref.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status/atomic_file.h"
#include "common/status/status.h"

namespace trustfabric::config {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Bounds the work an adversarial document (aliases that fan out, deep flow
// nesting) can cause before yaml-cpp or our recursion sees it.
constexpr int kMaxNodes = 100000;
constexpr int kMaxDepth = 32;

absl::Status PathError(absl::string_view path, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(path.empty() ? "config" : path, ": ", reason));
}

std::string Join(absl::string_view path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

std::string KnownKeys(const Descriptor* d) {
  std::vector<std::string> names;
  for (int i = 0; i < d->field_count(); ++i) names.push_back(d->field(i)->name());
  return absl::StrJoin(names, ", ");
}

// Flow-style nesting is the one way to nest deeply in few bytes.
absl::Status CheckFlowDepth(absl::string_view text) {
  int depth = 0;
  char quote = 0;
  for (char c : text) {
    if (quote != 0) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return PathError("", "nesting too deep");
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return absl::OkStatus();
}

class Mapper {
 public:
  absl::Status MergeMessage(const YAML::Node& node, Message* msg, const std::string& path,
                            int depth) {
    TF_RETURN_IF_ERROR(Visit(path, depth));
    if (node.IsNull()) return absl::OkStatus();
    if (!node.IsMap()) return PathError(path, "expected a mapping");
    const Descriptor* d = msg->GetDescriptor();
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) return PathError(path, "keys must be scalars");
      const std::string key = kv.first.Scalar();
      const FieldDescriptor* f = d->FindFieldByName(key);
      if (f == nullptr) {
        return PathError(Join(path, key), absl::StrCat("unknown key (known: ", KnownKeys(d), ")"));
      }
      TF_RETURN_IF_ERROR(MergeField(kv.second, msg, f, Join(path, key), depth + 1));
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Visit(const std::string& path, int depth) {
    if (++nodes_ > kMaxNodes) return PathError(path, "document too large");
    if (depth > kMaxDepth) return PathError(path, "nesting too deep");
    return absl::OkStatus();
  }

  absl::Status MergeField(const YAML::Node& node, Message* msg, const FieldDescriptor* f,
                          const std::string& path, int depth) {
    const Reflection* r = msg->GetReflection();
    if (f->is_map()) {
      if (node.IsNull()) return absl::OkStatus();
      if (!node.IsMap()) return PathError(path, "expected a mapping");
      const FieldDescriptor* key_f = f->message_type()->map_key();
      const FieldDescriptor* val_f = f->message_type()->map_value();
      for (const auto& kv : node) {
        TF_RETURN_IF_ERROR(Visit(path, depth));
        if (!kv.first.IsScalar()) return PathError(path, "keys must be scalars");
        const std::string entry_path = Join(path, kv.first.Scalar());
        // Later entries with an equal key replace earlier ones, as in YAML.
        Message* entry = r->AddMessage(msg, f);
        TF_RETURN_IF_ERROR(SetScalar(kv.first, entry, key_f, entry_path));
        if (val_f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
          TF_RETURN_IF_ERROR(MergeMessage(kv.second,
                                          entry->GetReflection()->MutableMessage(entry, val_f),
                                          entry_path, depth + 1));
        } else {
          TF_RETURN_IF_ERROR(SetScalar(kv.second, entry, val_f, entry_path));
        }
      }
      return absl::OkStatus();
    }
    if (f->is_repeated()) {
      if (node.IsNull()) return absl::OkStatus();
      if (!node.IsSequence()) return PathError(path, "expected a list");
      int i = 0;
      for (const auto& item : node) {
        const std::string item_path = absl::StrCat(path, "[", i++, "]");
        TF_RETURN_IF_ERROR(Visit(item_path, depth));
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
          TF_RETURN_IF_ERROR(MergeMessage(item, r->AddMessage(msg, f), item_path, depth + 1));
        } else {
          TF_RETURN_IF_ERROR(SetScalar(item, msg, f, item_path));
        }
      }
      return absl::OkStatus();
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return MergeMessage(node, r->MutableMessage(msg, f), path, depth);
    }
    return SetScalar(node, msg, f, path);
  }

 public:
  static absl::Status SetScalarText(absl::string_view text, Message* msg, const FieldDescriptor* f,
                                    const std::string& path) {
    const Reflection* r = msg->GetReflection();
    const bool rep = f->is_repeated();
    auto bad = [&](absl::string_view what) {
      return PathError(path, absl::StrCat("expected ", what, ", got \"", text.substr(0, 64), "\""));
    };
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        rep ? r->AddString(msg, f, std::string(text)) : r->SetString(msg, f, std::string(text));
        return absl::OkStatus();
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool v;
        if (text == "true")
          v = true;
        else if (text == "false")
          v = false;
        else
          return bad("true or false");
        rep ? r->AddBool(msg, f, v) : r->SetBool(msg, f, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_INT32:
        return SetInteger(text, msg, f, &Reflection::SetInt32, &Reflection::AddInt32, bad,
                          "a 32-bit integer");
      case FieldDescriptor::CPPTYPE_UINT32:
        return SetInteger(text, msg, f, &Reflection::SetUInt32, &Reflection::AddUInt32, bad,
                          "a non-negative 32-bit integer");
      case FieldDescriptor::CPPTYPE_INT64:
        return SetInteger(text, msg, f, &Reflection::SetInt64, &Reflection::AddInt64, bad,
                          "a 64-bit integer");
      case FieldDescriptor::CPPTYPE_UINT64:
        return SetInteger(text, msg, f, &Reflection::SetUInt64, &Reflection::AddUInt64, bad,
                          "a non-negative 64-bit integer");
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double v;
        if (!absl::SimpleAtod(text, &v)) return bad("a number");
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
          rep ? r->AddDouble(msg, f, v) : r->SetDouble(msg, f, v);
        } else {
          rep ? r->AddFloat(msg, f, static_cast<float>(v))
              : r->SetFloat(msg, f, static_cast<float>(v));
        }
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const auto* value = f->enum_type()->FindValueByName(std::string(text));
        if (value == nullptr || value->number() == 0) {
          std::vector<std::string> names;
          for (int i = 1; i < f->enum_type()->value_count(); ++i) {
            names.push_back(f->enum_type()->value(i)->name());
          }
          return bad(absl::StrCat("one of ", absl::StrJoin(names, ", ")));
        }
        rep ? r->AddEnum(msg, f, value) : r->SetEnum(msg, f, value);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return PathError(path, "expected a mapping");
    }
    return PathError(path, "unsupported field type");
  }

 private:
  // Sets (or, for a repeated field, adds) the integer field `f` of C++ type T
  // from decimal `text`; for an unsigned T a leading '-' is refused too.
  // bad(what) otherwise.
  template <typename T>
  static absl::Status SetInteger(absl::string_view text, Message* msg, const FieldDescriptor* f,
                                 void (Reflection::*set)(Message*, const FieldDescriptor*, T) const,
                                 void (Reflection::*add)(Message*, const FieldDescriptor*, T) const,
                                 absl::FunctionRef<absl::Status(absl::string_view)> bad,
                                 absl::string_view what) {
    T v;
    if (std::is_unsigned_v<T> && (text.empty() || text[0] == '-')) return bad(what);
    if (!absl::SimpleAtoi(text, &v)) return bad(what);
    (msg->GetReflection()->*(f->is_repeated() ? add : set))(msg, f, v);
    return absl::OkStatus();
  }

  static absl::Status SetScalar(const YAML::Node& node, Message* msg, const FieldDescriptor* f,
                                const std::string& path) {
    if (!node.IsScalar()) return PathError(path, "expected a scalar value");
    return SetScalarText(node.Scalar(), msg, f, path);
  }

  int nodes_ = 0;
};

}  // namespace

absl::Status MergeYaml(absl::string_view yaml_text, Message* message) {
  if (yaml_text.size() > kMaxConfigBytes) return PathError("", "file larger than 1 MiB");
  TF_RETURN_IF_ERROR(CheckFlowDepth(yaml_text));
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return PathError("", absl::StrCat("invalid yaml at line ", e.mark.line + 1, ", column ",
                                      e.mark.column + 1, ": ", e.msg));
  }
  std::unique_ptr<Message> work(message->New());
  work->CopyFrom(*message);
  Mapper mapper;
  try {
    TF_RETURN_IF_ERROR(mapper.MergeMessage(root, work.get(), "", 0));
  } catch (const YAML::Exception& e) {
    return PathError("", absl::StrCat("invalid yaml: ", e.msg));
  }
  message->CopyFrom(*work);
  return absl::OkStatus();
}

absl::Status MergeYamlFile(const std::string& path, Message* message) {
  absl::StatusOr<std::string> text = ReadFileLimited(path, kMaxConfigBytes);
  // ReadFileLimited's only INVALID_ARGUMENT is a file over the limit.
  if (absl::IsInvalidArgument(text.status())) {
    return Annotate(PathError("", "file larger than 1 MiB"), path);
  }
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot open config file"));
  }
  return Annotate(MergeYaml(*text, message), path);
}

absl::Status SetField(Message* message, absl::string_view path, absl::string_view value) {
  std::unique_ptr<Message> work(message->New());
  work->CopyFrom(*message);
  Message* current = work.get();
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const Descriptor* d = current->GetDescriptor();
    const FieldDescriptor* f = d->FindFieldByName(parts[i]);
    const std::string here = absl::StrJoin(parts.begin(), parts.begin() + i + 1, ".");
    if (f == nullptr) {
      return PathError(here, absl::StrCat("unknown key (known: ", KnownKeys(d), ")"));
    }
    const Reflection* r = current->GetReflection();
    if (f->is_map()) {
      // Map keys may contain dots (DNS names): the rest of the path is the key.
      if (i + 1 == parts.size()) return PathError(here, "expected <map>.<key>");
      const std::string key = absl::StrJoin(parts.begin() + i + 1, parts.end(), ".");
      Message* entry = r->AddMessage(current, f);
      const std::string entry_path = absl::StrCat(here, ".", key);
      TF_RETURN_IF_ERROR(
          Mapper::SetScalarText(key, entry, f->message_type()->map_key(), entry_path));
      TF_RETURN_IF_ERROR(
          Mapper::SetScalarText(value, entry, f->message_type()->map_value(), entry_path));
      break;
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) return PathError(here, "a list of mappings cannot be set by a flag");
      if (i + 1 == parts.size()) return PathError(here, "expected a scalar field");
      current = r->MutableMessage(current, f);
      continue;
    }
    if (i + 1 != parts.size()) return PathError(here, "is not a mapping");
    TF_RETURN_IF_ERROR(Mapper::SetScalarText(value, current, f, here));
  }
  message->CopyFrom(*work);
  return absl::OkStatus();
}

namespace {

void EmitMessage(YAML::Emitter& out, const Message& message);

// Emits the value of `f`: element `index` of a repeated field, or the
// singular value when `index` is negative.
void EmitValue(YAML::Emitter& out, const Message& message, const FieldDescriptor* f, int index) {
  const Reflection* r = message.GetReflection();
  const bool one = index < 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      out << YAML::DoubleQuoted
          << (one ? r->GetString(message, f) : r->GetRepeatedString(message, f, index));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      out << ((one ? r->GetBool(message, f) : r->GetRepeatedBool(message, f, index)) ? "true"
                                                                                     : "false");
      break;
    case FieldDescriptor::CPPTYPE_INT32:
      out << (one ? r->GetInt32(message, f) : r->GetRepeatedInt32(message, f, index));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      out << (one ? r->GetInt64(message, f) : r->GetRepeatedInt64(message, f, index));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      out << (one ? r->GetUInt32(message, f) : r->GetRepeatedUInt32(message, f, index));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      out << (one ? r->GetUInt64(message, f) : r->GetRepeatedUInt64(message, f, index));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      out << (one ? r->GetDouble(message, f) : r->GetRepeatedDouble(message, f, index));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      out << (one ? r->GetFloat(message, f) : r->GetRepeatedFloat(message, f, index));
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      out << (one ? r->GetEnum(message, f) : r->GetRepeatedEnum(message, f, index))->name();
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      EmitMessage(out, one ? r->GetMessage(message, f) : r->GetRepeatedMessage(message, f, index));
      break;
  }
}

void EmitMessage(YAML::Emitter& out, const Message& message) {
  const Reflection* r = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(message, &fields);
  out << YAML::BeginMap;
  for (const FieldDescriptor* f : fields) {
    out << YAML::Key << f->name() << YAML::Value;
    if (f->is_map()) {
      const FieldDescriptor* key_f = f->message_type()->map_key();
      const FieldDescriptor* value_f = f->message_type()->map_value();
      auto key_text = [&](const Message* entry) {
        YAML::Emitter key;
        EmitValue(key, *entry, key_f, -1);
        return std::string(key.c_str());
      };
      std::vector<std::pair<std::string, const Message*>> entries;
      for (int i = 0; i < r->FieldSize(message, f); ++i) {
        const Message* entry = &r->GetRepeatedMessage(message, f, i);
        entries.emplace_back(key_text(entry), entry);
      }
      std::sort(entries.begin(), entries.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      out << YAML::BeginMap;
      for (const auto& [key, entry] : entries) {
        out << YAML::Key;
        EmitValue(out, *entry, key_f, -1);
        out << YAML::Value;
        EmitValue(out, *entry, value_f, -1);
      }
      out << YAML::EndMap;
    } else if (f->is_repeated()) {
      out << YAML::BeginSeq;
      for (int i = 0; i < r->FieldSize(message, f); ++i) EmitValue(out, message, f, i);
      out << YAML::EndSeq;
    } else {
      EmitValue(out, message, f, -1);
    }
  }
  out << YAML::EndMap;
}

}  // namespace

std::string ProtoToYaml(const Message& message) {
  YAML::Emitter out;
  EmitMessage(out, message);
  return absl::StrCat(out.c_str(), "\n");
}

}  // namespace trustfabric::config
