// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace sw::ssm {

// One clear message naming the file, the tensor or key, and what is wrong.
class ModelLoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class DType { f32, f16, bf16 };

struct TensorInfo {
  std::string name;
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  // byte offsets into the data section
  std::uint64_t elements() const noexcept;
};

// A parsed, structurally validated safetensors file (the whole file is read:
// model files are small; over kMaxFileBytes is refused).
struct SafetensorsFile {
  std::string path;
  bool has_metadata = false;
  std::map<std::string, std::string> metadata;
  std::map<std::string, TensorInfo> tensors;
  std::vector<unsigned char> data;  // the byte buffer after the header

  // Converts to fp32 (F16/BF16 widened exactly). Throws ModelLoadError if a
  // value is NaN or infinite.
  std::vector<float> read_f32(const TensorInfo& t) const;
};

constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;
constexpr std::uint64_t kMaxFileBytes = 4ull << 30;
constexpr std::uint64_t kMaxTensorElements = 1ull << 30;

// "[a, b, c]", for messages.
std::string shape_str(const std::vector<std::int64_t>& shape);

// Throws ModelLoadError "<path>: <what is wrong>".
SafetensorsFile read_safetensors(const std::string& path);
// The same checks on bytes already in memory (e.g. a model embedded in a
// plugin's saved state); `name` stands for the path in messages.
SafetensorsFile parse_safetensors(std::vector<unsigned char> bytes, const std::string& name);

struct TensorToWrite {
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};
// Writes F32 tensors (sorted by name) and string metadata, atomically
// (temporary file + rename). Throws std::runtime_error on I/O failure.
void write_safetensors(const std::string& path, const std::map<std::string, TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata);

}  // namespace sw::ssm
