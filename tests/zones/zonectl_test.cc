// zonectl as an operator runs it: the real binary on good and bad maps, its
// output and its exit codes (0 fine, 1 bad map or input, 2 usage error).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/build_paths.h"
#include "tests/support/temp_dir.h"

namespace ingest::zones {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// zonectl, built in zones/ of this build tree.
std::string ZonectlPath() {
  return ingest::testing::BuiltProgram("zones/zonectl");
}

std::string SourceDir() { return ingest::testing::SourceDir(); }

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, std::string_view text) {
  std::ofstream out(path);
  out << text;
}

class ZonectlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(ZonectlPath())) << ZonectlPath() << " is missing: build the zonectl target";
  }

  // Runs zonectl with `args`, killing it if it takes over 60 seconds.
  Result Run(std::vector<std::string> args) {
    const std::string out_path = dir_.path() + "/stdout";
    const std::string err_path = dir_.path() + "/stderr";
    args.insert(args.begin(), ZonectlPath());
    pid_t pid = fork();
    if (pid == 0) {
      int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, 1);
      dup2(err, 2);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    Result result;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (absl::Now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ADD_FAILURE() << "zonectl took over 60 s";
        return result;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = ReadAll(out_path);
    result.err = ReadAll(err_path);
    return result;
  }

  std::string Write(const std::string& name, std::string_view text) {
    std::string path = dir_.path() + "/" + name;
    WriteFile(path, text);
    return path;
  }

  std::string Example() const { return SourceDir() + "/deploy/zones.example.toml"; }

  ingest::testing::TempDir dir_;
};

constexpr char kTwoZones[] = R"([[zone]]
id = "a"
subnets = ["10.0.0.0/20"]
endpoint = "a.example.com:7443"
capacity_per_server = 100
[zone.store]
bucket = "recordings"
region = "eu-west-1"
[zone.cameras]
ids = ["cam-0000001"]

[[zone]]
id = "b"
subnets = ["10.0.16.0/20"]
endpoint = "b.example.com:7443"
capacity_per_server = 100
[zone.store]
bucket = "recordings"
region = "eu-west-1"
)";

constexpr char kThirdZone[] = R"(
[[zone]]
id = "c"
subnets = ["10.0.32.0/20"]
endpoint = "c.example.com:7443"
capacity_per_server = 100
[zone.store]
bucket = "recordings"
region = "eu-west-1"
)";

TEST_F(ZonectlTest, CheckAcceptsTheDeployExampleAndSummarizesIt) {
  Result r = Run({"check", Example()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(": ok, 3 zones, sha256 "));
  EXPECT_THAT(r.out, HasSubstr("cameras no pin matches: rendezvous hash over 3 zones (apne1-a, apne1-c, apne3-a)"));
  EXPECT_THAT(r.out, HasSubstr("zone apne3-a\n"));
  EXPECT_THAT(r.out, HasSubstr("  endpoint  apne3-a.cameras.example.com:7443\n"));
  EXPECT_THAT(r.out, HasSubstr("  hash      weight 2 (50.00% of hashed cameras)\n"));
  EXPECT_THAT(r.out, HasSubstr("  pins      2 ids, 1 range, 0 prefixes\n"));
  EXPECT_EQ(r.err, "");
}

TEST_F(ZonectlTest, CheckRefusesABadMapWithFileLineAndField) {
  std::string path = Write("bad.toml", "[[zone]]\nid = \"a\"\nsubnets = [\"10.0.0.1/20\"]\n");
  Result r = Run({"check", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "zonectl: " + path +
                       ":3: zone[a].subnets[0]: bad CIDR \"10.0.0.1/20\": host bits are set (the network is "
                       "10.0.0.0/20)\n");
  EXPECT_EQ(r.out, "");

  r = Run({"check", dir_.path() + "/missing.toml"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot open zone map"));
}

TEST_F(ZonectlTest, UsageErrorsExitTwo) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"frobnicate"},
           {"check"},
           {"check", "a.toml", "b.toml"},
           {"check", "--no_such_flag", Example()},
           {"where", "cam-1"},
           {"where", "--map", Example()},
           {"where", "--map"},
           {"diff", Example()},
           {"diff", Example(), Example(), "--synthetic", "0"},
           {"diff", Example(), Example(), "--synthetic=many"},
           {"diff", Example(), Example(), "--id_format", "cam-%s"},
           {"diff", Example(), Example(), "--cameras", "ids.txt", "--synthetic", "5"},
       }) {
    Result r = Run(args);
    std::string command = args.empty() ? "(nothing)" : args[0];
    EXPECT_EQ(r.exit_code, 2) << command << ": " << r.err;
    EXPECT_THAT(r.err, StartsWith("zonectl: ")) << command;
    EXPECT_THAT(r.err, HasSubstr("zonectl where --map FILE CAMERA...")) << command;  // the usage follows
  }
}

TEST_F(ZonectlTest, HelpPrintsUsageAndExitsZero) {
  for (std::string flag : {"--help", "-h", "help"}) {
    Result r = Run({flag});
    EXPECT_EQ(r.exit_code, 0) << flag;
    EXPECT_THAT(r.out, HasSubstr("zonectl diff OLD NEW [--cameras FILE | --synthetic N --id_format cam-%07d]"));
  }
}

TEST_F(ZonectlTest, WhereSaysZoneEndpointAndWhy) {
  Result r =
      Run({"where", "--map", Example(), "cam-0000042", "cam-9000001", "resell-eu-7", "resell-us-1", "cam-0000001"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "camera       zone     endpoint                          rule    reason\n"
            "cam-0000042  apne1-c  apne1-c.cameras.example.com:7443  id      camera id listed by zone apne1-c\n"
            "cam-9000001  apne1-c  apne1-c.cameras.example.com:7443  range   id range cam-9000000..cam-9099999 of "
            "zone apne1-c\n"
            "resell-eu-7  apne1-a  apne1-a.cameras.example.com:7443  prefix  id prefix resell-eu- of zone apne1-a\n"
            "resell-us-1  apne3-a  apne3-a.cameras.example.com:7443  prefix  id prefix resell- of zone apne3-a\n"
            "cam-0000001  apne3-a  apne3-a.cameras.example.com:7443  hash    rendezvous hash over 3 zones picks "
            "apne3-a\n");
}

TEST_F(ZonectlTest, WhereExitsOneForAnUnknownCamera) {
  std::string path = Write("none.toml", std::string("[map]\ndefault = \"none\"\n") + kTwoZones);
  Result r = Run({"where", "--map=" + path, "cam-0000001", "cam-0000002"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("cam-0000001  a     a.example.com:7443  id    camera id listed by zone a\n"));
  EXPECT_THAT(r.out, HasSubstr("cam-0000002  -     -                   none  no zone lists this camera id"));
}

TEST_F(ZonectlTest, WhereTakesFlagsAfterOperandsAndRefusesABadMap) {
  std::string bad = Write("bad.toml", "[[zone]]\nid = \"a\"\nendpoint = 7443\n");
  Result r = Run({"where", "--map", bad, "cam-1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(bad + ":1: zone[a].subnets: missing (required)"));

  std::string good = Write("good.toml", kTwoZones);
  r = Run({"where", "cam-0000001", "--map", good});  // flags after operands too
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(ZonectlTest, DiffCountsMovesBetweenZones) {
  std::string old_map = Write("old.toml", kTwoZones);
  std::string new_map = Write("new.toml", std::string(kTwoZones) + kThirdZone);
  Result r = Run({"diff", old_map, new_map, "--synthetic", "30000", "--id-format", "cam-%07d"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("cameras: 30000 synthetic ids cam-0000001 .. cam-0030000\n"));
  EXPECT_THAT(r.out, HasSubstr("\nfrom  to  cameras  share\n"));
  EXPECT_THAT(r.out, HasSubstr("\na     c   "));
  EXPECT_THAT(r.out, HasSubstr("\nb     c   "));
  EXPECT_THAT(r.out, Not(HasSubstr("\na     b ")));  // rendezvous: nothing moves between old zones
  // About a third moves to the new zone.
  size_t at = r.out.find("moved: ");
  ASSERT_NE(at, std::string::npos) << r.out;
  int moved = std::stoi(r.out.substr(at + 7));
  EXPECT_NEAR(moved, 10000, 600) << r.out;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("moved: ", moved, " of 30000 cameras (")));
}

TEST_F(ZonectlTest, DiffDefaultsToAMillionSyntheticCameras) {
  Result r = Run({"diff", Example(), Example()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("cameras: 1000000 synthetic ids cam-0000001 .. cam-1000000\n"));
  EXPECT_THAT(r.out, HasSubstr("\nmoved: 0 of 1000000 cameras (0.00%)\n"));
}

TEST_F(ZonectlTest, DiffReadsACameraList) {
  std::string old_map = Write("old.toml", std::string("[map]\ndefault = \"none\"\n") + kTwoZones);
  std::string new_map = Write("new.toml", kTwoZones);
  std::string cameras = Write("cameras.txt", "# ids from the registry\ncam-0000001\n\n  cam-0000002  \ncam-0000003\n");
  Result r = Run({"diff", old_map, new_map, "--cameras", cameras});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("cameras: 3 from " + cameras + "\n"));
  EXPECT_THAT(r.out, HasSubstr("(unknown)  2    0    -2\n"));
  EXPECT_THAT(r.out, HasSubstr("\nmoved: 2 of 3 cameras (66.67%)\n"));

  r = Run({"diff", old_map, new_map, "--cameras", dir_.path() + "/nope.txt"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot read camera list"));

  r = Run({"diff", old_map, Write("broken.toml", "[[zone]]\nid = 3\n")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("broken.toml:2: zone[#1].id: wrong type: expected a string, got an integer"));
}

TEST_F(ZonectlTest, PlanIsHandedItsOwnCommandLine) {
  // zonectl's own flag check must not refuse plan's flags; plan answers a
  // flag it does not know itself, as a usage error.
  Result r = Run({"plan", "--no_such_plan_flag=1"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("zonectl: unknown flag")));
}

}  // namespace
}  // namespace ingest::zones
