// TLS costs that size a shard: mutual-TLS 1.3 handshakes per second (full vs
// resumed from a shared-key ticket), AES-GCM record throughput through a
// channel pair (copying vs lending the receive buffer), the server's receive
// cost on OpenSSL's record layer vs our own, and heap bytes per idle
// established server connection on each.
//
// Client and server channels run in one thread and exchange bytes in memory,
// so the wall-clock rate counts both sides; the server's own share is timed
// separately (thread CPU time) and reported as server_handshakes_per_core:
// what one shard core could accept if it did nothing else.
//
//   tls_handshake_benchmark --benchmark_counters_tabular=true
#include <malloc.h>
#include <stdlib.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "proto/tls_channel.h"
#include "proto/tls_client_context.h"
#include "server/tls/dev_certs.h"
#include "server/tls/tls_server_context.h"

namespace {

using camproto::ResumptionCache;
using camproto::SslCtxPtr;
using camproto::SslSessionPtr;
using camproto::TlsChannel;

// Thread CPU time, so the server's share is not inflated when the machine is
// busy with other work.
struct CpuClock {
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<CpuClock, duration>;
  static time_point now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return time_point(duration(int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec));
  }
};
using Clock = CpuClock;

constexpr char kCamera[] = "cam-000001";

// Certificates and contexts shared by every benchmark in the process.
class Pki {
 public:
  static Pki& Get() {
    static Pki* pki = new Pki();
    return *pki;
  }

  SSL_CTX* server_ctx() { return server_ctx_.get(); }
  // The same server, left on OpenSSL's record layer after the handshake.
  SSL_CTX* openssl_server_ctx() { return openssl_server_ctx_.get(); }
  SSL_CTX* client_ctx() { return client_ctx_.get(); }
  ResumptionCache& cache() { return cache_; }

 private:
  Pki() {
    std::string pattern = std::filesystem::temp_directory_path() / "tls_bench.XXXXXX";
    dir_ = mkdtemp(pattern.data());
    Check(ingest::MakeDevCertificates({.out_dir = dir_, .camera_count = 1}));
    ingest::DevCertPaths paths = ingest::DevCertPathsIn(dir_);
    server_ctx_ = Value(ingest::CreateServerContext({.cert_file = paths.server_cert,
                                                     .key_file = paths.server_key,
                                                     .camera_ca_file = paths.camera_ca_cert,
                                                     .ticket_keys_file = paths.ticket_keys}));
    openssl_server_ctx_ = Value(ingest::CreateServerContext({.cert_file = paths.server_cert,
                                                             .key_file = paths.server_key,
                                                             .camera_ca_file = paths.camera_ca_cert,
                                                             .ticket_keys_file = paths.ticket_keys,
                                                             .own_record_layer = false}));
    client_ctx_ = Value(camproto::CreateCameraClientContext(
        {.ca_file = paths.server_ca_cert, .cert_file = paths.CameraPem(kCamera)}));
    cache_.Attach(client_ctx_.get());
    std::filesystem::remove_all(dir_);  // everything is loaded
  }

  static void Check(const absl::Status& status) {
    if (!status.ok()) {
      std::fprintf(stderr, "setup failed: %s\n", status.ToString().c_str());
      std::abort();
    }
  }
  template <typename T>
  static T Value(absl::StatusOr<T> value) {
    Check(value.status());
    return std::move(*value);
  }

  std::string dir_;
  SslCtxPtr server_ctx_;
  SslCtxPtr openssl_server_ctx_;
  SslCtxPtr client_ctx_;
  ResumptionCache cache_;
};

void Move(TlsChannel& from, TlsChannel& to, std::string& scratch) {
  scratch.clear();
  from.TakeCiphertext(scratch);
  if (!scratch.empty()) {
    to.FeedCiphertext({reinterpret_cast<const uint8_t*>(scratch.data()), scratch.size()});
  }
}

struct Pair {
  std::unique_ptr<TlsChannel> client;
  std::unique_ptr<TlsChannel> server;
};

// Connects one camera; the time spent in server-side calls is added to
// *server_time. The client reads the post-handshake ticket (so the server's
// ticket encryption is part of its measured cost).
// `server_ctx` defaults to the server with its own record layer.
Pair Connect(SSL_SESSION* session, Clock::duration* server_time, SSL_CTX* server_ctx = nullptr) {
  Pki& pki = Pki::Get();
  std::string scratch;
  Pair pair;
  Clock::time_point t0 = Clock::now();
  pair.server = std::move(*TlsChannel::CreateServer(server_ctx != nullptr ? server_ctx : pki.server_ctx()));
  *server_time += Clock::now() - t0;
  pair.client = std::move(*TlsChannel::CreateClient(pki.client_ctx(), "localhost", session));
  (void)ResumptionCache::Track(pair.client->ssl(), kCamera);
  for (int round = 0; round < 10 && !pair.server->handshake_done(); ++round) {
    if (!pair.client->Handshake().ok()) std::abort();
    Move(*pair.client, *pair.server, scratch);
    t0 = Clock::now();
    bool ok = pair.server->Handshake().ok();
    Move(*pair.server, *pair.client, scratch);
    *server_time += Clock::now() - t0;
    if (!ok) std::abort();
  }
  uint8_t buf[64];
  if (!pair.client->ReadPlaintext(absl::MakeSpan(buf)).ok()) std::abort();
  return pair;
}

void ReportHandshakes(benchmark::State& state, Clock::duration server_time) {
  double seconds = std::chrono::duration<double>(server_time).count();
  state.counters["handshakes"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["server_us"] = seconds * 1e6 / static_cast<double>(state.iterations());
  state.counters["server_handshakes_per_core"] =
      seconds > 0 ? static_cast<double>(state.iterations()) / seconds : 0;
}

void BM_FullHandshake(benchmark::State& state) {
  Clock::duration server_time{};
  for (auto _ : state) {
    Pair pair = Connect(nullptr, &server_time);
    benchmark::DoNotOptimize(pair.server.get());
  }
  ReportHandshakes(state, server_time);
}
BENCHMARK(BM_FullHandshake)->Unit(benchmark::kMicrosecond);

void BM_ResumedHandshake(benchmark::State& state) {
  Clock::duration ignored{};
  Connect(nullptr, &ignored);  // fills the cache with a ticket
  SslSessionPtr session = Pki::Get().cache().Find(kCamera);
  if (session == nullptr) {
    state.SkipWithError("no ticket received");
    return;
  }
  Clock::duration server_time{};
  bool all_resumed = true;
  for (auto _ : state) {
    Pair pair = Connect(session.get(), &server_time);
    all_resumed = all_resumed && pair.server->session_resumed();
  }
  if (!all_resumed) state.SkipWithError("a handshake was not resumed");
  ReportHandshakes(state, server_time);
}
BENCHMARK(BM_ResumedHandshake)->Unit(benchmark::kMicrosecond);

// 16 KiB application writes from camera to server. Arg 0: the server copies
// the ciphertext in (FeedCiphertext); arg 1: it lends its receive buffer
// (LendCiphertext, zero-copy).
void BM_RecordThroughput(benchmark::State& state) {
  const bool lend = state.range(0) == 1;
  Clock::duration ignored{};
  Pair pair = Connect(nullptr, &ignored);
  std::vector<uint8_t> plaintext(16 * 1024, 0x5a);
  std::vector<uint8_t> received(16 * 1024);
  std::vector<uint8_t> wire(64 * 1024);  // stands in for a socket receive buffer
  for (auto _ : state) {
    if (!pair.client->WritePlaintext(plaintext).ok()) std::abort();
    size_t n = pair.client->TakeCiphertext(absl::MakeSpan(wire));
    absl::Span<const uint8_t> bytes(wire.data(), n);
    if (lend) {
      pair.server->LendCiphertext(bytes);
    } else {
      pair.server->FeedCiphertext(bytes);
    }
    size_t total = 0;
    while (true) {
      absl::StatusOr<size_t> got = pair.server->ReadPlaintext(absl::MakeSpan(received));
      if (!got.ok()) std::abort();
      if (*got == 0) break;
      total += *got;
    }
    pair.server->ReleaseLentCiphertext();
    if (total != plaintext.size()) std::abort();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(plaintext.size()));
  state.SetLabel(lend ? "lend (zero-copy)" : "feed (copy)");
}
BENCHMARK(BM_RecordThroughput)->Arg(0)->Arg(1);

// The server's side alone: 1 MiB from the camera (64 writes of 16 KiB,
// encrypted outside the timing) lent in 64 KiB receive chunks and read into a
// 256 KiB segment buffer. Arg 0: OpenSSL's record layer (copy in, decrypt in
// place, copy out); arg 1: ours (decrypted from the chunk into the segment).
void BM_ServerRecordReceive(benchmark::State& state) {
  const bool ours = state.range(0) == 1;
  Clock::duration ignored{};
  Pair pair = Connect(nullptr, &ignored, ours ? nullptr : Pki::Get().openssl_server_ctx());
  if ((pair.server->record_layer() != nullptr) != ours) std::abort();
  constexpr size_t kMiB = 1 << 20;
  constexpr size_t kChunk = 64 * 1024;
  std::vector<uint8_t> plaintext(16 * 1024, 0x5a);
  std::vector<uint8_t> segment(256 * 1024);
  std::string wire;
  for (auto _ : state) {
    state.PauseTiming();
    wire.clear();
    for (size_t i = 0; i < kMiB / plaintext.size(); ++i) {
      if (!pair.client->WritePlaintext(plaintext).ok()) std::abort();
    }
    pair.client->TakeCiphertext(wire);
    state.ResumeTiming();
    size_t total = 0;
    for (size_t at = 0; at < wire.size(); at += kChunk) {
      const size_t n = std::min(kChunk, wire.size() - at);
      pair.server->LendCiphertext({reinterpret_cast<const uint8_t*>(wire.data()) + at, n});
      while (true) {
        absl::StatusOr<size_t> got =
            pair.server->ReadPlaintext(absl::MakeSpan(segment).subspan(total % segment.size()));
        if (!got.ok()) std::abort();
        if (*got == 0) break;
        total += *got;
      }
      pair.server->ReleaseLentCiphertext();
    }
    if (total != kMiB) std::abort();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(kMiB));
  state.SetLabel(ours ? "own record layer" : "OpenSSL record layer");
}
BENCHMARK(BM_ServerRecordReceive)->Arg(0)->Arg(1)->MeasureProcessCPUTime();

// Heap bytes held by established, idle server channels (after the ticket was
// sent and ReleaseIdleMemory). Client channels are freed before the second
// measurement so only server-side state remains.
void BM_IdleServerChannelMemory(benchmark::State& state) {
  const int kChannels = 1000;
  SSL_CTX* server_ctx = state.range(0) == 1 ? nullptr : Pki::Get().openssl_server_ctx();
  Pki::Get();  // contexts exist before the baseline
  double server_bytes = 0;
  double server_bytes_before_release = 0;
  for (auto _ : state) {
    size_t baseline = mallinfo2().uordblks;
    std::vector<Pair> pairs;
    pairs.reserve(kChannels);
    Clock::duration ignored{};
    for (int i = 0; i < kChannels; ++i) pairs.push_back(Connect(nullptr, &ignored, server_ctx));
    for (Pair& pair : pairs) pair.client.reset();
    size_t before_release = mallinfo2().uordblks;
    for (Pair& pair : pairs) {
      pair.server->ForgetPeerCertificate();  // as the shard does once the session is open
      pair.server->ReleaseIdleMemory();
    }
    size_t after_release = mallinfo2().uordblks;
    server_bytes_before_release =
        static_cast<double>(before_release - baseline) / kChannels;
    server_bytes = static_cast<double>(after_release - baseline) / kChannels;
  }
  state.counters["heap_bytes_per_idle_server_channel"] = server_bytes;
  state.counters["before_ReleaseIdleMemory"] = server_bytes_before_release;
  state.SetLabel(state.range(0) == 1 ? "own record layer" : "OpenSSL record layer");
}
// Arg 0: left on OpenSSL after the handshake; arg 1: our own record layer.
BENCHMARK(BM_IdleServerChannelMemory)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
