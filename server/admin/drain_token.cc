#include "server/admin/drain_token.h"

#include <fstream>

#include "absl/strings/str_cat.h"

namespace ingest {

absl::StatusOr<std::string> ReadDrainToken(const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("drain.token_file ", path, ": cannot read"));
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\r' || token.back() == '\t')) token.pop_back();
  if (token.size() < 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("drain.token_file ", path, ": the token's first line must hold at least 16 characters"));
  }
  return token;
}

}  // namespace ingest
