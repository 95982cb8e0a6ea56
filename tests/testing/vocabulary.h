// The names nearly every test file uses, declared once: gMock's common
// matchers and this folder's status matchers, temp dirs and test PKIs, made
// visible in namespace trustfabric, so a test in trustfabric::<room> names
// them without a list of using-declarations of its own (the list was the
// same in most files). Include it only from tests.
//
//   #include "tests/testing/vocabulary.h"
//
//   namespace trustfabric::pki {
//   TEST(PkiPem, EmptyInput) {
//     EXPECT_THAT(ParsePemBundle(""), StatusIs(absl::StatusCode::kInvalidArgument, "empty"));
//     TempDir dir;
//     EXPECT_THAT(ReadFile(dir.Write("a.pem", "x")), HasSubstr("x"));
//   }
//   }  // namespace trustfabric::pki
#ifndef TRUSTFABRIC_TESTS_TESTING_VOCABULARY_H_
#define TRUSTFABRIC_TESTS_TESTING_VOCABULARY_H_

#include "gmock/gmock.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace trustfabric {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

using testing::IsOk;
using testing::ReadFile;
using testing::StatusIs;
using testing::TempDir;
using testing::TestDomain;

}  // namespace trustfabric

#endif  // TRUSTFABRIC_TESTS_TESTING_VOCABULARY_H_
