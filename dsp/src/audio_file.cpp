// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/dsp/audio_file.h"

#include <fcntl.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

namespace sw::dsp {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSupportedExtensions = ".wav, .aif, .aiff, .flac, .ogg, .f32, or - for stdout";
constexpr int kRawFloatFormat = SF_FORMAT_RAW | SF_FORMAT_FLOAT | SF_ENDIAN_LITTLE;
constexpr const char* kRawFormatName = "raw float32 little-endian";

// Lower-case extension of the file name part, including the dot ("" if none).
std::string lower_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

std::string errno_text(int err) {
  return std::error_code(err, std::generic_category()).message();
}

// Raw streams and .f32 files are little-endian; swap in place on big-endian
// hosts (a no-op everywhere else).
void swap_if_big_endian(float* data, std::size_t count) noexcept {
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  for (std::size_t i = 0; i < count; ++i) {
    unsigned char b[sizeof(float)];
    std::memcpy(b, &data[i], sizeof b);
    std::reverse(b, b + sizeof b);
    std::memcpy(&data[i], b, sizeof b);
  }
#else
  (void)data;
  (void)count;
#endif
}

std::string sf_format_part_name(int format, int command) {
  SF_FORMAT_INFO fi{};
  fi.format = format;
  if (sf_command(nullptr, command, &fi, sizeof fi) == 0 && fi.name != nullptr)
    return fi.name;
  return "unknown";
}

std::string sf_format_name(int format) {
  if ((format & SF_FORMAT_TYPEMASK) == SF_FORMAT_RAW && (format & SF_FORMAT_SUBMASK) == SF_FORMAT_FLOAT) {
    return kRawFormatName;
  }
  return sf_format_part_name(format & SF_FORMAT_TYPEMASK, SFC_GET_FORMAT_INFO) + ", " +
         sf_format_part_name(format & SF_FORMAT_SUBMASK, SFC_GET_FORMAT_INFO);
}

bool sf_is_float(int format) {
  const int sub = format & SF_FORMAT_SUBMASK;
  return sub == SF_FORMAT_FLOAT || sub == SF_FORMAT_DOUBLE;
}

void check_raw_spec(const std::string& path, const RawSpec& raw) {
  if (!(raw.sample_rate > 0.0) || !std::isfinite(raw.sample_rate)) {
    throw AudioFileError(path + ": cannot read audio: raw float32 input needs a sample rate");
  }
  if (raw.channels <= 0) {
    throw AudioFileError(path + ": cannot read audio: raw float32 input needs a positive channel count");
  }
}

}  // namespace

// ---------------------------------------------------------------- reader --

struct AudioFileReader::Impl {
  std::string path;
  AudioFormatInfo info;
  SNDFILE* sf = nullptr;
  bool from_stdin = false;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (sf != nullptr)
      sf_close(sf);
  }
};

AudioFileReader::AudioFileReader(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
AudioFileReader::AudioFileReader(AudioFileReader&& other) noexcept = default;
AudioFileReader& AudioFileReader::operator=(AudioFileReader&& other) noexcept = default;
AudioFileReader::~AudioFileReader() = default;

AudioFileReader AudioFileReader::open(const std::string& path, const RawSpec& raw) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;

  if (path == "-") {
    check_raw_spec(path, raw);
    impl->from_stdin = true;
    impl->info.sample_rate = raw.sample_rate;
    impl->info.channels = raw.channels;
    impl->info.frames = -1;
    impl->info.format_name = std::string(kRawFormatName) + " (stdin)";
    impl->info.is_float = true;
    return AudioFileReader(std::move(impl));
  }

  if (path.empty())
    throw AudioFileError("(empty path): cannot read audio: no file name given");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT)
      throw AudioFileError(path + ": cannot read audio: file does not exist");
    throw AudioFileError(path + ": cannot read audio: " + errno_text(err));
  }
  if (S_ISDIR(st.st_mode))
    throw AudioFileError(path + ": cannot read audio: is a directory");

  SF_INFO sfinfo{};
  const bool raw_file = lower_extension(path) == ".f32";
  if (raw_file) {
    check_raw_spec(path, raw);
    if (st.st_size == 0) {
      // libsndfile refuses empty raw files; an empty .f32 is simply silence
      // of length zero.
      impl->info.sample_rate = raw.sample_rate;
      impl->info.channels = raw.channels;
      impl->info.frames = 0;
      impl->info.format_name = kRawFormatName;
      impl->info.is_float = true;
      return AudioFileReader(std::move(impl));
    }
    sfinfo.samplerate = static_cast<int>(std::lround(raw.sample_rate));
    sfinfo.channels = raw.channels;
    sfinfo.format = kRawFloatFormat;
  }
  impl->sf = sf_open(path.c_str(), SFM_READ, &sfinfo);
  if (impl->sf == nullptr) {
    throw AudioFileError(path + ": cannot read audio: " + sf_strerror(nullptr));
  }
  if (sfinfo.channels <= 0 || sfinfo.samplerate <= 0) {
    throw AudioFileError(path + ": cannot read audio: invalid channel count or sample rate in header");
  }
  impl->info.sample_rate = raw_file ? raw.sample_rate : static_cast<double>(sfinfo.samplerate);
  impl->info.channels = sfinfo.channels;
  impl->info.frames =
      (sfinfo.frames < 0 || sfinfo.frames == SF_COUNT_MAX) ? -1 : static_cast<std::int64_t>(sfinfo.frames);
  impl->info.format_name = sf_format_name(sfinfo.format);
  impl->info.is_float = sf_is_float(sfinfo.format);
  return AudioFileReader(std::move(impl));
}

const AudioFormatInfo& AudioFileReader::info() const noexcept {
  return impl_->info;
}
const std::string& AudioFileReader::path() const noexcept {
  return impl_->path;
}

std::size_t AudioFileReader::read(float* interleaved, std::size_t frames) {
  if (frames == 0)
    return 0;
  const auto channels = static_cast<std::size_t>(impl_->info.channels);
  if (impl_->from_stdin) {
    const std::size_t got = std::fread(interleaved, sizeof(float) * channels, frames, stdin);
    if (got < frames && std::ferror(stdin)) {
      const int err = errno;
      throw AudioFileError(impl_->path + ": read error: " + errno_text(err));
    }
    swap_if_big_endian(interleaved, got * channels);
    return got;
  }
  if (impl_->sf == nullptr)
    return 0;  // empty raw file
  const sf_count_t got = sf_readf_float(impl_->sf, interleaved, static_cast<sf_count_t>(frames));
  if (got < 0 || (static_cast<std::size_t>(got) < frames && sf_error(impl_->sf) != SF_ERR_NO_ERROR)) {
    throw AudioFileError(impl_->path + ": read error: " + sf_strerror(impl_->sf));
  }
  return static_cast<std::size_t>(got);
}

// ---------------------------------------------------------------- writer --

struct AudioFileWriter::Impl {
  std::string path;
  std::string tmp_path;
  AudioFormatInfo info;
  SNDFILE* sf = nullptr;
  int fd = -1;
  bool to_stdout = false;
  bool committed = false;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (!committed)
      abort();
  }

  // Closes everything and deletes the temporary file. Never throws.
  void abort() noexcept {
    if (sf != nullptr)
      sf_close(sf);
    sf = nullptr;
    if (fd >= 0)
      ::close(fd);
    fd = -1;
    if (!tmp_path.empty())
      ::unlink(tmp_path.c_str());
    tmp_path.clear();
  }
};

AudioFileWriter::AudioFileWriter(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
AudioFileWriter::AudioFileWriter(AudioFileWriter&& other) noexcept = default;
AudioFileWriter& AudioFileWriter::operator=(AudioFileWriter&& other) noexcept = default;
AudioFileWriter::~AudioFileWriter() = default;

const char* AudioFileWriter::supported_extensions() noexcept {
  return kSupportedExtensions;
}

AudioFileWriter AudioFileWriter::create(const std::string& path, double sample_rate, int channels,
                                        const std::string& input_path, bool float_samples) {
  const std::string shown = path.empty() ? std::string("(empty path)") : path;
  if (!(sample_rate > 0.0) || !std::isfinite(sample_rate)) {
    throw AudioFileError(shown + ": cannot write audio: invalid sample rate " + std::to_string(sample_rate));
  }
  if (channels <= 0) {
    throw AudioFileError(shown + ": cannot write audio: invalid channel count " + std::to_string(channels));
  }

  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->info.sample_rate = sample_rate;
  impl->info.channels = channels;
  impl->info.frames = 0;

  if (path == "-") {
    impl->to_stdout = true;
    impl->info.format_name = std::string(kRawFormatName) + " (stdout)";
    impl->info.is_float = true;
    return AudioFileWriter(std::move(impl));
  }
  if (path.empty())
    throw AudioFileError(shown + ": cannot write audio: no file name given");

  const std::string ext = lower_extension(path);
  int format = 0;
  if (ext == ".wav" || ext == ".aif" || ext == ".aiff") {
    format = (ext == ".wav" ? SF_FORMAT_WAV : SF_FORMAT_AIFF) | (float_samples ? SF_FORMAT_FLOAT : SF_FORMAT_PCM_24);
  } else if (ext == ".flac") {
    format = SF_FORMAT_FLAC | SF_FORMAT_PCM_24;
  } else if (ext == ".ogg") {
    format = SF_FORMAT_OGG | SF_FORMAT_VORBIS;
  } else if (ext == ".f32") {
    format = kRawFloatFormat;
  } else if (ext.empty()) {
    throw AudioFileError(path + ": cannot write audio: no file extension to choose the format by (supported: " +
                         kSupportedExtensions + ")");
  } else {
    throw AudioFileError(path + ": cannot write audio: unsupported output format \"" + ext +
                         "\" (supported: " + kSupportedExtensions + ")");
  }

  if (!input_path.empty() && same_file(path, input_path)) {
    throw AudioFileError(path + ": refusing to overwrite the input file");
  }

  struct stat existing {};
  const bool exists = ::stat(path.c_str(), &existing) == 0;
  if (exists && S_ISDIR(existing.st_mode))
    throw AudioFileError(path + ": cannot write audio: is a directory");

  SF_INFO sfinfo{};
  sfinfo.samplerate = static_cast<int>(std::lround(sample_rate));
  sfinfo.channels = channels;
  sfinfo.format = format;
  impl->info.format_name = sf_format_name(format);
  impl->info.is_float = sf_is_float(format);
  if (sfinfo.samplerate <= 0 || !sf_format_check(&sfinfo)) {
    throw AudioFileError(path + ": cannot write audio: " + impl->info.format_name + " does not support " +
                         std::to_string(channels) + " channel(s) at " + std::to_string(sfinfo.samplerate) + " Hz");
  }

  // Temporary file next to the destination so that rename(2) is atomic.
  const fs::path out_path(path);
  const fs::path dir = out_path.has_parent_path() ? out_path.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + out_path.filename().string() + ".tmp.XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  impl->fd = ::mkstemp(buf.data());
  if (impl->fd < 0) {
    const int err = errno;
    throw AudioFileError(path + ": cannot write audio: cannot create a temporary file in " + dir.string() + ": " +
                         errno_text(err));
  }
  impl->tmp_path = buf.data();  // from here on, ~Impl deletes it on failure

  // mkstemp makes the file 0600; give the result the usual permissions (those
  // of the file being replaced, or 0666 minus the umask).
  mode_t mode = 0;
  if (exists) {
    mode = existing.st_mode & 07777;
  } else {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    mode = 0666 & ~mask;
  }
  (void)::fchmod(impl->fd, mode);

  impl->sf = sf_open_fd(impl->fd, SFM_WRITE, &sfinfo, SF_FALSE);
  if (impl->sf == nullptr) {
    throw AudioFileError(path + ": cannot write audio: " + sf_strerror(nullptr));
  }
  if (!impl->info.is_float && (format & SF_FORMAT_TYPEMASK) != SF_FORMAT_OGG) {
    sf_command(impl->sf, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  }
  return AudioFileWriter(std::move(impl));
}

const AudioFormatInfo& AudioFileWriter::info() const noexcept {
  return impl_->info;
}
const std::string& AudioFileWriter::path() const noexcept {
  return impl_->path;
}

std::size_t AudioFileWriter::write(const float* interleaved, std::size_t frames) {
  Impl& im = *impl_;
  if (im.committed)
    throw AudioFileError(im.path + ": write after commit");
  if (frames == 0)
    return 0;
  const auto channels = static_cast<std::size_t>(im.info.channels);

  if (im.to_stdout) {
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    std::vector<float> le(interleaved, interleaved + frames * channels);
    swap_if_big_endian(le.data(), le.size());
    interleaved = le.data();
#endif
    const std::size_t put = std::fwrite(interleaved, sizeof(float) * channels, frames, stdout);
    if (put != frames) {
      const int err = errno;
      throw AudioFileError(im.path + ": write error: " + errno_text(err));
    }
    im.info.frames += static_cast<std::int64_t>(put);
    return put;
  }

  if (im.sf == nullptr)
    throw AudioFileError(im.path + ": write after a failed write or commit");
  const sf_count_t put = sf_writef_float(im.sf, interleaved, static_cast<sf_count_t>(frames));
  if (put != static_cast<sf_count_t>(frames)) {
    const std::string reason = sf_strerror(im.sf);
    throw AudioFileError(im.path + ": write error: " + reason);
  }
  im.info.frames += static_cast<std::int64_t>(put);
  return static_cast<std::size_t>(put);
}

void AudioFileWriter::commit() {
  Impl& im = *impl_;
  if (im.committed)
    throw AudioFileError(im.path + ": commit called twice");

  if (im.to_stdout) {
    if (std::fflush(stdout) != 0) {
      const int err = errno;
      throw AudioFileError(im.path + ": write error: " + errno_text(err));
    }
    im.committed = true;
    return;
  }

  if (im.sf == nullptr)
    throw AudioFileError(im.path + ": commit after a failed write");
  const int close_error = sf_close(im.sf);
  im.sf = nullptr;
  if (close_error != 0) {
    const std::string reason = sf_error_number(close_error);
    im.abort();
    throw AudioFileError(im.path + ": cannot finish writing: " + reason);
  }
  if (::fsync(im.fd) != 0) {
    const int err = errno;
    // EINVAL/EROFS: the file system does not support fsync; nothing to lose.
    if (err != EINVAL && err != EROFS) {
      im.abort();
      throw AudioFileError(im.path + ": cannot finish writing: " + errno_text(err));
    }
  }
  const int fd = im.fd;
  im.fd = -1;
  if (::close(fd) != 0) {
    const int err = errno;
    im.abort();
    throw AudioFileError(im.path + ": cannot finish writing: " + errno_text(err));
  }
  if (::rename(im.tmp_path.c_str(), im.path.c_str()) != 0) {
    const int err = errno;
    im.abort();
    throw AudioFileError(im.path + ": cannot move the finished file into place: " + errno_text(err));
  }
  im.tmp_path.clear();
  im.committed = true;
}

bool AudioFileWriter::same_file(const std::string& a, const std::string& b) noexcept {
  if (a.empty() || b.empty() || a == "-" || b == "-")
    return false;
  struct stat sa {};
  struct stat sb {};
  const bool a_exists = ::stat(a.c_str(), &sa) == 0;
  const bool b_exists = ::stat(b.c_str(), &sb) == 0;
  if (a_exists && b_exists)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  if (a_exists != b_exists)
    return false;
  try {
    std::error_code ec_a;
    std::error_code ec_b;
    const fs::path ca = fs::weakly_canonical(fs::absolute(a), ec_a);
    const fs::path cb = fs::weakly_canonical(fs::absolute(b), ec_b);
    if (ec_a || ec_b)
      return a == b;
    return ca == cb;
  } catch (...) {
    return a == b;
  }
}

}  // namespace sw::dsp
