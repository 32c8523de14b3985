// A one-shot notification both threads and poll() can wait on.
#include "server/ingestd/pollable_notification.h"

#include <poll.h>

#include <thread>

#include "gtest/gtest.h"

namespace ingest {
namespace {

bool Readable(int fd) {
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

TEST(PollableNotificationTest, TheDescriptorBecomesAndStaysReadable) {
  PollableNotification notification;
  ASSERT_GE(notification.fd(), 0);
  EXPECT_FALSE(notification.HasBeenNotified());
  EXPECT_FALSE(Readable(notification.fd()));
  notification.Notify();
  notification.Notify();  // no effect, no error
  EXPECT_TRUE(notification.HasBeenNotified());
  EXPECT_TRUE(Readable(notification.fd()));
  EXPECT_TRUE(Readable(notification.fd()));
}

TEST(PollableNotificationTest, AWaitingThreadWakesOnNotify) {
  PollableNotification notification;
  std::thread waiter([&] { notification.WaitForNotification(); });
  notification.Notify();
  waiter.join();
  EXPECT_TRUE(notification.HasBeenNotified());
}

TEST(PollableNotificationTest, PollWakesOnNotifyFromAnotherThread) {
  PollableNotification notification;
  std::thread notifier([&] { notification.Notify(); });
  pollfd p{.fd = notification.fd(), .events = POLLIN, .revents = 0};
  EXPECT_EQ(poll(&p, 1, 10'000), 1);
  notifier.join();
}

}  // namespace
}  // namespace ingest
