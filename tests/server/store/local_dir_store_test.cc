#include "server/store/local_dir_store.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::TempDir;

std::vector<uint8_t> Bytes(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

TEST(ObjectKeyTest, AcceptsLayoutKeysAndRejectsUnsafeOnes) {
  EXPECT_TRUE(ValidateObjectKey("dev/cam-1/2026-11-22/10/x_1.cpk").ok());
  for (std::string_view bad : {"", "/abs", "a//b", "a/", "a/../b", "..", "a/./b", "a/.hidden", "a b", "a\\b",
                               "a/b\n", "caf\xc3\xa9"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ValidateObjectKey(bad))) << bad;
  }
  EXPECT_FALSE(ValidateObjectKey(std::string(kMaxObjectKeyBytes + 1, 'a')).ok());
  EXPECT_TRUE(ValidateObjectKey(std::string(kMaxObjectKeyBytes, 'a')).ok());
  EXPECT_TRUE(ValidateObjectPrefix("").ok());
  EXPECT_TRUE(ValidateObjectPrefix("dev/cam-1/").ok());
  EXPECT_TRUE(ValidateObjectPrefix("dev/cam-1/2026-").ok());
  EXPECT_FALSE(ValidateObjectPrefix("dev/../").ok());
}

TEST(LocalDirStoreTest, PutGetRangeHeadDelete) {
  TempDir dir;
  LocalDirStore store(dir.path() + "/root");
  ASSERT_TRUE(store.Put("z/c/obj", Bytes("hello, world")).ok());
  absl::StatusOr<std::vector<uint8_t>> got = store.Get("z/c/obj");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, Bytes("hello, world"));

  absl::StatusOr<std::vector<uint8_t>> range = store.GetRange("z/c/obj", 7, 5);
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(*range, Bytes("world"));
  range = store.GetRange("z/c/obj", 7, 100);  // cut short at the end
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(*range, Bytes("world"));
  range = store.GetRange("z/c/obj", 12, 1);
  ASSERT_TRUE(range.ok());
  EXPECT_TRUE(range->empty());
  EXPECT_TRUE(absl::IsOutOfRange(store.GetRange("z/c/obj", 13, 1).status()));

  absl::StatusOr<ObjectInfo> head = store.Head("z/c/obj");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, 12u);

  ASSERT_TRUE(store.Put("z/c/obj", Bytes("replaced")).ok());
  EXPECT_EQ(*store.Get("z/c/obj"), Bytes("replaced"));

  ASSERT_TRUE(store.Delete("z/c/obj").ok());
  EXPECT_TRUE(absl::IsNotFound(store.Get("z/c/obj").status()));
  EXPECT_TRUE(absl::IsNotFound(store.Head("z/c/obj").status()));
  EXPECT_TRUE(store.Delete("z/c/obj").ok());  // idempotent, like S3
  // Emptied folders go, so listings never show them.
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/root/z"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/root"));
}

// Objects from kDirectPutMinBytes up go through the O_DIRECT path (aligned
// chunks, the last one padded, the file cut back to size); every size around
// the chunk and alignment boundaries comes back byte-exact, from a source
// buffer at a 4 KiB-aligned address (the sealer's batch buffers: written
// straight from memory, only the tail bounced) and at an odd one (all bounced).
TEST(LocalDirStoreTest, LargeObjectsComeBackByteExactAtEverySizeAroundTheBoundaries) {
  TempDir dir;
  LocalDirStore store(dir.path() + "/root");
  for (size_t misalign : {size_t{0}, size_t{1}}) {
    for (size_t size : {kDirectPutMinBytes - 1, kDirectPutMinBytes, kDirectPutMinBytes + 1,
                        kDirectPutMinBytes + 4095, 3 * kDirectPutMinBytes + 4097, size_t{16 << 20},
                        size_t{16 << 20} + 12345}) {
      const size_t storage_bytes = (size + 1 + 4095) / 4096 * 4096;
      std::unique_ptr<uint8_t, decltype(&std::free)> storage(
          static_cast<uint8_t*>(std::aligned_alloc(4096, storage_bytes)), &std::free);
      ASSERT_NE(storage, nullptr);
      for (size_t i = 0; i < storage_bytes; ++i) storage.get()[i] = static_cast<uint8_t>(i * 131 + size);
      const absl::Span<const uint8_t> data(storage.get() + misalign, size);
      ASSERT_TRUE(store.Put("z/big", data).ok()) << size;
      absl::StatusOr<ObjectInfo> head = store.Head("z/big");
      ASSERT_TRUE(head.ok());
      EXPECT_EQ(head->size, size);
      absl::StatusOr<std::vector<uint8_t>> got = store.Get("z/big");
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_TRUE(std::equal(got->begin(), got->end(), data.begin(), data.end()))
          << size << " misaligned by " << misalign;
    }
  }
}

TEST(LocalDirStoreTest, ListIsSortedPrefixMatchedAndHidesTemporaries) {
  TempDir dir;
  LocalDirStore store(dir.path());
  for (std::string_view key : {"z/b/2", "z/a/1", "z/ab/3", "y/a/4", "z/a/sub/5"}) {
    ASSERT_TRUE(store.Put(key, Bytes(key)).ok());
  }
  // A Put that crashed before its rename leaves a hidden temporary.
  std::FILE* f = std::fopen((dir.path() + "/z/a/.tmp-1-2-x").c_str(), "w");
  std::fclose(f);

  auto keys = [&](std::string_view prefix) {
    std::vector<std::string> out;
    absl::StatusOr<std::vector<ObjectInfo>> listed = store.List(prefix);
    EXPECT_TRUE(listed.ok()) << listed.status();
    for (const ObjectInfo& o : *listed) out.push_back(o.key);
    return out;
  };
  EXPECT_EQ(keys(""), (std::vector<std::string>{"y/a/4", "z/a/1", "z/a/sub/5", "z/ab/3", "z/b/2"}));
  EXPECT_EQ(keys("z/a/"), (std::vector<std::string>{"z/a/1", "z/a/sub/5"}));
  EXPECT_EQ(keys("z/a"), (std::vector<std::string>{"z/a/1", "z/a/sub/5", "z/ab/3"}));
  EXPECT_TRUE(keys("nothing/").empty());
  EXPECT_EQ(store.List("z/b/")->at(0).size, 5u);
  EXPECT_FALSE(store.List("../").ok());

  absl::StatusOr<std::vector<std::string>> folders = store.ListFolders("z/");
  ASSERT_TRUE(folders.ok());
  EXPECT_EQ(*folders, (std::vector<std::string>{"z/a/", "z/ab/", "z/b/"}));
  EXPECT_EQ(*store.ListFolders(""), (std::vector<std::string>{"y/", "z/"}));
  EXPECT_TRUE(absl::IsInvalidArgument(store.ListFolders("z").status()));
}

TEST(LocalDirStoreTest, RejectsBadKeysBeforeTouchingTheDisk) {
  TempDir dir;
  LocalDirStore store(dir.path() + "/root");
  EXPECT_TRUE(absl::IsInvalidArgument(store.Put("../escape", Bytes("x"))));
  EXPECT_TRUE(absl::IsInvalidArgument(store.Get("/etc/passwd").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store.Delete("a/../../b")));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/escape"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/root"));
}

}  // namespace
}  // namespace ingest
