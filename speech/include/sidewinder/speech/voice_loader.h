// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <memory>
#include <string>

#include "sidewinder/speech/voice_model.h"
#include "sidewinder/ssm/safetensors.h"

namespace sw::speech {

constexpr int kVoiceFormatVersion = 1;

// Reads and validates a voice file (safetensors, `format = sidewinder-voice`,
// `format_version = 1`, `synthesiser = hns-mel-1`; docs/speech.md). Throws
// ssm::ModelLoadError with one message "<path>: ..." naming the key or tensor
// at fault. Not real-time: file I/O, JSON, allocation.
std::shared_ptr<const VoiceModel> load_voice(const std::string& path);

// Whether a file's metadata says it is a voice (for `sidewinder info`).
bool is_voice_file(const ssm::SafetensorsFile& file);

}  // namespace sw::speech
