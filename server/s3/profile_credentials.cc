#include "server/s3/profile_credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/std_string_view.h"
#include "server/s3/refreshing_credentials.h"

namespace ingest {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Cuts a comment that starts with '#' or ';' after whitespace, as the AWS
// CLI does; key ids, secrets and ARNs never contain " #" or " ;".
std::string_view StripInlineComment(std::string_view s) {
  for (size_t i = 1; i < s.size(); ++i) {
    if ((s[i] == '#' || s[i] == ';') && IsSpace(s[i - 1])) return Trim(s.substr(0, i));
  }
  return s;
}

bool IsComment(std::string_view trimmed) {
  return !trimmed.empty() && (trimmed.front() == '#' || trimmed.front() == ';');
}

absl::Status LineError(std::string_view path, int line, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(ToAbsl(path), ":", line, ": ", ToAbsl(what)));
}

std::string Location(std::string_view path, int line) {
  return absl::StrCat(ToAbsl(path), ":", line);
}

// The profile a config-file section defines: "profile NAME" -> NAME, and
// "default" -> "default"; "" for other sections (sso-session, services, ...).
std::string_view ConfigSectionProfile(std::string_view section) {
  if (section == "default") return section;
  constexpr std::string_view kPrefix = "profile";
  if (section.size() > kPrefix.size() && section.substr(0, kPrefix.size()) == kPrefix &&
      IsSpace(section[kPrefix.size()])) {
    return Trim(section.substr(kPrefix.size()));
  }
  return {};
}

// The first of `key` in `first` then `second` (either may be null), with the
// path of the file it came from.
struct Found {
  const IniValue* value = nullptr;
  std::string_view path;
};
Found Lookup(std::string_view key, const IniSection* first, std::string_view first_path,
             const IniSection* second, std::string_view second_path) {
  if (first != nullptr) {
    if (const IniValue* v = first->Find(key)) return {v, first_path};
  }
  if (second != nullptr) {
    if (const IniValue* v = second->Find(key)) return {v, second_path};
  }
  return {};
}

// The long-lived keys of `section`, if it sets either key; an error at the
// line of the key that is there when its partner is missing.
absl::StatusOr<std::optional<AwsCredentials>> KeysFrom(const IniSection& section,
                                                       std::string_view path,
                                                       std::string_view profile) {
  const IniValue* id = section.Find("aws_access_key_id");
  const IniValue* secret = section.Find("aws_secret_access_key");
  const IniValue* token = section.Find("aws_session_token");
  if (id == nullptr && secret == nullptr) return std::nullopt;
  if (secret == nullptr) {
    return LineError(path, id->line,
                     absl::StrCat("profile '", ToAbsl(profile),
                                  "' has aws_access_key_id but no aws_secret_access_key"));
  }
  if (id == nullptr) {
    return LineError(path, secret->line,
                     absl::StrCat("profile '", ToAbsl(profile),
                                  "' has aws_secret_access_key but no aws_access_key_id"));
  }
  AwsCredentials keys{.access_key_id = id->value,
                      .secret_access_key = secret->value,
                      .session_token = token != nullptr ? token->value : ""};
  absl::Status status =
      CheckCredentialText("aws_access_key_id", keys.access_key_id, kMaxAccessKeyIdBytes);
  int line = id->line;
  if (status.ok()) {
    status = CheckCredentialText("aws_secret_access_key", keys.secret_access_key,
                                 kMaxSecretAccessKeyBytes);
    line = secret->line;
  }
  if (status.ok() && !keys.session_token.empty()) {
    status = CheckCredentialText("aws_session_token", keys.session_token, kMaxSessionTokenBytes);
    line = token->line;
  }
  if (!status.ok()) {
    return LineError(path, line,
                     absl::StrCat("profile '", ToAbsl(profile), "': ", status.message()));
  }
  return keys;
}

}  // namespace

const IniValue* IniSection::Find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k == key) return &v;
  }
  return nullptr;
}

const IniSection* IniFile::Find(std::string_view name) const {
  for (const IniSection& s : sections) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

absl::StatusOr<IniFile> ParseIniFile(std::string_view text, std::string_view path) {
  IniFile file;
  file.path = std::string(path);
  constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
  if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) text.remove_prefix(kUtf8Bom.size());

  IniSection* section = nullptr;
  bool after_key = false;  // an indented line now continues the last key
  int line_number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_number;
    if (line.find('\0') != std::string_view::npos) {
      return LineError(path, line_number, "contains a NUL byte");
    }
    const std::string_view trimmed = Trim(line);
    if (trimmed.empty() || IsComment(trimmed)) continue;
    if (IsSpace(line.front()) && after_key) continue;

    if (trimmed.front() == '[') {
      const size_t close = trimmed.rfind(']');
      const std::string_view rest =
          close == std::string_view::npos ? std::string_view() : Trim(trimmed.substr(close + 1));
      if (close == std::string_view::npos || (!rest.empty() && !IsComment(rest))) {
        return LineError(path, line_number, "expected '[section]'");
      }
      const std::string_view name = Trim(trimmed.substr(1, close - 1));
      if (name.empty()) return LineError(path, line_number, "empty section name");
      if (const IniSection* earlier = file.Find(name)) {
        return LineError(path, line_number,
                         absl::StrCat("section [", ToAbsl(name), "] repeats (first at line ",
                                      earlier->line, ")"));
      }
      section =
          &file.sections.emplace_back(IniSection{.name = std::string(name), .line = line_number});
      after_key = false;
      continue;
    }

    const size_t separator = trimmed.find_first_of("=:");
    if (separator == std::string_view::npos || separator == 0) {
      return LineError(path, line_number, "expected 'key = value' or '[section]'");
    }
    if (section == nullptr) {
      return LineError(path, line_number, "a key before the first [section]");
    }
    const std::string key = absl::AsciiStrToLower(ToAbsl(Trim(trimmed.substr(0, separator))));
    const std::string_view value = StripInlineComment(Trim(trimmed.substr(separator + 1)));
    if (const IniValue* earlier = section->Find(key)) {
      return LineError(path, line_number,
                       absl::StrCat("key ", key, " repeats in [", section->name,
                                    "] (first at line ", earlier->line, ")"));
    }
    section->entries.emplace_back(key, IniValue{.value = std::string(value), .line = line_number});
    after_key = true;
  }
  return file;
}

absl::StatusOr<IniFile> ReadIniFile(const std::string& path, size_t max_bytes) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(err)));
  }
  std::string text;
  absl::Status status;
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    status = absl::UnavailableError(absl::StrCat(path, ": fstat: ", std::strerror(errno)));
  } else if (!S_ISREG(st.st_mode)) {
    status = absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  } else if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    status = absl::InvalidArgumentError(
        absl::StrCat(path, ": ", st.st_size, " bytes, over the limit of ", max_bytes));
  } else {
    // Read at most max_bytes + 1 so a file that grows meanwhile is still caught.
    text.resize(max_bytes + 1);
    size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = read(fd, text.data() + got, text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = absl::UnavailableError(absl::StrCat(path, ": read: ", std::strerror(errno)));
        break;
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    text.resize(got);
    if (status.ok() && got > max_bytes) {
      status = absl::InvalidArgumentError(
          absl::StrCat(path, ": over the limit of ", max_bytes, " bytes"));
    }
  }
  close(fd);
  if (!status.ok()) return status;
  return ParseIniFile(text, path);
}

absl::StatusOr<SharedConfigFiles> SharedConfigFiles::Load(std::string credentials_path,
                                                          std::string config_path) {
  SharedConfigFiles files;
  files.credentials_.path = std::move(credentials_path);
  files.config_.path = std::move(config_path);
  for (File* file : {&files.credentials_, &files.config_}) {
    if (file->path.empty()) continue;
    absl::StatusOr<IniFile> ini = ReadIniFile(file->path);
    if (absl::IsNotFound(ini.status())) continue;
    if (!ini.ok()) return ini.status();
    file->exists = true;
    file->ini = *std::move(ini);
  }
  return files;
}

absl::StatusOr<std::optional<SharedProfile>> SharedConfigFiles::Find(std::string_view name) const {
  const IniSection* credentials = credentials_.exists ? credentials_.ini.Find(name) : nullptr;
  const IniSection* config = nullptr;
  if (config_.exists) {
    // "[profile default]" wins over "[default]" when a file has both.
    for (const IniSection& s : config_.ini.sections) {
      if (ConfigSectionProfile(s.name) != name) continue;
      if (config == nullptr || s.name != "default") config = &s;
    }
  }
  if (credentials == nullptr && config == nullptr) return std::nullopt;

  SharedProfile profile;
  profile.name = std::string(name);
  profile.location = credentials != nullptr ? Location(credentials_.path, credentials->line)
                                            : Location(config_.path, config->line);
  if (credentials != nullptr) {
    absl::StatusOr<std::optional<AwsCredentials>> keys =
        KeysFrom(*credentials, credentials_.path, name);
    if (!keys.ok()) return keys.status();
    profile.keys = *std::move(keys);
  }
  if (!profile.keys && config != nullptr) {
    absl::StatusOr<std::optional<AwsCredentials>> keys = KeysFrom(*config, config_.path, name);
    if (!keys.ok()) return keys.status();
    profile.keys = *std::move(keys);
  }

  auto lookup = [&](std::string_view key) {
    return Lookup(key, credentials, credentials_.path, config, config_.path);
  };
  if (Found f = lookup("role_arn"); f.value != nullptr) {
    profile.role_arn = f.value->value;
    profile.role_location = Location(f.path, f.value->line);
  }
  for (auto [key, field] : {std::pair{"source_profile", &profile.source_profile},
                            std::pair{"credential_source", &profile.credential_source},
                            std::pair{"external_id", &profile.external_id},
                            std::pair{"role_session_name", &profile.role_session_name}}) {
    if (Found f = lookup(key); f.value != nullptr) *field = f.value->value;
  }
  if (Found f = lookup("duration_seconds"); f.value != nullptr) {
    int seconds = 0;
    if (!absl::SimpleAtoi(f.value->value, &seconds) || seconds < 900 || seconds > 43200) {
      return LineError(
          f.path, f.value->line,
          absl::StrCat("profile '", ToAbsl(name), "': duration_seconds must be 900..43200, got \"",
                       f.value->value, "\""));
    }
    profile.duration = absl::Seconds(seconds);
  }
  for (std::string_view key :
       {"credential_process", "web_identity_token_file", "sso_session", "sso_start_url"}) {
    if (Found f = lookup(key); f.value != nullptr) {
      profile.unsupported_setting =
          absl::StrCat(ToAbsl(key), " (", Location(f.path, f.value->line), ")");
      break;
    }
  }
  return profile;
}

std::string SharedConfigFiles::DescribeFiles() const {
  auto describe = [](const File& file, std::string_view kind) -> std::string {
    if (file.path.empty()) return absl::StrCat("no ", ToAbsl(kind), " file");
    return file.exists ? file.path : absl::StrCat(file.path, " (missing)");
  };
  return absl::StrCat(describe(credentials_, "credentials"), ", ", describe(config_, "config"));
}

ProfileCredentialsProvider::ProfileCredentialsProvider(std::string profile_name,
                                                       AwsCredentials credentials)
    : profile_name_(std::move(profile_name)), credentials_(std::move(credentials)) {}

absl::StatusOr<AwsCredentials> ProfileCredentialsProvider::Get() { return credentials_; }

std::string ProfileCredentialsProvider::Describe() const {
  return absl::StrCat("profile ", profile_name_);
}

}  // namespace ingest
