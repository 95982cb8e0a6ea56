// A mailbox flood over a front-end's real internal listener: an edge of the
// domain delivers messages for 10,000 offline users, far more than the
// front-end may queue. The memory of the queued messages, as the node's
// metric reports it, stays within the configured bound; every refusal is
// RESOURCE_EXHAUSTED, counted, and names no user.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/node/node_metrics.h"
#include "tests/server/node/node_env.h"
#include "tests/testing/vocabulary.h"
#include "trustfabric/v1/node.grpc.pb.h"

namespace trustfabric::node {
namespace {

using testing::ContosoState;
using testing::MakeClient;
using testing::TestNode;
using testing::WriteNode;
using ::testing::HasSubstr;
using ::testing::Not;

// The value of the metric `name` (with `label`=`value` when given) among
// `families`; -1 when absent.
double MetricValue(const std::vector<prometheus::MetricFamily>& families, const std::string& name,
                   const std::string& label = "", const std::string& value = "") {
  for (const prometheus::MetricFamily& f : families) {
    if (f.name != name) continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      bool match = label.empty();
      for (const prometheus::ClientMetric::Label& l : m.label) {
        match = match || (l.name == label && l.value == value);
      }
      if (!match) continue;
      return f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  return -1;
}

TEST(MailboxFloodTest, TenThousandOfflineUsersStayWithinTheMemoryBound) {
  testing::TempDir dir;
  testing::TestDomain contoso("contoso.test");
  testing::TestDomain fabrikam("fabrikam.test");
  testing::NodeFiles fe_files =
      WriteNode(contoso, dir, "fe1", contoso.IssueNode("frontend", "fe1", "fe1.contoso.test"));
  testing::NodeFiles edge_files =
      WriteNode(contoso, dir, "edge1", contoso.IssueNode("edge", "edge1", "edge1.contoso.test"));

  constexpr size_t kBound = 1 << 20;
  TestNode::Options o;
  o.role = "frontend";
  o.trust_domain = "contoso.test";
  o.realm = testing::kContosoRealm;
  o.dns_name = "fe1.contoso.test";
  o.certificate_file = fe_files.certificate_file;
  o.key_file = fe_files.key_file;
  o.mailboxes.total_bytes = kBound;
  std::unique_ptr<TestNode> fe = TestNode::Start(o);
  ASSERT_NE(fe, nullptr);
  testing::Install(&fe->holder(), ContosoState(contoso, fabrikam, 1));

  std::unique_ptr<testing::ClientSide> edge =
      MakeClient("contoso.test", ContosoState(contoso, fabrikam, 1), edge_files);
  auto stub = v1::FrontEnd::NewStub(edge->channels->Get(
      {fe->internal_address(), "fe1.contoso.test", "contoso.test", {pki::Role::kFrontend}}));

  constexpr int kUsers = 10000;
  const std::string body(1000, 'x');
  int queued = 0;
  int refused = 0;
  for (int i = 0; i < kUsers; ++i) {
    v1::DeliverRequest request;
    v1::Message* m = request.mutable_message();
    m->set_id(absl::StrCat("m", i));
    m->set_from("bob@fabrikam.test");
    m->set_to(absl::StrCat("user", i, "@contoso.test"));
    m->set_body(body);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::DeliverResponse response;
    grpc::Status s = stub->Deliver(&ctx, request, &response);
    if (s.ok()) {
      ASSERT_EQ(response.disposition(), "queued");
      ++queued;
      continue;
    }
    ASSERT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
    ASSERT_THAT(s.error_message(), HasSubstr("mailboxes are full"));
    ASSERT_THAT(s.error_message(), Not(HasSubstr("@contoso.test")));
    ++refused;
  }
  EXPECT_GT(queued, 0);
  EXPECT_GT(refused, kUsers / 2);

  const std::vector<prometheus::MetricFamily> metrics =
      MailboxFamilies(fe->frontend()->mailboxes().counts());
  const double bytes = MetricValue(metrics, "trustfabric_node_queued_message_bytes");
  EXPECT_GT(bytes, 0);
  EXPECT_LE(bytes, static_cast<double>(kBound));
  EXPECT_EQ(MetricValue(metrics, "trustfabric_node_queued_messages"), queued);
  EXPECT_EQ(MetricValue(metrics, "trustfabric_node_queued_message_refused_total", "bound", "total"),
            refused);
  EXPECT_EQ(
      MetricValue(metrics, "trustfabric_node_queued_message_refused_total", "bound", "per_user"),
      0);
}

}  // namespace
}  // namespace trustfabric::node
