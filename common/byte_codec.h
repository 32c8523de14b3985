// Bounds-checked little-endian encoding for our variable-length formats
// (batch object indexes, camera index objects, the batch journal).
//
//   ByteWriter w(&out);
//   w.U32(7); w.String8("cam-1");
//   ByteReader r(out);
//   uint32_t n = r.U32(); std::string_view id = r.String8();
//   if (!r.ok()) return absl::DataLossError("truncated");
//
// A reader that runs past its end returns zeros / empty strings from then on
// and reports !ok(), so a decoder checks once at the end instead of after
// every field.
#ifndef COMMON_BYTE_CODEC_H_
#define COMMON_BYTE_CODEC_H_

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "common/little_endian.h"

namespace ingest {

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>* out) : out_(out) {}

  void U8(uint8_t v) { out_->push_back(v); }
  void U16(uint16_t v) { Put(v); }
  void U32(uint32_t v) { Put(v); }
  void U64(uint64_t v) { Put(v); }
  void I64(int64_t v) { Put(v); }
  // Length-prefixed strings; the caller bounds the length (255 / 65535).
  void String8(std::string_view s) {
    U8(static_cast<uint8_t>(s.size()));
    Bytes(s);
  }
  void String16(std::string_view s) {
    U16(static_cast<uint16_t>(s.size()));
    Bytes(s);
  }
  // resize + memcpy, not insert(): GCC 12 at -O3 inlines insert() after the
  // length prefix's resize and reports a false -Warray-bounds on it.
  void Bytes(std::string_view s) {
    if (s.empty()) return;
    const size_t at = out_->size();
    out_->resize(at + s.size());
    std::memcpy(out_->data() + at, s.data(), s.size());
  }

 private:
  template <typename T>
  void Put(T v) {
    const size_t at = out_->size();
    out_->resize(at + sizeof(T));
    StoreLittleEndian<T>(out_->data() + at, v);
  }
  std::vector<uint8_t>* out_;
};

class ByteReader {
 public:
  explicit ByteReader(absl::Span<const uint8_t> in) : in_(in) {}

  uint8_t U8() { return Get<uint8_t>(); }
  uint16_t U16() { return Get<uint16_t>(); }
  uint32_t U32() { return Get<uint32_t>(); }
  uint64_t U64() { return Get<uint64_t>(); }
  int64_t I64() { return Get<int64_t>(); }
  std::string_view String8() { return Bytes(U8()); }
  std::string_view String16() { return Bytes(U16()); }
  std::string_view Bytes(size_t n) {
    if (!Have(n)) return {};
    std::string_view s(reinterpret_cast<const char*>(in_.data() + at_), n);
    at_ += n;
    return s;
  }

  bool ok() const { return ok_; }
  size_t offset() const { return at_; }
  size_t remaining() const { return ok_ ? in_.size() - at_ : 0; }

 private:
  bool Have(size_t n) {
    if (!ok_ || in_.size() - at_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  template <typename T>
  T Get() {
    if (!Have(sizeof(T))) return T{};
    T v = LoadLittleEndian<T>(in_.data() + at_);
    at_ += sizeof(T);
    return v;
  }
  absl::Span<const uint8_t> in_;
  size_t at_ = 0;
  bool ok_ = true;
};

}  // namespace ingest

#endif  // COMMON_BYTE_CODEC_H_
