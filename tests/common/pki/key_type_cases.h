// Every key type pki::PrivateKey generates, with the algorithm and size
// that a key of the type (and a certificate for it) reports. Shared by the
// private-key and certificate tests, which each check all of them.
//
//   for (const KeyTypeCase& c : kKeyTypeCases) {
//     absl::StatusOr<PrivateKey> key = PrivateKey::Generate(c.type);
//     EXPECT_EQ(key->bits(), c.bits);
//   }
#ifndef TRUSTFABRIC_TESTS_COMMON_PKI_KEY_TYPE_CASES_H_
#define TRUSTFABRIC_TESTS_COMMON_PKI_KEY_TYPE_CASES_H_

#include "common/pki/certificate.h"
#include "common/pki/private_key.h"

namespace trustfabric::pki {

struct KeyTypeCase {
  KeyType type;
  KeyAlgorithm algorithm;
  int bits;
};

inline constexpr KeyTypeCase kKeyTypeCases[] = {
    {KeyType::kEcP256, KeyAlgorithm::kEcP256, 256}, {KeyType::kEcP384, KeyAlgorithm::kEcP384, 384},
    {KeyType::kRsa2048, KeyAlgorithm::kRsa, 2048},  {KeyType::kRsa3072, KeyAlgorithm::kRsa, 3072},
    {KeyType::kEd25519, KeyAlgorithm::kEd25519, 256},
};

}  // namespace trustfabric::pki

#endif  // TRUSTFABRIC_TESTS_COMMON_PKI_KEY_TYPE_CASES_H_
