// A node's state as exact bytes, for checkpoints (a restarted agent resumes from them, and must
// compute bit for bit what it would have computed without the crash): integers little-endian, doubles
// as their IEEE-754 bits, vectors with their length. The reader is sticky: a read past the end or a
// length that does not fit marks it failed (reads then return zeros) and status() says where; a
// caller checks status() once at the end. No versioning here: a checkpoint file carries its own
// header (format version, checksum).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/base/types.h"

namespace dadmm {

class StateWriter {
 public:
  void U64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void Bool(bool v) { U64(v ? 1 : 0); }
  void F64(double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    U64(bits);
  }
  void Vec(const Vector& v) {
    U64(static_cast<std::uint64_t>(v.size()));
    for (Eigen::Index i = 0; i < v.size(); ++i) F64(v[i]);
  }
  void Matrix(const Eigen::MatrixXd& m) {
    U64(static_cast<std::uint64_t>(m.rows()));
    U64(static_cast<std::uint64_t>(m.cols()));
    for (Eigen::Index i = 0; i < m.size(); ++i) F64(m.data()[i]);
  }
  template <typename T>
  void Integers(const std::vector<T>& v) {
    U64(v.size());
    for (const T& x : v) U64(static_cast<std::uint64_t>(x));
  }
  void Bytes(absl::string_view b) {
    U64(b.size());
    bytes_.append(b.data(), b.size());
  }

  const std::string& bytes() const { return bytes_; }
  std::string Take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

class StateReader {
 public:
  // `what` names the state in errors ("node 3's checkpoint").
  StateReader(absl::string_view bytes, std::string what) : bytes_(bytes), what_(std::move(what)) {}

  std::uint64_t U64() {
    if (!Need(8)) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes_[at_ + i])) << (8 * i);
    at_ += 8;
    return v;
  }
  bool Bool() { return U64() != 0; }
  double F64() {
    const std::uint64_t bits = U64();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  Vector Vec() {
    const std::uint64_t n = Length(8);
    Vector v(static_cast<Eigen::Index>(n));
    for (Eigen::Index i = 0; i < v.size(); ++i) v[i] = F64();
    return v;
  }
  // A vector that must have `n` entries (the state's dimension).
  Vector Vec(Eigen::Index n, absl::string_view name) {
    Vector v = Vec();
    if (ok() && v.size() != n) Fail(absl::StrCat(name, ": ", v.size(), " entries, expected ", n));
    return ok() ? v : Vector::Zero(n);
  }
  Eigen::MatrixXd Matrix(Eigen::Index rows, Eigen::Index cols, absl::string_view name) {
    const std::uint64_t r = U64(), c = U64();
    if (ok() && (r != static_cast<std::uint64_t>(rows) || c != static_cast<std::uint64_t>(cols))) {
      Fail(absl::StrCat(name, ": ", r, " x ", c, ", expected ", rows, " x ", cols));
    }
    Eigen::MatrixXd m = Eigen::MatrixXd::Zero(rows, cols);
    if (!ok() || !Need(8 * static_cast<std::size_t>(rows * cols))) return m;
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = F64();
    return m;
  }
  template <typename T>
  std::vector<T> Integers() {
    const std::uint64_t n = Length(8);
    std::vector<T> v;
    v.reserve(n);
    for (std::uint64_t i = 0; i < n; ++i) v.push_back(static_cast<T>(U64()));
    return v;
  }
  std::string Bytes() {
    const std::uint64_t n = Length(1);
    if (!ok()) return {};
    std::string b(bytes_.substr(at_, n));
    at_ += n;
    return b;
  }

  // Marks the state invalid with `why` (for a caller's own consistency checks).
  void Fail(absl::string_view why) {
    if (error_.empty()) error_ = absl::StrCat(what_, ": ", why);
  }
  bool ok() const { return error_.empty(); }
  bool at_end() const { return at_ == bytes_.size(); }
  // OK if every read fitted and (with `whole`) nothing is left over.
  absl::Status status(bool whole = true) const {
    if (!error_.empty()) return absl::DataLossError(error_);
    if (whole && !at_end()) {
      return absl::DataLossError(absl::StrCat(what_, ": ", bytes_.size() - at_, " byte(s) left over"));
    }
    return absl::OkStatus();
  }

 private:
  bool Need(std::size_t n) {
    if (!ok()) return false;
    if (bytes_.size() - at_ < n) {
      Fail(absl::StrCat("truncated (", n, " byte(s) needed at offset ", at_, ", ", bytes_.size() - at_, " left)"));
      return false;
    }
    return true;
  }
  // A count of items of `unit` bytes each, that must fit in what is left.
  std::uint64_t Length(std::size_t unit) {
    const std::uint64_t n = U64();
    if (!ok()) return 0;
    if (n > (bytes_.size() - at_) / unit) {
      Fail(absl::StrCat("truncated (a length of ", n, " at offset ", at_ - 8, " exceeds the ", bytes_.size() - at_,
                        " byte(s) left)"));
      return 0;
    }
    return n;
  }

  absl::string_view bytes_;
  std::size_t at_ = 0;
  std::string what_;
  std::string error_;
};

}  // namespace dadmm
