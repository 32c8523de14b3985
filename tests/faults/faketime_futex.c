// faketime_futex: preloaded with libfaketime so that absolute CLOCK_REALTIME
// futex waits agree with the faked clock. clock_faults.py runs ingestd with
//
//   LD_PRELOAD="libfaketime_futex.so libfaketime.so.1" FAKETIME_TIMESTAMP_FILE=...
//
// Why: libfaketime offsets what clock_gettime(CLOCK_REALTIME) returns, so
// absl::Now() steps, but the kernel's own CLOCK_REALTIME does not move. Abseil
// 20220623 turns every timed wait (Mutex::AwaitWithTimeout,
// Notification::WaitForNotificationWithTimeout, CondVar::WaitWithTimeout)
// into an absolute deadline absl::Now() + timeout and sleeps with
// FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME (absl/synchronization/internal/
// futex.h). Under a +1 h offset the kernel would sleep an hour past every such
// deadline; under -1 h every wait would time out at once and its loop spin.
// Neither happens on a machine whose clock really stepped, so this shim moves
// those deadlines back by the offset the timestamp file holds, in the same
// `syscall` call (libabsl_synchronization calls libc's syscall(), which a
// preloaded library interposes).
//
// What it cannot reproduce: on a real step the kernel also moves deadlines
// already being waited for (a wait begun before a step back of 1 h sleeps an
// hour longer). Here a wait keeps the deadline it started with.
#define _GNU_SOURCE  // RTLD_NEXT
#include <dlfcn.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>

typedef long (*SyscallFn)(long number, ...);

// The offset libfaketime applies, in seconds: the timestamp file's "+3600" or
// "-3600" (clock_faults.py writes nothing else); 0 without one.
static long FakeOffsetSeconds(void) {
  const char* path = getenv("FAKETIME_TIMESTAMP_FILE");
  if (path == NULL) return 0;
  FILE* f = fopen(path, "re");
  if (f == NULL) return 0;
  long offset = 0;
  if (fscanf(f, "%ld", &offset) != 1) offset = 0;
  fclose(f);
  return offset;
}

long syscall(long number, ...) {
  static SyscallFn real_syscall;
  if (real_syscall == NULL) real_syscall = (SyscallFn)dlsym(RTLD_NEXT, "syscall");
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (int i = 0; i < 6; ++i) a[i] = va_arg(ap, long);
  va_end(ap);
  const long op = a[1];
  if (number == SYS_futex && a[3] != 0 && (op & FUTEX_CLOCK_REALTIME) != 0 &&
      (op & FUTEX_CMD_MASK) == FUTEX_WAIT_BITSET) {
    struct timespec deadline = *(const struct timespec*)a[3];
    deadline.tv_sec -= FakeOffsetSeconds();
    return real_syscall(number, a[0], a[1], a[2], (long)&deadline, a[4], a[5]);
  }
  return real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
