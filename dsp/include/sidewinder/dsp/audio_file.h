// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace sw::dsp {

// Audio file I/O over libsndfile. None of it is real-time safe: every call
// may allocate, block on I/O or throw. Samples are interleaved float32,
// nominally in [-1, 1].

// Thrown for anything that goes wrong opening, reading or writing audio. The
// message always starts with the path ("-" for stdin/stdout).
class AudioFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct AudioFormatInfo {
  double sample_rate = 0.0;
  int channels = 0;
  std::int64_t frames = -1;  // -1 if unknown (stdin / pipe)
  std::string format_name;   // e.g. "WAV (Microsoft), 24 bit PCM"
  bool is_float = false;     // samples stored as 32/64-bit float (or raw .f32)
};

// How to interpret headerless input: `.f32` files and `-` (stdin) are raw
// little-endian float32, interleaved, with this rate and channel count.
struct RawSpec {
  double sample_rate = 0.0;
  int channels = 1;
};

class AudioFileReader {
 public:
  // Opens `path` for reading:
  //   "-"         raw float32 LE from stdin, read with fread (works on pipes;
  //               no seeking); needs raw.sample_rate > 0.
  //   "*.f32"     raw float32 LE file; needs raw.sample_rate > 0.
  //   otherwise   anything libsndfile reads (WAV, FLAC, AIFF, OGG, ...).
  // Throws AudioFileError "<path>: cannot read audio: <reason>" (reason "file
  // does not exist" for a missing file). Allocates, does I/O.
  static AudioFileReader open(const std::string& path, const RawSpec& raw = RawSpec{});

  AudioFileReader(AudioFileReader&& other) noexcept;
  AudioFileReader& operator=(AudioFileReader&& other) noexcept;
  AudioFileReader(const AudioFileReader&) = delete;
  AudioFileReader& operator=(const AudioFileReader&) = delete;
  ~AudioFileReader();  // closes the file (never closes stdin)

  // Format of the opened input, and the path it was opened with. No
  // allocation, no I/O. (A moved-from reader may only be destroyed or
  // assigned to.)
  const AudioFormatInfo& info() const noexcept;
  const std::string& path() const noexcept;

  // Reads up to `frames` frames into `interleaved` (room for frames *
  // channels floats). Returns the number of frames read; 0 at the end. Blocks
  // on I/O (on stdin until `frames` frames or end of input arrive). A
  // trailing partial frame on stdin is discarded. Throws AudioFileError on a
  // read error.
  std::size_t read(float* interleaved, std::size_t frames);

 private:
  struct Impl;
  explicit AudioFileReader(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

class AudioFileWriter {
 public:
  // Creates a writer for `path`; the format follows the extension
  // (case-insensitive):
  //   .wav .aif .aiff  24-bit PCM, or 32-bit float if `float_samples` (pass
  //                    the reader's info().is_float to keep a float input float)
  //   .flac            FLAC, 24-bit
  //   .ogg             Ogg Vorbis
  //   .f32             raw float32 little-endian
  //   "-"              raw float32 little-endian on stdout (fwrite)
  // Samples outside [-1, 1] are clipped for the integer formats.
  // Files are written to a temporary `.<name>.tmp.XXXXXX` next to `path` and
  // only appear under `path` on commit(); a writer destroyed without commit()
  // deletes its temporary file. Throws AudioFileError for an unknown
  // extension (listing the supported ones), when `path` is the same file as
  // `input_path` (only stat(2)ed, never opened: it may be a pipe being read),
  // or when the file cannot be created. Allocates, does I/O.
  static AudioFileWriter create(const std::string& path, double sample_rate, int channels,
                                const std::string& input_path = "", bool float_samples = false);

  AudioFileWriter(AudioFileWriter&& other) noexcept;
  AudioFileWriter& operator=(AudioFileWriter&& other) noexcept;  // aborts *this first
  AudioFileWriter(const AudioFileWriter&) = delete;
  AudioFileWriter& operator=(const AudioFileWriter&) = delete;
  ~AudioFileWriter();  // without commit(): closes and deletes the temporary file

  // Output format (frames = frames written so far) and destination path. No
  // allocation, no I/O. (A moved-from writer may only be destroyed or
  // assigned to.)
  const AudioFormatInfo& info() const noexcept;
  const std::string& path() const noexcept;

  // Appends `frames` interleaved frames. Blocks on I/O. Throws AudioFileError
  // on a short write (disk full, closed pipe, ...) or after commit().
  std::size_t write(const float* interleaved, std::size_t frames);

  // Finishes the file: flushes and closes it, fsyncs, and renames the
  // temporary file onto `path` atomically (for "-": flushes stdout). Throws
  // AudioFileError on failure, in which case `path` is left untouched and the
  // temporary file is removed. Calling it twice is an error.
  void commit();

  // True if `a` and `b` name the same file: same device and inode when both
  // exist, otherwise the same normalised absolute path. "-" is never the same
  // as anything. Does I/O (stat); never throws.
  static bool same_file(const std::string& a, const std::string& b) noexcept;

  // The supported output extensions, for messages: ".wav, .aif, .aiff, ...".
  static const char* supported_extensions() noexcept;

 private:
  struct Impl;
  explicit AudioFileWriter(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sw::dsp
