#include "server/ingestd/ingestd_usage.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "server/config/ingest_config.h"

namespace ingest {
namespace {

// Where the configuration flags are defined; each one's help starts with
// "Overrides <section>.<key>".
constexpr absl::string_view kConfigFlagsFile = "server/config/ingest_flags.cc";
constexpr absl::string_view kOverrides = "Overrides ";
constexpr size_t kWidth = 80;
constexpr size_t kLabelWidth = 12;

// The sections in the order the configuration file has them (the order
// ConfigToToml prints their "[section]" headers in).
std::vector<std::string> SectionOrder() {
  std::vector<std::string> sections;
  for (absl::string_view line : absl::StrSplit(ConfigToToml(IngestConfig{}), '\n')) {
    if (line.size() > 2 && line.front() == '[' && line.back() == ']') {
      sections.emplace_back(line.substr(1, line.size() - 2));
    }
  }
  return sections;
}

// "server" for a flag whose help reads "Overrides server.zone: ..."; "" for
// one that overrides no key.
std::string SectionOf(const absl::CommandLineFlag& flag) {
  const std::string help = flag.Help();
  if (!absl::StartsWith(help, kOverrides)) return "";
  const absl::string_view key = absl::string_view(help).substr(kOverrides.size());
  const size_t dot = key.find('.');
  return dot == absl::string_view::npos ? "" : std::string(key.substr(0, dot));
}

// "  <label>  --a --b ..." wrapped at kWidth, continuation lines indented
// under the first flag.
std::string IndexLines(absl::string_view label, const std::vector<std::string>& flags) {
  const std::string indent(2 + kLabelWidth, ' ');
  std::string out =
      absl::StrCat("  ", label, std::string(label.size() < kLabelWidth ? kLabelWidth - label.size() : 1, ' '));
  size_t column = out.size();
  bool first = true;
  for (const std::string& name : flags) {
    const std::string word = absl::StrCat("--", name);
    if (!first && column + 1 + word.size() > kWidth) {
      absl::StrAppend(&out, "\n", indent);
      column = indent.size();
      first = true;
    }
    absl::StrAppend(&out, first ? "" : " ", word);
    column += (first ? 0 : 1) + word.size();
    first = false;
  }
  return absl::StrCat(out, "\n");
}

// The normalized form absl shows: the path from the source tree's "server/"
// on, else without leading slashes (absl's own default).
std::string NormalizeFilename(absl::string_view filename) {
  const size_t server = filename.rfind("/server/");
  if (server != absl::string_view::npos) return std::string(filename.substr(server + 1));
  const size_t start = filename.find_first_not_of('/');
  return start == absl::string_view::npos ? "" : std::string(filename.substr(start));
}

}  // namespace

std::string ConfigFlagIndex() {
  std::map<std::string, std::vector<std::string>> by_section;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!absl::EndsWith(flag->Filename(), kConfigFlagsFile)) continue;
    by_section[SectionOf(*flag)].emplace_back(name);
  }
  std::string out =
      "Configuration: the file given by --config (TOML), each of its keys\n"
      "overridden by one of these flags (dashes work too: --max-connections);\n"
      "--print_config shows the result. By section of the file:\n";
  std::vector<std::string> sections = SectionOrder();
  // Sections the file does not print (none today) come last.
  for (const auto& [section, flags] : by_section) {
    if (std::find(sections.begin(), sections.end(), section) == sections.end()) sections.push_back(section);
  }
  for (const std::string& section : sections) {
    auto it = by_section.find(section);
    if (it == by_section.end()) continue;
    std::sort(it->second.begin(), it->second.end());
    absl::StrAppend(&out, IndexLines(section.empty() ? "other" : absl::StrCat("[", section, "]"), it->second));
  }
  return out;
}

bool ShownByHelp(absl::string_view filename) {
  return absl::EndsWith(filename, "/ingestd_main.cc") || filename == "ingestd_main.cc" ||
         absl::EndsWith(filename, kConfigFlagsFile);
}

void SetIngestdUsage(absl::string_view synopsis) {
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view filename) { return ShownByHelp(filename); };
  usage.normalize_filename = [](absl::string_view filename) { return NormalizeFilename(filename); };
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(absl::StrCat(synopsis, "\n\n", ConfigFlagIndex()));
}

}  // namespace ingest
