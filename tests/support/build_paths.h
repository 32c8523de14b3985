// Test support: where this build's programs and the source tree are, for
// tests that run the real binaries or read files shipped in the tree.
//
//   std::vector<std::string> args = {ingest::testing::IngestdPath(), "--port=0"};
//   std::string rules = ingest::testing::SourceDir() + "/deploy/observability/alerts.yml";
//
// The paths are compiled into one generated file (build_paths.cc in the
// build tree) rather than passed to every test as -D definitions, so the
// test objects do not depend on where the tree was cloned and a compiler
// cache can reuse them across clones.
#ifndef TESTS_SUPPORT_BUILD_PATHS_H_
#define TESTS_SUPPORT_BUILD_PATHS_H_

#include <string>

namespace ingest::testing {

// The source tree's root folder (holds scripts/, deploy/, tests/).
std::string SourceDir();

// This build's server/ingestd.
std::string IngestdPath();

// A program built beside ingestd's folder: BuiltProgram("server/ingestctl"),
// BuiltProgram("zones/zonectl").
std::string BuiltProgram(const std::string& path_in_build_tree);

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_BUILD_PATHS_H_
