// slow_fs: a FUSE passthrough file system whose fsync and fdatasync (and,
// optionally, every write) take as long as a control file says, so a test can
// make the disk under a folder slow and fast again while a server runs on it.
// This VM has no device-mapper (no dm-delay); /dev/fuse and libfuse3 it has.
//
//   slow_fs --backing=/tmp/t/backing --control=/tmp/t/slow.ctl
//           --stats=/tmp/t/slow.stats /tmp/t/mnt -f
//   echo "fsync_ms=300 write_ms=0" > /tmp/t/slow.ctl.new && mv /tmp/t/slow.ctl.new /tmp/t/slow.ctl
//   fusermount3 -u /tmp/t/mnt
//
// Every path under the mount point is the same path under --backing; each
// operation is the plain system call on the backing file, in the calling
// FUSE worker thread (the loop is multi-threaded, so one slow fsync does not
// hold up reads and writes of other requests).
//
// The control file holds "fsync_ms=N write_ms=M" (either may be left out:
// 0). A watcher thread re-reads it every 20 ms when its modification time or
// size changed, and at once on SIGUSR1 (SIGHUP, SIGINT and SIGTERM are
// libfuse's: they unmount). The delay is added after the real fsync and
// before the answer, in fsync (both kinds: FUSE_FSYNC carries the datasync
// bit) and fsyncdir; write_ms before each write. The same thread writes the
// stats file (temporary file + rename, so a reader never sees half of it) as
// one line of counters, among them the settings in force, so a test can wait
// until a change took effect:
//
//   fsync_ms=300 write_ms=0 fsyncs=812 datasyncs=800 fsyncdirs=4 writes=9120
//   write_bytes=74514432 delayed_ms=243600 generation=3
//
// `generation` counts the control file's readings.
#define _GNU_SOURCE  // renameat2, fallocate
#define FUSE_USE_VERSION 31

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct SlowFsOptions {
  const char* backing;
  const char* control;
  const char* stats;
};

static struct SlowFsOptions options;

// The settings in force and the counters, shared by the FUSE workers and the
// watcher thread; relaxed atomics are enough for figures read by a test.
static atomic_uint fsync_ms;
static atomic_uint write_ms;
static atomic_ulong fsyncs, datasyncs, fsyncdirs, writes, write_bytes, delayed_ms, generation;
static atomic_int reload_requested;
static atomic_int stopping;

static const struct fuse_opt option_spec[] = {
    {"--backing=%s", offsetof(struct SlowFsOptions, backing), 1},
    {"--control=%s", offsetof(struct SlowFsOptions, control), 1},
    {"--stats=%s", offsetof(struct SlowFsOptions, stats), 1},
    FUSE_OPT_END};

// The backing path of `path` (which FUSE always passes starting with '/');
// ENAMETOOLONG rather than a truncated name.
static int Backing(const char* path, char out[PATH_MAX]) {
  int n = snprintf(out, PATH_MAX, "%s%s", options.backing, path);
  return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

#define BACKING_OR_RETURN(path, var) \
  char var[PATH_MAX];                \
  do {                               \
    int rc_ = Backing(path, var);    \
    if (rc_ != 0) return rc_;        \
  } while (0)

static void SleepMs(unsigned ms) {
  if (ms == 0) return;
  struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
  atomic_fetch_add(&delayed_ms, ms);
}

static int SlowGetattr(const char* path, struct stat* st, struct fuse_file_info* fi) {
  if (fi != NULL) return fstat((int)fi->fh, st) == 0 ? 0 : -errno;
  BACKING_OR_RETURN(path, real);
  return lstat(real, st) == 0 ? 0 : -errno;
}

static int SlowAccess(const char* path, int mask) {
  BACKING_OR_RETURN(path, real);
  return access(real, mask) == 0 ? 0 : -errno;
}

static int SlowOpendir(const char* path, struct fuse_file_info* fi) {
  BACKING_OR_RETURN(path, real);
  DIR* dir = opendir(real);
  if (dir == NULL) return -errno;
  fi->fh = (uint64_t)(uintptr_t)dir;
  return 0;
}

static int SlowReaddir(const char* path, void* buf, fuse_fill_dir_t fill, off_t offset,
                       struct fuse_file_info* fi, enum fuse_readdir_flags flags) {
  (void)path;
  (void)offset;
  (void)flags;
  DIR* dir = (DIR*)(uintptr_t)fi->fh;
  rewinddir(dir);
  struct dirent* entry;
  while ((entry = readdir(dir)) != NULL) {
    struct stat st = {.st_ino = entry->d_ino, .st_mode = (mode_t)entry->d_type << 12};
    if (fill(buf, entry->d_name, &st, 0, 0)) break;
  }
  return 0;
}

static int SlowReleasedir(const char* path, struct fuse_file_info* fi) {
  (void)path;
  closedir((DIR*)(uintptr_t)fi->fh);
  return 0;
}

static int SlowFsyncdir(const char* path, int datasync, struct fuse_file_info* fi) {
  (void)path;
  DIR* dir = (DIR*)(uintptr_t)fi->fh;
  int rc = datasync ? fdatasync(dirfd(dir)) : fsync(dirfd(dir));
  if (rc != 0) return -errno;
  atomic_fetch_add(&fsyncdirs, 1);
  SleepMs(atomic_load(&fsync_ms));
  return 0;
}

static int SlowMkdir(const char* path, mode_t mode) {
  BACKING_OR_RETURN(path, real);
  return mkdir(real, mode) == 0 ? 0 : -errno;
}

static int SlowUnlink(const char* path) {
  BACKING_OR_RETURN(path, real);
  return unlink(real) == 0 ? 0 : -errno;
}

static int SlowRmdir(const char* path) {
  BACKING_OR_RETURN(path, real);
  return rmdir(real) == 0 ? 0 : -errno;
}

static int SlowRename(const char* from, const char* to, unsigned int flags) {
  BACKING_OR_RETURN(from, real_from);
  BACKING_OR_RETURN(to, real_to);
  return renameat2(AT_FDCWD, real_from, AT_FDCWD, real_to, flags) == 0 ? 0 : -errno;
}

static int SlowLink(const char* from, const char* to) {
  BACKING_OR_RETURN(from, real_from);
  BACKING_OR_RETURN(to, real_to);
  return link(real_from, real_to) == 0 ? 0 : -errno;
}

static int SlowChmod(const char* path, mode_t mode, struct fuse_file_info* fi) {
  if (fi != NULL) return fchmod((int)fi->fh, mode) == 0 ? 0 : -errno;
  BACKING_OR_RETURN(path, real);
  return chmod(real, mode) == 0 ? 0 : -errno;
}

static int SlowTruncate(const char* path, off_t size, struct fuse_file_info* fi) {
  if (fi != NULL) return ftruncate((int)fi->fh, size) == 0 ? 0 : -errno;
  BACKING_OR_RETURN(path, real);
  return truncate(real, size) == 0 ? 0 : -errno;
}

static int SlowUtimens(const char* path, const struct timespec times[2], struct fuse_file_info* fi) {
  if (fi != NULL) return futimens((int)fi->fh, times) == 0 ? 0 : -errno;
  BACKING_OR_RETURN(path, real);
  return utimensat(AT_FDCWD, real, times, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

static int SlowCreate(const char* path, mode_t mode, struct fuse_file_info* fi) {
  BACKING_OR_RETURN(path, real);
  int fd = open(real, fi->flags, mode);
  if (fd < 0) return -errno;
  fi->fh = (uint64_t)fd;
  return 0;
}

static int SlowOpen(const char* path, struct fuse_file_info* fi) {
  BACKING_OR_RETURN(path, real);
  int fd = open(real, fi->flags);
  if (fd < 0) return -errno;
  fi->fh = (uint64_t)fd;
  return 0;
}

static int SlowRead(const char* path, char* buf, size_t size, off_t offset, struct fuse_file_info* fi) {
  (void)path;
  ssize_t n = pread((int)fi->fh, buf, size, offset);
  return n < 0 ? -errno : (int)n;
}

static int SlowWrite(const char* path, const char* buf, size_t size, off_t offset,
                     struct fuse_file_info* fi) {
  (void)path;
  SleepMs(atomic_load(&write_ms));
  ssize_t n = pwrite((int)fi->fh, buf, size, offset);
  if (n < 0) return -errno;
  atomic_fetch_add(&writes, 1);
  atomic_fetch_add(&write_bytes, (unsigned long)n);
  return (int)n;
}

static int SlowStatfs(const char* path, struct statvfs* st) {
  BACKING_OR_RETURN(path, real);
  return statvfs(real, st) == 0 ? 0 : -errno;
}

static int SlowRelease(const char* path, struct fuse_file_info* fi) {
  (void)path;
  close((int)fi->fh);
  return 0;
}

// The point of this file system: the real sync first (so what is answered as
// durable is), then the delay, then the answer.
static int SlowFsync(const char* path, int datasync, struct fuse_file_info* fi) {
  (void)path;
  int rc = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);
  if (rc != 0) return -errno;
  atomic_fetch_add(datasync ? &datasyncs : &fsyncs, 1);
  SleepMs(atomic_load(&fsync_ms));
  return 0;
}

static int SlowFallocate(const char* path, int mode, off_t offset, off_t length, struct fuse_file_info* fi) {
  (void)path;
  return fallocate((int)fi->fh, mode, offset, length) == 0 ? 0 : -errno;
}

static void* Watch(void* unused);
static pthread_t watcher;
static int watching;

// Starts the watcher here rather than in main: fuse_main forks into the
// background first unless given -f, and a thread does not survive a fork.
static void* SlowInit(struct fuse_conn_info* conn, struct fuse_config* cfg) {
  (void)conn;
  cfg->use_ino = 1;
  // Every change goes through this mount: the kernel may cache attributes,
  // but not for long, and never names that are absent.
  cfg->negative_timeout = 0;
  if (pthread_create(&watcher, NULL, Watch, NULL) == 0) {
    watching = 1;
  } else {
    fprintf(stderr, "slow_fs: cannot start the watcher thread; the control file is read once\n");
  }
  return NULL;
}

static const struct fuse_operations operations = {
    .init = SlowInit,
    .getattr = SlowGetattr,
    .access = SlowAccess,
    .opendir = SlowOpendir,
    .readdir = SlowReaddir,
    .releasedir = SlowReleasedir,
    .fsyncdir = SlowFsyncdir,
    .mkdir = SlowMkdir,
    .unlink = SlowUnlink,
    .rmdir = SlowRmdir,
    .rename = SlowRename,
    .link = SlowLink,
    .chmod = SlowChmod,
    .truncate = SlowTruncate,
    .utimens = SlowUtimens,
    .create = SlowCreate,
    .open = SlowOpen,
    .read = SlowRead,
    .write = SlowWrite,
    .statfs = SlowStatfs,
    .release = SlowRelease,
    .fsync = SlowFsync,
    .fallocate = SlowFallocate,
};

// "fsync_ms=N write_ms=M" into the settings; unknown words are ignored, a
// missing file means no delay.
static void ReadControl(void) {
  unsigned fsync_value = 0, write_value = 0;
  FILE* f = fopen(options.control, "r");
  if (f != NULL) {
    char word[64];
    while (fscanf(f, "%63s", word) == 1) {
      unsigned value;
      if (sscanf(word, "fsync_ms=%u", &value) == 1) fsync_value = value;
      if (sscanf(word, "write_ms=%u", &value) == 1) write_value = value;
    }
    fclose(f);
  }
  atomic_store(&fsync_ms, fsync_value);
  atomic_store(&write_ms, write_value);
  atomic_fetch_add(&generation, 1);
}

static void WriteStats(void) {
  if (options.stats == NULL) return;
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", options.stats) >= (int)sizeof tmp) return;
  FILE* f = fopen(tmp, "w");
  if (f == NULL) return;
  fprintf(f,
          "fsync_ms=%u write_ms=%u fsyncs=%lu datasyncs=%lu fsyncdirs=%lu writes=%lu write_bytes=%lu "
          "delayed_ms=%lu generation=%lu\n",
          atomic_load(&fsync_ms), atomic_load(&write_ms), atomic_load(&fsyncs), atomic_load(&datasyncs),
          atomic_load(&fsyncdirs), atomic_load(&writes), atomic_load(&write_bytes), atomic_load(&delayed_ms),
          atomic_load(&generation));
  if (fclose(f) == 0) rename(tmp, options.stats);
}

// The watcher: picks up a changed control file within 20 ms and keeps the
// stats file current.
static void* Watch(void* unused) {
  (void)unused;
  struct timespec seen_mtime = {0, 0};
  off_t seen_size = -1;
  while (!atomic_load(&stopping)) {
    struct stat st;
    int changed = atomic_exchange(&reload_requested, 0);
    if (stat(options.control, &st) == 0) {
      if (st.st_mtim.tv_sec != seen_mtime.tv_sec || st.st_mtim.tv_nsec != seen_mtime.tv_nsec ||
          st.st_size != seen_size) {
        seen_mtime = st.st_mtim;
        seen_size = st.st_size;
        changed = 1;
      }
    } else if (seen_size != -1) {
      seen_size = -1;
      changed = 1;
    }
    if (changed) ReadControl();
    WriteStats();
    struct timespec t = {0, 20 * 1000000L};
    nanosleep(&t, NULL);
  }
  return NULL;
}

static void OnUsr1(int signo) {
  (void)signo;
  atomic_store(&reload_requested, 1);
}

int main(int argc, char* argv[]) {
  struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
  if (fuse_opt_parse(&args, &options, option_spec, NULL) == -1) return 1;
  if (options.backing == NULL || options.control == NULL) {
    fprintf(stderr, "usage: %s --backing=DIR --control=FILE [--stats=FILE] MOUNTPOINT [-f] [FUSE options]\n",
            argv[0]);
    return 2;
  }
  char* backing = realpath(options.backing, NULL);
  if (backing == NULL) {
    fprintf(stderr, "slow_fs: backing folder %s: %s\n", options.backing, strerror(errno));
    return 2;
  }
  options.backing = backing;
  ReadControl();
  struct sigaction sa = {.sa_handler = OnUsr1};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);
  int rc = fuse_main(args.argc, args.argv, &operations, NULL);
  atomic_store(&stopping, 1);
  if (watching) pthread_join(watcher, NULL);
  WriteStats();
  fuse_opt_free_args(&args);
  free(backing);
  return rc;
}
