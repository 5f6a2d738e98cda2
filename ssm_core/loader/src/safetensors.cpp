// SPDX-License-Identifier: GPL-3.0-or-later
// Safetensors container: 8-byte LE header length, JSON header, byte buffer.
// ref: https://github.com/huggingface/safetensors (format description)
#include "sidewinder/ssm/safetensors.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

namespace sw::ssm {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw ModelLoadError(path + ": " + what);
}

std::size_t dtype_size(DType d) {
  return d == DType::f32 ? 4 : 2;
}

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = (h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | ((127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::ostringstream o;
  o << "[";
  for (std::size_t i = 0; i < s.size(); ++i)
    o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

std::uint64_t TensorInfo::elements() const noexcept {
  std::uint64_t n = 1;
  for (std::int64_t d : shape)
    n *= static_cast<std::uint64_t>(d);
  return n;
}

SafetensorsFile read_safetensors(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    fail(path, std::string("cannot open: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    fail(path, "not a regular file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f)
    fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::vector<unsigned char> bytes;
  {
    std::fseek(f, 0, SEEK_END);
    const long size = std::ftell(f);
    std::fseek(f, 0, SEEK_SET);
    if (size < 0) {
      std::fclose(f);
      fail(path, "cannot read (not a regular file?)");
    }
    if (static_cast<std::uint64_t>(size) > kMaxFileBytes) {
      std::fclose(f);
      fail(path, "file too large (" + std::to_string(size) + " bytes; the limit is 4 GiB)");
    }
    bytes.resize(static_cast<std::size_t>(size));
    const std::size_t got = size ? std::fread(bytes.data(), 1, bytes.size(), f) : 0;
    std::fclose(f);
    if (got != bytes.size())
      fail(path, std::string("read error: ") + std::strerror(errno));
  }
  return parse_safetensors(std::move(bytes), path);
}

SafetensorsFile parse_safetensors(std::vector<unsigned char> bytes, const std::string& path) {
  if (bytes.size() > kMaxFileBytes)
    fail(path, "too large (" + std::to_string(bytes.size()) + " bytes; the limit is 4 GiB)");
  if (bytes.size() < 8) {
    fail(path, "truncated: " + std::to_string(bytes.size()) +
                   " bytes, a safetensors file starts with an 8-byte header length");
  }
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i)
    header_len = (header_len << 8) | bytes[static_cast<std::size_t>(i)];
  if (header_len > kMaxHeaderBytes && header_len <= bytes.size() - 8) {
    fail(path, "header length " + std::to_string(header_len) + " is over the 100 MB limit");
  }
  if (header_len > bytes.size() - 8) {
    fail(path, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                   std::to_string(bytes.size()) + " bytes)");
  }
  const std::string header(reinterpret_cast<const char*>(bytes.data()) + 8, static_cast<std::size_t>(header_len));
  // A safetensors header is two levels deep ({name: {shape: [...]}}); refuse
  // deep nesting before building a DOM that could take gigabytes.
  {
    int depth = 0, max_depth = 0;
    bool in_string = false, escaped = false;
    for (char ch : header) {
      if (in_string) {
        if (escaped) {
          escaped = false;
        } else if (ch == '\\') {
          escaped = true;
        } else if (ch == '"') {
          in_string = false;
        }
      } else if (ch == '"') {
        in_string = true;
      } else if (ch == '{' || ch == '[') {
        max_depth = std::max(max_depth, ++depth);
      } else if (ch == '}' || ch == ']') {
        --depth;
      }
    }
    if (max_depth > 8)
      fail(path, "the JSON header is nested " + std::to_string(max_depth) + " levels deep (at most 8)");
  }
  const nlohmann::json j = nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    fail(path, "the header is not valid JSON");
  if (!j.is_object())
    fail(path, "the JSON header is not an object");

  SafetensorsFile out;
  out.path = path;
  const std::uint64_t data_size = bytes.size() - 8 - header_len;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object())
        fail(path, "__metadata__ is not an object");
      out.has_metadata = true;
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          fail(path, "metadata key '" + m.key() + "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object())
      fail(path, "tensor " + name + ": entry is not an object");
    TensorInfo t;
    t.name = name;
    auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string())
      fail(path, "tensor " + name + ": missing dtype");
    const std::string dts = dt->get<std::string>();
    if (dts == "F32") {
      t.dtype = DType::f32;
    } else if (dts == "F16") {
      t.dtype = DType::f16;
    } else if (dts == "BF16") {
      t.dtype = DType::bf16;
    } else {
      fail(path, "tensor " + name + ": unsupported dtype '" + dts + "' (supported: F32, F16, BF16)");
    }
    auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array())
      fail(path, "tensor " + name + ": missing or invalid shape");
    for (const auto& d : *sh) {
      if (!d.is_number_integer() || d.get<std::int64_t>() < 0) {
        fail(path, "tensor " + name + ": shape has a value that is not a non-negative integer");
      }
      t.shape.push_back(d.get<std::int64_t>());
    }
    if (t.shape.size() > 8)
      fail(path, "tensor " + name + ": shape has too many dimensions");
    // Element count with overflow check, before the offsets are trusted.
    std::uint64_t n = 1;
    for (std::int64_t d : t.shape) {
      if (d != 0 && n > kMaxTensorElements / static_cast<std::uint64_t>(d)) {
        fail(path, "tensor " + name + ": too large (shape " + shape_str(t.shape) + ")");
      }
      n *= static_cast<std::uint64_t>(d);
    }
    if (n > kMaxTensorElements)
      fail(path, "tensor " + name + ": too large (shape " + shape_str(t.shape) + ")");
    auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned()) {
      fail(path, "tensor " + name + ": missing or invalid data_offsets");
    }
    t.begin = (*off)[0].get<std::uint64_t>();
    t.end = (*off)[1].get<std::uint64_t>();
    if (t.end < t.begin)
      fail(path, "tensor " + name + ": data_offsets end before they begin");
    const std::uint64_t need = n * dtype_size(t.dtype);
    if (t.end - t.begin != need) {
      fail(path, "tensor " + name + ": data_offsets span " + std::to_string(t.end - t.begin) + " bytes, shape " +
                     shape_str(t.shape) + " of " + dts + " needs " + std::to_string(need) + " (does not match)");
    }
    if (t.end > data_size) {
      fail(path, "tensor " + name + ": data runs past the end of the file (offsets [" + std::to_string(t.begin) + ", " +
                     std::to_string(t.end) + "), the byte buffer holds " + std::to_string(data_size) + ")");
    }
    out.tensors.emplace(name, std::move(t));
  }
  // No two tensors may share bytes.
  std::vector<const TensorInfo*> order;
  for (const auto& kv : out.tensors) {
    if (kv.second.end > kv.second.begin)
      order.push_back(&kv.second);
  }
  std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < order.size(); ++i) {
    if (order[i]->begin < order[i - 1]->end) {
      fail(path, "tensors " + order[i - 1]->name + " and " + order[i]->name + " overlap in the byte buffer");
    }
  }
  out.data.assign(bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_len), bytes.end());
  return out;
}

std::vector<float> SafetensorsFile::read_f32(const TensorInfo& t) const {
  const std::size_t n = static_cast<std::size_t>(t.elements());
  std::vector<float> v(n);
  const unsigned char* p = data.data() + t.begin;
  for (std::size_t i = 0; i < n; ++i) {
    float f;
    if (t.dtype == DType::f32) {
      const std::uint32_t b = std::uint32_t(p[4 * i]) | std::uint32_t(p[4 * i + 1]) << 8 |
                              std::uint32_t(p[4 * i + 2]) << 16 | std::uint32_t(p[4 * i + 3]) << 24;
      std::memcpy(&f, &b, sizeof f);
    } else {
      const std::uint16_t h = static_cast<std::uint16_t>(p[2 * i] | p[2 * i + 1] << 8);
      if (t.dtype == DType::bf16) {
        const std::uint32_t b = std::uint32_t(h) << 16;
        std::memcpy(&f, &b, sizeof f);
      } else {
        f = half_to_float(h);
      }
    }
    if (!std::isfinite(f)) {
      throw ModelLoadError(path + ": tensor " + t.name + " holds a non-finite value (NaN or infinity) at index " +
                           std::to_string(i));
    }
    v[i] = f;
  }
  return v;
}

void write_safetensors(const std::string& path, const std::map<std::string, TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json h = nlohmann::json::object();
  if (!metadata.empty())
    h["__metadata__"] = metadata;
  std::uint64_t off = 0;
  for (const auto& kv : tensors) {
    std::uint64_t n = 1;
    for (auto d : kv.second.shape)
      n *= static_cast<std::uint64_t>(d);
    if (n != kv.second.values.size())
      throw std::runtime_error("write_safetensors: " + kv.first + " shape/size mismatch");
    h[kv.first] = {{"dtype", "F32"}, {"shape", kv.second.shape}, {"data_offsets", {off, off + 4 * n}}};
    off += 4 * n;
  }
  std::string header = h.dump();
  while (header.size() % 8)
    header.push_back(' ');
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    throw std::runtime_error(path + ": cannot write: " + std::strerror(errno));
  unsigned char len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<unsigned char>((std::uint64_t(header.size()) >> (8 * i)) & 0xff);
  bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(header.data(), 1, header.size(), f) == header.size();
  for (const auto& kv : tensors) {
    for (float x : kv.second.values) {
      std::uint32_t b;
      std::memcpy(&b, &x, sizeof b);
      unsigned char le[4] = {static_cast<unsigned char>(b), static_cast<unsigned char>(b >> 8),
                             static_cast<unsigned char>(b >> 16), static_cast<unsigned char>(b >> 24)};
      ok = ok && std::fwrite(le, 1, 4, f) == 4;
    }
  }
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": write failed");
  }
}

}  // namespace sw::ssm
