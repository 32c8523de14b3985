// The shared credentials and config files: the INI dialect the AWS CLI
// writes, profile lookup across both files, and a clear "file:line" error
// for every malformed or incomplete profile.
#include "server/s3/profile_credentials.h"

#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::TempDir;

std::string WriteFile(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

bool Contains(absl::string_view haystack, absl::string_view needle) {
  return haystack.find(needle) != absl::string_view::npos;
}

TEST(IniFileTest, ReadsTheAwsDialect) {
  absl::StatusOr<IniFile> ini = ParseIniFile(
      "\xEF\xBB\xBF# a comment\r\n"
      "; another\n"
      "\n"
      "[default]\r\n"
      "  aws_access_key_id = AKIDDEFAULT   \r\n"  // indented, but no key to continue
      "AWS_Secret_Access_Key=secret/with+chars=  # inline comment\n"
      "region: eu-west-1 ; inline too\n"
      "s3 =\n"
      "    max_concurrent_requests = 20\n"
      "    addressing_style = path\n"
      "\n"
      "[ profile   ci ]  # comment after a header\n"
      "role_arn = arn:aws:iam::123456789012:role/x#not-a-comment\n"
      "empty =\n",
      "creds");
  ASSERT_TRUE(ini.ok()) << ini.status();
  ASSERT_EQ(ini->sections.size(), 2u);
  const IniSection* def = ini->Find("default");
  ASSERT_NE(def, nullptr);
  EXPECT_EQ(def->line, 4);
  ASSERT_NE(def->Find("aws_access_key_id"), nullptr);
  EXPECT_EQ(def->Find("aws_access_key_id")->value, "AKIDDEFAULT");
  EXPECT_EQ(def->Find("aws_access_key_id")->line, 5);
  ASSERT_NE(def->Find("aws_secret_access_key"), nullptr);
  EXPECT_EQ(def->Find("aws_secret_access_key")->value, "secret/with+chars=");
  ASSERT_NE(def->Find("region"), nullptr);
  EXPECT_EQ(def->Find("region")->value, "eu-west-1");
  ASSERT_NE(def->Find("s3"), nullptr);
  EXPECT_EQ(def->Find("s3")->value, "");
  EXPECT_EQ(def->Find("max_concurrent_requests"), nullptr);  // nested, skipped
  EXPECT_EQ(def->entries.size(), 4u);
  const IniSection* ci = ini->Find("profile   ci");
  ASSERT_NE(ci, nullptr);
  ASSERT_NE(ci->Find("role_arn"), nullptr);
  ASSERT_NE(ci->Find("empty"), nullptr);
  EXPECT_EQ(ci->Find("role_arn")->value, "arn:aws:iam::123456789012:role/x#not-a-comment");
  EXPECT_EQ(ci->Find("empty")->value, "");
}

TEST(IniFileTest, IndentedLinesAfterAKeyContinueIt) {
  // As in the AWS CLI's parser: the indented line belongs to the key above,
  // so it is not a key of its own and the profile lacks its secret.
  absl::StatusOr<IniFile> ini =
      ParseIniFile("[default]\naws_access_key_id = AK\n  aws_secret_access_key = S\n", "c");
  ASSERT_TRUE(ini.ok()) << ini.status();
  EXPECT_EQ(ini->Find("default")->Find("aws_secret_access_key"), nullptr);
}

TEST(IniFileTest, MalformedLinesNameFileAndLine) {
  auto error = [](const std::string& text) {
    return std::string(ParseIniFile(text, "/home/u/.aws/credentials").status().message());
  };
  EXPECT_EQ(error("[default]\naws_access_key_id AKID\n"),
            "/home/u/.aws/credentials:2: expected 'key = value' or '[section]'");
  EXPECT_EQ(error("aws_access_key_id = AKID\n"),
            "/home/u/.aws/credentials:1: a key before the first [section]");
  EXPECT_EQ(error("[default]\na = 1\n[default]\n"),
            "/home/u/.aws/credentials:3: section [default] repeats (first at line 1)");
  EXPECT_EQ(error("[default]\na = 1\nA = 2\n"),
            "/home/u/.aws/credentials:3: key a repeats in [default] (first at line 2)");
  EXPECT_EQ(error("[default\n"), "/home/u/.aws/credentials:1: expected '[section]'");
  EXPECT_EQ(error("[default] junk\n"), "/home/u/.aws/credentials:1: expected '[section]'");
  EXPECT_EQ(error("[  ]\n"), "/home/u/.aws/credentials:1: empty section name");
  EXPECT_EQ(error("[default]\n= value\n"),
            "/home/u/.aws/credentials:2: expected 'key = value' or '[section]'");
  EXPECT_EQ(error(std::string("[default]\na = b\0c\n", 18)),
            "/home/u/.aws/credentials:2: contains a NUL byte");
}

TEST(IniFileTest, ReadIniFileIsBoundedAndNamesThePath) {
  TempDir dir;
  absl::StatusOr<IniFile> missing = ReadIniFile(dir.path() + "/nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(missing.status().message(), dir.path() + "/nope"));

  const std::string big =
      WriteFile(dir, "big", "[default]\n# " + std::string(kMaxSharedConfigFileBytes, 'x') + "\n");
  absl::StatusOr<IniFile> oversize = ReadIniFile(big);
  EXPECT_EQ(oversize.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(oversize.status().message(), big)) << oversize.status();
  EXPECT_TRUE(Contains(oversize.status().message(), "over the limit of 1048576"))
      << oversize.status();
  EXPECT_FALSE(ReadIniFile(WriteFile(dir, "small", "[a]\nb = c\n"), 8).ok());

  absl::StatusOr<IniFile> directory = ReadIniFile(dir.path());
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(directory.status().message(), "not a regular file"));

  absl::StatusOr<IniFile> ok = ReadIniFile(WriteFile(dir, "ok", "[a]\nb = c\n"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->Find("a")->Find("b")->value, "c");
}

class SharedConfigFilesTest : public ::testing::Test {
 protected:
  absl::StatusOr<SharedConfigFiles> Load(const std::string& credentials,
                                         const std::string& config) {
    credentials_path_ = WriteFile(dir_, "credentials", credentials);
    config_path_ = WriteFile(dir_, "config", config);
    return SharedConfigFiles::Load(credentials_path_, config_path_);
  }

  TempDir dir_;
  std::string credentials_path_;
  std::string config_path_;
};

TEST_F(SharedConfigFilesTest, DefaultAndNamedProfilesFromTheCredentialsFile) {
  absl::StatusOr<SharedConfigFiles> files = Load(
      "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = SECRETDEFAULT\n\n"
      "[uploader]\naws_access_key_id=AKIDUP\naws_secret_access_key=SECRETUP\n"
      "aws_session_token=TOKENUP\n",
      "");
  ASSERT_TRUE(files.ok()) << files.status();
  absl::StatusOr<std::optional<SharedProfile>> def = files->Find("default");
  ASSERT_TRUE(def.ok()) << def.status();
  ASSERT_TRUE(def->has_value());
  ASSERT_TRUE((*def)->keys.has_value());
  EXPECT_EQ((*def)->keys->access_key_id, "AKIDDEFAULT");
  EXPECT_EQ((*def)->keys->secret_access_key, "SECRETDEFAULT");
  EXPECT_EQ((*def)->keys->session_token, "");
  EXPECT_EQ((*def)->keys->expiration, absl::InfiniteFuture());
  EXPECT_EQ((*def)->location, credentials_path_ + ":1");

  absl::StatusOr<std::optional<SharedProfile>> up = files->Find("uploader");
  ASSERT_TRUE(up.ok() && up->has_value());
  EXPECT_EQ((*up)->keys->access_key_id, "AKIDUP");
  EXPECT_EQ((*up)->keys->session_token, "TOKENUP");
  EXPECT_EQ((*up)->location, credentials_path_ + ":5");

  absl::StatusOr<std::optional<SharedProfile>> none = files->Find("other");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(SharedConfigFilesTest, ConfigOnlyProfiles) {
  absl::StatusOr<SharedConfigFiles> files =
      Load("",
           "[default]\nregion = eu-west-1\n\n[profile ci]\naws_access_key_id = AKIDCI\n"
           "aws_secret_access_key = SECRETCI\n[ci]\naws_access_key_id = NOT-A-PROFILE\n"
           "aws_secret_access_key = X\n[sso-session corp]\nsso_region = eu-west-1\n");
  ASSERT_TRUE(files.ok()) << files.status();
  absl::StatusOr<std::optional<SharedProfile>> ci = files->Find("ci");
  ASSERT_TRUE(ci.ok() && ci->has_value()) << ci.status();
  EXPECT_EQ((*ci)->keys->access_key_id, "AKIDCI");  // [ci] is not a profile in the config file
  EXPECT_EQ((*ci)->location, config_path_ + ":4");

  absl::StatusOr<std::optional<SharedProfile>> def = files->Find("default");
  ASSERT_TRUE(def.ok() && def->has_value());
  EXPECT_FALSE((*def)->keys.has_value());  // a region only
  EXPECT_TRUE((*def)->role_arn.empty());
}

TEST_F(SharedConfigFilesTest, CredentialsFileWinsOverConfig) {
  absl::StatusOr<SharedConfigFiles> files = Load(
      "[app]\naws_access_key_id = FROMCREDS\naws_secret_access_key = S1\n"
      "role_session_name = from-creds\n",
      "[profile app]\naws_access_key_id = FROMCONFIG\naws_secret_access_key = S2\n"
      "role_arn = arn:aws:iam::123456789012:role/app\nsource_profile = base\n"
      "role_session_name = from-config\nexternal_id = ext-1\nduration_seconds = 1800\n"
      "[profile default]\nregion = x\n[default]\nregion = y\n");
  ASSERT_TRUE(files.ok()) << files.status();
  absl::StatusOr<std::optional<SharedProfile>> app = files->Find("app");
  ASSERT_TRUE(app.ok() && app->has_value()) << app.status();
  EXPECT_EQ((*app)->keys->access_key_id, "FROMCREDS");
  EXPECT_EQ((*app)->role_arn, "arn:aws:iam::123456789012:role/app");
  EXPECT_EQ((*app)->role_location, config_path_ + ":4");
  EXPECT_EQ((*app)->source_profile, "base");
  EXPECT_EQ((*app)->role_session_name, "from-creds");
  EXPECT_EQ((*app)->external_id, "ext-1");
  EXPECT_EQ((*app)->duration, absl::Minutes(30));
  EXPECT_EQ((*app)->location, credentials_path_ + ":1");
  absl::StatusOr<std::optional<SharedProfile>> def = files->Find("default");
  ASSERT_TRUE(def.ok() && def->has_value());
  EXPECT_EQ((*def)->location, config_path_ + ":9");  // [profile default] over [default]
}

TEST_F(SharedConfigFilesTest, IncompleteKeysAreAnErrorAtTheirLine) {
  absl::StatusOr<SharedConfigFiles> files = Load(
      "[default]\nregion = x\naws_access_key_id = AKID\n\n[b]\naws_secret_access_key = S\n"
      "[c]\naws_access_key_id = AK ID\naws_secret_access_key = S\n"
      "[d]\naws_access_key_id =\naws_secret_access_key = S\n",
      "[profile e]\naws_access_key_id = AKID\naws_secret_access_key = S\n"
      "duration_seconds = 60\n");
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->Find("default").status().message(),
            credentials_path_ +
                ":3: profile 'default' has aws_access_key_id but no aws_secret_access_key");
  EXPECT_EQ(
      files->Find("b").status().message(),
      credentials_path_ + ":6: profile 'b' has aws_secret_access_key but no aws_access_key_id");
  EXPECT_EQ(files->Find("c").status().message(),
            credentials_path_ +
                ":8: profile 'c': aws_access_key_id contains a space, control or non-ASCII "
                "character");
  EXPECT_EQ(files->Find("d").status().message(),
            credentials_path_ + ":11: profile 'd': aws_access_key_id is empty");
  EXPECT_EQ(files->Find("e").status().message(),
            config_path_ + ":4: profile 'e': duration_seconds must be 900..43200, got \"60\"");
  EXPECT_EQ(files->Find("e").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SharedConfigFilesTest, UnsupportedSourcesAreRecorded) {
  absl::StatusOr<SharedConfigFiles> files =
      Load("", "[profile p]\ncredential_process = /usr/bin/get-creds\n");
  ASSERT_TRUE(files.ok()) << files.status();
  absl::StatusOr<std::optional<SharedProfile>> p = files->Find("p");
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_EQ((*p)->unsupported_setting, "credential_process (" + config_path_ + ":2)");
}

TEST_F(SharedConfigFilesTest, MissingFilesAreEmptyAndBrokenOnesAreErrors) {
  absl::StatusOr<SharedConfigFiles> files =
      SharedConfigFiles::Load(dir_.path() + "/none", dir_.path() + "/none-either");
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_FALSE(files->Find("default")->has_value());
  EXPECT_EQ(files->DescribeFiles(),
            dir_.path() + "/none (missing), " + dir_.path() + "/none-either (missing)");
  EXPECT_EQ(SharedConfigFiles::Load("", "")->DescribeFiles(),
            "no credentials file, no config file");

  absl::StatusOr<SharedConfigFiles> broken = Load("[default]\nnonsense\n", "");
  EXPECT_EQ(broken.status().message(),
            credentials_path_ + ":2: expected 'key = value' or '[section]'");
}

TEST(ProfileCredentialsProviderTest, HandsOutTheKeysAndNamesTheProfile) {
  ProfileCredentialsProvider provider(
      "uploader",
      AwsCredentials{.access_key_id = "AK", .secret_access_key = "SK", .session_token = ""});
  absl::StatusOr<AwsCredentials> got = provider.Get();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->access_key_id, "AK");
  EXPECT_EQ(got->secret_access_key, "SK");
  EXPECT_EQ(provider.Describe(), "profile uploader");
}

}  // namespace
}  // namespace ingest
