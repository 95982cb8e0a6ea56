#include "client/devcluster/pki_init.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "common/pki/certificate.h"
#include "common/pki/private_key.h"
#include "common/pki/spiffe.h"
#include "common/pki/verify.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/devcluster/shared_pki_test.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::devcluster {
namespace {

int Mode(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

bool IsLowerGuid(const std::string& s) {
  static const std::regex re(
      "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  return std::regex_match(s, re);
}

// One generated PKI shared by the read-only tests of this file.
class PkiInitTest : public SharedOutputTest<PkiInitTest, PkiInitResult> {
 protected:
  static void SetUpTestSuite() {
    PkiInitOptions opts;
    opts.pkcs12_password = "p12-secret";
    WriteSharedOutput(TwoDomainPki(opts));
  }
  static std::string Path(const std::string& rel) { return output_->out_dir + "/" + rel; }
  static pki::Certificate Root(const std::string& domain) {
    absl::StatusOr<pki::Certificate> c =
        pki::Certificate::FromPem(ReadFile(Path(domain + "/root.crt")));
    EXPECT_THAT(c, IsOk());
    return *c;
  }
};

TEST_F(PkiInitTest, EveryNodeCertificateVerifiesWithItsSans) {
  struct Node {
    std::string name, role, dns_label;
  };
  const std::vector<Node> nodes = {{"control1", "control", "control1"},
                                   {"registrar1", "registrar", "registrar1"},
                                   {"fe1", "frontend", "fe1"},
                                   {"edge1", "edge", "edge1"},
                                   {"admin1", "admin", "admin1"}};
  for (const std::string domain : {"contoso.test", "fabrikam.test"}) {
    absl::StatusOr<std::shared_ptr<const pki::RootStore>> store =
        pki::RootStore::Create({Root(domain)});
    ASSERT_THAT(store, IsOk());
    for (const Node& n : nodes) {
      SCOPED_TRACE(domain + "/" + n.name);
      absl::StatusOr<std::vector<pki::Certificate>> chain =
          pki::ParsePemBundle(ReadFile(Path(domain + "/" + n.name + ".crt")));
      ASSERT_THAT(chain, IsOk());
      ASSERT_THAT(*chain, SizeIs(2));  // leaf + intermediate
      const std::string fqdn = n.dns_label + "." + domain;
      for (pki::ChainPurpose purpose :
           {pki::ChainPurpose::kTlsServer, pki::ChainPurpose::kTlsClient}) {
        pki::VerifyRequest req{(*chain)[0]};
        req.intermediates = {(*chain)[1]};
        req.at = absl::Now();
        req.purpose = purpose;
        req.dns_name = fqdn;
        absl::StatusOr<pki::VerifiedChain> v = (*store)->Verify(req);
        ASSERT_THAT(v, IsOk());
        EXPECT_THAT(v->chain, SizeIs(3));
      }
      EXPECT_THAT((*chain)[0].DnsNames(), ElementsAre(fqdn));
      ASSERT_THAT((*chain)[0].UriNames(), SizeIs(1));
      absl::StatusOr<pki::SpiffeId> id = pki::ParseSpiffeId((*chain)[0].UriNames()[0]);
      ASSERT_THAT(id, IsOk());
      EXPECT_EQ(id->trust_domain, domain);
      EXPECT_EQ(pki::RoleName(id->role), n.role);
      EXPECT_EQ(id->name, n.name);

      const std::string key_path = Path(domain + "/" + n.name + ".key");
      EXPECT_EQ(Mode(key_path), 0600);
      absl::StatusOr<pki::PrivateKey> key = pki::PrivateKey::FromPem(ReadFile(key_path));
      ASSERT_THAT(key, IsOk());
      EXPECT_TRUE(key->Matches((*chain)[0]));
    }
  }
}

TEST_F(PkiInitTest, DomainsDoNotTrustEachOther) {
  absl::StatusOr<std::shared_ptr<const pki::RootStore>> contoso =
      pki::RootStore::Create({Root("contoso.test")});
  ASSERT_THAT(contoso, IsOk());
  absl::StatusOr<std::vector<pki::Certificate>> chain =
      pki::ParsePemBundle(ReadFile(Path("fabrikam.test/edge1.crt")));
  ASSERT_THAT(chain, IsOk());
  pki::VerifyRequest req{(*chain)[0]};
  req.intermediates = {(*chain)[1]};
  req.at = absl::Now();
  EXPECT_THAT((*contoso)->Verify(req), StatusIs(absl::StatusCode::kUnauthenticated,
                                                "unable to get local issuer certificate"));
}

TEST_F(PkiInitTest, CaFilesAndKeyModes) {
  for (const std::string domain : {"contoso.test", "fabrikam.test"}) {
    pki::Certificate root = Root(domain);
    EXPECT_TRUE(root.IsCa());
    EXPECT_TRUE(root.IsSelfSigned());
    absl::StatusOr<pki::Certificate> inter =
        pki::Certificate::FromPem(ReadFile(Path(domain + "/intermediate.crt")));
    ASSERT_THAT(inter, IsOk());
    EXPECT_TRUE(inter->IsCa());
    EXPECT_EQ(inter->Issuer(), root.Subject());
    for (const char* f :
         {"/root.key", "/intermediate.key", "/app1.key", "/app2.key", "/app1.p12", "/app2.p12"}) {
      EXPECT_EQ(Mode(Path(domain + f)), 0600) << domain << f;
    }
    EXPECT_EQ(Mode(Path(domain + "/root.crt")), 0644);
  }
}

TEST_F(PkiInitTest, TokenSigningApplications) {
  const std::string domain = "contoso.test";
  absl::StatusOr<std::shared_ptr<const pki::RootStore>> store =
      pki::RootStore::Create({Root(domain)});
  ASSERT_THAT(store, IsOk());
  for (const std::string app : {"app1", "app2"}) {
    SCOPED_TRACE(app);
    const std::string p12 = ReadFile(Path(domain + "/" + app + ".p12"));
    absl::StatusOr<pki::Pkcs12Contents> contents = pki::ParsePkcs12(p12, "p12-secret");
    ASSERT_THAT(contents, IsOk());
    EXPECT_THAT(pki::ParsePkcs12(p12, "changeit"),
                StatusIs(absl::StatusCode::kInvalidArgument, "wrong pkcs#12 password"));
    EXPECT_EQ(contents->key.algorithm(), pki::KeyAlgorithm::kRsa);
    EXPECT_EQ(contents->key.bits(), 2048);
    absl::StatusOr<pki::Certificate> crt =
        pki::Certificate::FromPem(ReadFile(Path(domain + "/" + app + ".crt")));
    ASSERT_THAT(crt, IsOk());
    EXPECT_EQ(contents->certificate, *crt);
    EXPECT_FALSE(crt->IsCa());
    pki::VerifyRequest req{*crt};
    req.at = absl::Now();
    if (app == "app1") {
      EXPECT_TRUE(crt->IsSelfSigned());
      absl::StatusOr<std::shared_ptr<const pki::RootStore>> pinned = pki::RootStore::Create({*crt});
      ASSERT_THAT(pinned, IsOk());
      EXPECT_THAT((*pinned)->Verify(req), IsOk());
    } else {
      EXPECT_FALSE(crt->IsSelfSigned());
      EXPECT_THAT((*store)->Verify(req), IsOk());
      ASSERT_THAT(contents->chain, SizeIs(1));
      EXPECT_EQ(contents->chain[0], Root(domain));
    }
  }
}

TEST_F(PkiInitTest, ManifestDescribesEveryFile) {
  nlohmann::json m = nlohmann::json::parse(ReadFile(output_->manifest_path));
  EXPECT_EQ(m["version"], 1);
  ASSERT_EQ(m["domains"].size(), 2u);
  std::vector<std::string> realms;
  std::vector<std::string> client_ids;
  for (const nlohmann::json& d : m["domains"]) {
    const std::string domain = d["domain"];
    const std::string realm = d["realm"];
    EXPECT_TRUE(IsLowerGuid(realm)) << realm;
    realms.push_back(realm);
    std::vector<std::string> names;
    for (const nlohmann::json& e : d["entries"]) {
      const std::string name = e["name"];
      names.push_back(name);
      EXPECT_EQ(e["domain"], domain);
      const std::string cert_path = e["cert"];
      EXPECT_EQ(cert_path, domain + "/" + name + ".crt");
      EXPECT_EQ(e["key"], domain + "/" + name + ".key");
      absl::StatusOr<std::vector<pki::Certificate>> certs =
          pki::ParsePemBundle(ReadFile(Path(cert_path)));
      ASSERT_THAT(certs, IsOk()) << cert_path;
      EXPECT_EQ(e["sha256"], (*certs)[0].Sha256Hex()) << cert_path;
      EXPECT_EQ(e["not_after"], absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", (*certs)[0].NotAfter(),
                                                 absl::UTCTimeZone()));
      const std::string kind = e["kind"];
      if (kind == "node" || kind == "admin") {
        EXPECT_EQ(e["spiffe_id"], (*certs)[0].UriNames().at(0));
        EXPECT_EQ(e["dns_name"], (*certs)[0].DnsNames().at(0));
        EXPECT_EQ(e["dns_name"], name + "." + domain);
        EXPECT_EQ(e["spiffe_id"],
                  "spiffe://" + domain + "/" + e["role"].get<std::string>() + "/" + name);
      }
      if (kind == "token_signing") {
        const std::string client_id = e["client_id"];
        EXPECT_TRUE(IsLowerGuid(client_id)) << client_id;
        EXPECT_EQ(e["issuer_name"], client_id + "@" + realm);
        EXPECT_EQ(e["pkcs12"], domain + "/" + name + ".p12");
        EXPECT_EQ(e["self_signed"], name == "app1");
        client_ids.push_back(client_id);
      }
    }
    EXPECT_THAT(names, ElementsAre("root", "intermediate", "control1", "registrar1", "fe1", "edge1",
                                   "admin1", "app1", "app2"));
  }
  EXPECT_NE(realms[0], realms[1]);
  ASSERT_THAT(client_ids, SizeIs(4));
  std::sort(client_ids.begin(), client_ids.end());
  EXPECT_EQ(std::unique(client_ids.begin(), client_ids.end()), client_ids.end());
}

TEST_F(PkiInitTest, SummaryNamesDomainsAndFiles) {
  const std::string summary = FormatPkiInitSummary(*output_);
  EXPECT_THAT(summary, HasSubstr("contoso.test  realm " + output_->domains[0].realm));
  EXPECT_THAT(summary, HasSubstr("spiffe://fabrikam.test/frontend/fe1"));
  EXPECT_THAT(summary, HasSubstr(output_->manifest_path));
  EXPECT_THAT(summary, ::testing::Not(HasSubstr("PRIVATE KEY")));
}

TEST(PkiInit, RefusesToOverwriteWithoutForce) {
  TempDir dir;
  PkiInitOptions opts;
  opts.domains = {"contoso.test"};
  opts.out_dir = dir.path();
  absl::StatusOr<PkiInitResult> first = RunPkiInit(opts);
  ASSERT_THAT(first, IsOk());
  const std::string root_before = ReadFile(dir.path() + "/contoso.test/root.crt");

  EXPECT_THAT(RunPkiInit(opts),
              StatusIs(absl::StatusCode::kFailedPrecondition, "pass --force to overwrite"));
  EXPECT_EQ(ReadFile(dir.path() + "/contoso.test/root.crt"), root_before);

  // A leftover domain directory without a manifest counts as a pki too.
  TempDir other;
  other.Write("contoso.test/notes.txt", "x");
  opts.out_dir = other.path();
  EXPECT_THAT(RunPkiInit(opts),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "a pki already exists at " + other.path() + "/contoso.test"));

  opts.out_dir = dir.path();
  opts.force = true;
  absl::StatusOr<PkiInitResult> second = RunPkiInit(opts);
  ASSERT_THAT(second, IsOk());
  EXPECT_NE(ReadFile(dir.path() + "/contoso.test/root.crt"), root_before);
  EXPECT_EQ(Mode(dir.path() + "/contoso.test/fe1.key"), 0600);
}

TEST(PkiInit, ForceTightensAnExistingKeyMode) {
  TempDir dir;
  dir.Write("contoso.test/fe1.key", "old", 0644);
  PkiInitOptions opts;
  opts.domains = {"contoso.test"};
  opts.out_dir = dir.path();
  opts.force = true;
  ASSERT_THAT(RunPkiInit(opts), IsOk());
  EXPECT_EQ(Mode(dir.path() + "/contoso.test/fe1.key"), 0600);
  EXPECT_NE(ReadFile(dir.path() + "/contoso.test/fe1.key"), "old");
}

TEST(PkiInit, RejectsBadOptions) {
  TempDir dir;
  PkiInitOptions opts;
  opts.out_dir = dir.path();
  constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(RunPkiInit(opts), StatusIs(kInvalid, "domains: none given"));
  opts.domains = {"contoso.test", "Fabrikam.test"};
  EXPECT_THAT(RunPkiInit(opts), StatusIs(kInvalid, "domains[1]: \"Fabrikam.test\" is not a"));
  opts.domains = {"localhost"};
  EXPECT_THAT(RunPkiInit(opts), StatusIs(kInvalid, "domains[0]"));
  opts.domains = {"contoso.test", "contoso.test"};
  EXPECT_THAT(RunPkiInit(opts), StatusIs(kInvalid, "domains[1]: duplicate contoso.test"));
  opts.domains = {"contoso.test"};
  opts.pkcs12_password = "";
  EXPECT_THAT(RunPkiInit(opts), StatusIs(kInvalid, "pkcs12_password: must not be empty"));
  opts.pkcs12_password = "x";
  opts.out_dir = "";
  EXPECT_THAT(RunPkiInit(opts), StatusIs(kInvalid, "out: empty"));
  opts.out_dir = dir.Write("file", "x");
  EXPECT_THAT(RunPkiInit(opts),
              StatusIs(absl::StatusCode::kFailedPrecondition, "exists and is not a directory"));
}

TEST(PkiInit, LongDomainNamesStillGetCertificates) {
  TempDir dir;
  PkiInitOptions opts;
  // 80 characters: longer than X.509 allows for a common name.
  opts.domains = {std::string(40, 'a') + "." + std::string(34, 'b') + ".test"};
  opts.out_dir = dir.path();
  absl::StatusOr<PkiInitResult> r = RunPkiInit(opts);
  ASSERT_THAT(r, IsOk());
  absl::StatusOr<std::vector<pki::Certificate>> chain =
      pki::ParsePemBundle(ReadFile(dir.path() + "/" + opts.domains[0] + "/fe1.crt"));
  ASSERT_THAT(chain, IsOk());
  EXPECT_THAT((*chain)[0].DnsNames(), ElementsAre("fe1." + opts.domains[0]));
  EXPECT_EQ((*chain)[0].Subject(), "CN=fe1");
}

TEST(PkiInit, RandomGuidsAreLowerCaseV4AndDistinct) {
  const std::string a = RandomGuid();
  const std::string b = RandomGuid();
  EXPECT_TRUE(IsLowerGuid(a)) << a;
  EXPECT_TRUE(IsLowerGuid(b)) << b;
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace trustfabric::devcluster
