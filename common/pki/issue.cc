// Certificate issuance; see issue.h.
#include "common/pki/issue.h"

#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/pki/openssl_ptr.h"
#include "common/status/status.h"

namespace trustfabric::pki {
namespace {

constexpr size_t kMaxCommonNameBytes = 64;  // ub-common-name, RFC 5280
constexpr size_t kMaxUriBytes = 2048;

absl::Status Invalid(absl::string_view field, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat("certificate spec: ", field, ": ", reason));
}

// DNS SANs are checked for shape only (any case, single labels such as
// "localhost", and a leading "*." wildcard are allowed): certificates for
// tests and loopback clusters need them, and verifiers decide what they accept.
bool IsPlausibleDnsSan(absl::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  if (name.substr(0, 2) == "*.") name.remove_prefix(2);
  size_t label = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (label == 0 || label > 63) return false;
      if (name[i - 1] == '-' || name[i - label] == '-') return false;
      label = 0;
      continue;
    }
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-';
    if (!ok) return false;
    ++label;
  }
  return true;
}

// URI SANs are checked for shape only, so that tests can issue certificates
// with malformed SPIFFE IDs and watch the verifiers reject them.
bool IsPlausibleUri(absl::string_view uri) {
  if (uri.empty() || uri.size() > kMaxUriBytes) return false;
  const size_t colon = uri.find(':');
  if (colon == 0 || colon == absl::string_view::npos) return false;
  for (char c : uri) {
    if (c <= 0x20 || c > 0x7e) return false;
  }
  return true;
}

absl::Status CheckSpec(const CertificateSpec& spec) {
  if (spec.common_name.empty()) return Invalid("common_name", "empty");
  if (spec.common_name.size() > kMaxCommonNameBytes) {
    return Invalid("common_name", absl::StrCat("longer than ", kMaxCommonNameBytes, " bytes"));
  }
  if (spec.organization.size() > kMaxCommonNameBytes) {
    return Invalid("organization", absl::StrCat("longer than ", kMaxCommonNameBytes, " bytes"));
  }
  for (size_t i = 0; i < spec.dns_names.size(); ++i) {
    if (!IsPlausibleDnsSan(spec.dns_names[i])) {
      return Invalid(absl::StrCat("dns_names[", i, "]"), "not a dns name");
    }
  }
  for (size_t i = 0; i < spec.uri_names.size(); ++i) {
    if (!IsPlausibleUri(spec.uri_names[i])) {
      return Invalid(absl::StrCat("uri_names[", i, "]"), "not a uri");
    }
  }
  if (spec.path_length < -1) return Invalid("path_length", "must be -1 or >= 0");
  if (spec.path_length >= 0 && !spec.is_ca) {
    return Invalid("path_length", "only allowed for ca certificates");
  }
  if (spec.lifetime <= absl::ZeroDuration()) return Invalid("lifetime", "must be positive");
  return absl::OkStatus();
}

struct Validity {
  absl::Time not_before;
  absl::Time not_after;
};

absl::StatusOr<Validity> ResolveValidity(const CertificateSpec& spec) {
  const bool has_nb = spec.not_before != absl::InfinitePast();
  const bool has_na = spec.not_after != absl::InfinitePast();
  const absl::Time now = absl::Now();
  Validity v;
  if (has_nb && has_na) {
    v = {spec.not_before, spec.not_after};
  } else if (has_nb) {
    v = {spec.not_before, spec.not_before + spec.lifetime};
  } else if (has_na) {
    v = {spec.not_after - spec.lifetime, spec.not_after};
  } else {
    v = {now - absl::Hours(1), now + spec.lifetime};
  }
  // X.509 can express years 0000..9999; keep well inside what time_t and
  // ASN1_TIME_set handle everywhere.
  const absl::Time min = absl::FromCivil(absl::CivilSecond(1950, 1, 1), absl::UTCTimeZone());
  const absl::Time max = absl::FromCivil(absl::CivilSecond(9999, 12, 31, 23, 59, 59),
                                         absl::UTCTimeZone());
  if (v.not_before < min || v.not_before > max) return Invalid("not_before", "out of range");
  if (v.not_after < min || v.not_after > max) return Invalid("not_after", "out of range");
  if (v.not_after <= v.not_before) return Invalid("not_after", "not after not_before");
  return v;
}

absl::Status SetTime(X509* x509, absl::Time t, bool not_before) {
  Asn1TimePtr asn1(ASN1_TIME_set(nullptr, absl::ToTimeT(t)));
  if (asn1 == nullptr) return absl::InternalError("issue: cannot encode validity time");
  const int ok = not_before ? X509_set1_notBefore(x509, asn1.get())
                            : X509_set1_notAfter(x509, asn1.get());
  if (ok != 1) return absl::InternalError("issue: cannot set validity time");
  return absl::OkStatus();
}

absl::Status SetRandomSerial(X509* x509) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError("issue: random serial generation failed");
  }
  // A positive, non-zero 127-bit serial keeps the DER INTEGER at 16 bytes.
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);
  BignumPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (bn == nullptr) return absl::InternalError("issue: serial encoding failed");
  Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (serial == nullptr || X509_set_serialNumber(x509, serial.get()) != 1) {
    return absl::InternalError("issue: serial encoding failed");
  }
  return absl::OkStatus();
}

absl::StatusOr<X509NamePtr> MakeName(const CertificateSpec& spec) {
  X509NamePtr name(X509_NAME_new());
  if (name == nullptr) return absl::ResourceExhaustedError("issue: out of memory");
  auto add = [&](const char* field, const std::string& value) {
    return X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(value.data()),
                                      static_cast<int>(value.size()), -1, 0) == 1;
  };
  if (!spec.organization.empty() && !add("O", spec.organization)) {
    return Invalid("organization", "not encodable");
  }
  if (!add("CN", spec.common_name)) return Invalid("common_name", "not encodable");
  return name;
}

absl::Status AddConfExtension(X509* x509, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value.c_str()));
  if (ext == nullptr || X509_add_ext(x509, ext.get(), -1) != 1) {
    return absl::InternalError(absl::StrCat("issue: cannot add extension ", OBJ_nid2sn(nid),
                                            ": ", ConsumeOpenSslError("unknown error")));
  }
  return absl::OkStatus();
}

absl::Status AddGeneralName(GENERAL_NAMES* names, int type, const std::string& value) {
  Asn1StringPtr ia5(ASN1_IA5STRING_new());
  GeneralNamePtr gn(GENERAL_NAME_new());
  if (ia5 == nullptr || gn == nullptr ||
      ASN1_STRING_set(ia5.get(), value.data(), static_cast<int>(value.size())) != 1) {
    return absl::ResourceExhaustedError("issue: out of memory");
  }
  GENERAL_NAME_set0_value(gn.get(), type, ia5.release());
  if (sk_GENERAL_NAME_push(names, gn.get()) <= 0) {
    return absl::ResourceExhaustedError("issue: out of memory");
  }
  static_cast<void>(gn.release());  // now owned by `names`
  return absl::OkStatus();
}

absl::Status AddSubjectAltNames(X509* x509, const CertificateSpec& spec) {
  if (spec.dns_names.empty() && spec.uri_names.empty()) return absl::OkStatus();
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (names == nullptr) return absl::ResourceExhaustedError("issue: out of memory");
  for (const std::string& dns : spec.dns_names) {
    TF_RETURN_IF_ERROR(AddGeneralName(names.get(), GEN_DNS, dns));
  }
  for (const std::string& uri : spec.uri_names) {
    TF_RETURN_IF_ERROR(AddGeneralName(names.get(), GEN_URI, uri));
  }
  if (X509_add1_ext_i2d(x509, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return absl::InternalError("issue: cannot add subjectAltName");
  }
  return absl::OkStatus();
}

absl::Status AddExtensions(X509* x509, X509* issuer_cert, const CertificateSpec& spec,
                           KeyAlgorithm algorithm) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer_cert, x509, nullptr, nullptr, 0);
  if (!spec.omit_basic_constraints) {
    std::string bc = spec.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE";
    if (spec.is_ca && spec.path_length >= 0) absl::StrAppend(&bc, ",pathlen:", spec.path_length);
    TF_RETURN_IF_ERROR(AddConfExtension(x509, &ctx, NID_basic_constraints, bc));
  }
  std::string usage;
  if (spec.is_ca) {
    usage = "critical,keyCertSign,cRLSign";
  } else {
    usage = "critical,digitalSignature";
    if (algorithm == KeyAlgorithm::kRsa && !spec.signing_only) {
      absl::StrAppend(&usage, ",keyEncipherment");
    }
  }
  TF_RETURN_IF_ERROR(AddConfExtension(x509, &ctx, NID_key_usage, usage));
  if (!spec.is_ca && !spec.signing_only) {
    TF_RETURN_IF_ERROR(AddConfExtension(x509, &ctx, NID_ext_key_usage, "serverAuth,clientAuth"));
  }
  TF_RETURN_IF_ERROR(AddConfExtension(x509, &ctx, NID_subject_key_identifier, "hash"));
  TF_RETURN_IF_ERROR(
      AddConfExtension(x509, &ctx, NID_authority_key_identifier, "keyid:always"));
  return AddSubjectAltNames(x509, spec);
}

}  // namespace

absl::StatusOr<IssuedCertificate> Issue(const CertificateSpec& spec,
                                        const IssuedCertificate* issuer) {
  TF_RETURN_IF_ERROR(CheckSpec(spec));
  TF_ASSIGN_OR_RETURN(Validity validity, ResolveValidity(spec));
  if (issuer != nullptr && !issuer->key.Matches(issuer->certificate)) {
    return absl::InvalidArgumentError("issuer: key does not match its certificate");
  }
  std::optional<PrivateKey> generated;
  if (!spec.key.has_value()) {
    TF_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::Generate(spec.key_type));
    generated.emplace(std::move(key));
  }
  const PrivateKey& key = spec.key.has_value() ? *spec.key : *generated;

  X509Ptr x509(X509_new());
  if (x509 == nullptr) return absl::ResourceExhaustedError("issue: out of memory");
  if (X509_set_version(x509.get(), X509_VERSION_3) != 1) {
    return absl::InternalError("issue: cannot set version");
  }
  TF_RETURN_IF_ERROR(SetRandomSerial(x509.get()));
  TF_ASSIGN_OR_RETURN(X509NamePtr subject, MakeName(spec));
  if (X509_set_subject_name(x509.get(), subject.get()) != 1) {
    return absl::InternalError("issue: cannot set subject");
  }
  X509* issuer_cert = issuer != nullptr ? issuer->certificate.get() : x509.get();
  if (X509_set_issuer_name(x509.get(), X509_get_subject_name(issuer_cert)) != 1) {
    return absl::InternalError("issue: cannot set issuer");
  }
  TF_RETURN_IF_ERROR(SetTime(x509.get(), validity.not_before, /*not_before=*/true));
  TF_RETURN_IF_ERROR(SetTime(x509.get(), validity.not_after, /*not_before=*/false));
  if (X509_set_pubkey(x509.get(), key.get()) != 1) {
    return absl::InternalError("issue: cannot set public key");
  }
  TF_RETURN_IF_ERROR(AddExtensions(x509.get(), issuer_cert, spec, key.algorithm()));

  const PrivateKey& signer = issuer != nullptr ? issuer->key : key;
  // Ed25519 signs the message itself and takes no separate digest.
  const EVP_MD* md = signer.algorithm() == KeyAlgorithm::kEd25519 ? nullptr : EVP_sha256();
  if (X509_sign(x509.get(), signer.get(), md) <= 0) {
    return absl::InternalError(
        absl::StrCat("issue: signing failed: ", ConsumeOpenSslError("unknown error")));
  }
  return IssuedCertificate{Certificate::FromX509(x509.get()), key};
}

}  // namespace trustfabric::pki
