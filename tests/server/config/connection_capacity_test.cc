// How many connections the shards' rings hold: sized from the descriptor
// limit, and a server.max_connections they cannot hold refused at start with
// the numbers an operator needs.
#include "server/config/connection_capacity.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "server/config/ingest_config.h"

namespace ingest {
namespace {

ServerConfig Server(int shards, uint32_t max_connections) {
  ServerConfig server;
  server.shards = shards;
  server.max_connections = max_connections;
  return server;
}

TEST(ConnectionCapacityTest, TableIsTheShareAnEighthAndTheRefusalSlotsUpToTheLimit) {
  EXPECT_EQ(ShardCapacityFor(Server(2, 20000), 65536).ring_files, 10000u + 1250 + kRingSlotsForRefusals);
  EXPECT_EQ(ShardCapacityFor(Server(2, 20000), 65536).cameras, 11250u);
  EXPECT_EQ(ShardCapacityFor(Server(2, 50000), 20000).ring_files, 20000u);
  EXPECT_EQ(ShardCapacityFor(Server(2, 50000), 20000).cameras, 20000u - kRingSlotsForRefusals);
  EXPECT_EQ(ShardCapacityFor(Server(4, 10), 20000).ring_files, 256u);
}

TEST(ConnectionCapacityTest, ShardsToHoldCountsWholeRings) {
  EXPECT_EQ(ShardsToHold(50000, 20000), 3);
  EXPECT_EQ(ShardsToHold(19936, 20000), 1);
  EXPECT_EQ(ShardsToHold(19937, 20000), 2);
  EXPECT_EQ(ShardsToHold(100000, 65536), 2);
  EXPECT_EQ(ShardsToHold(1, 10), 1);
}

TEST(ConnectionCapacityTest, MaxConnectionsTwoRingsCannotHoldIsRefusedWithTheNumbers) {
  // The case seen in a ramp: 2 shards, 20,000 descriptors, 60,000 asked for.
  const absl::Status status = CheckShardsHoldMaxConnections(Server(2, 60000), 20000);
  ASSERT_FALSE(status.ok());
  const std::string message(status.message());
  EXPECT_TRUE(absl::StrContains(message, "server.max_connections: 60000 is more than 2 shards can hold (39872"))
      << message;
  EXPECT_TRUE(absl::StrContains(message, "set server.shards to at least 4")) << message;
  EXPECT_TRUE(CheckShardsHoldMaxConnections(Server(3, 50000), 20000).ok());
  EXPECT_TRUE(CheckShardsHoldMaxConnections(Server(1, 19936), 20000).ok());
  EXPECT_FALSE(CheckShardsHoldMaxConnections(Server(1, 19937), 20000).ok());
}

}  // namespace
}  // namespace ingest
