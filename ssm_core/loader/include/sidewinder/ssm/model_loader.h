// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sidewinder/ssm/model.h"
#include "sidewinder/ssm/model_weights.h"
#include "sidewinder/ssm/safetensors.h"

namespace sw::ssm {

// Format versions this engine reads (docs/model_format.md).
constexpr int kFormatVersion = 1;

// Reads and validates a model file (Sidewinder or plain mamba_ssm / Hugging
// Face backbone). Throws ModelLoadError with one message "<path>: ..." that
// names the tensor or key at fault. Never returns a half-loaded model.
// Not real-time: allocates and does file I/O.
ModelWeights load_model_weights(const std::string& path);

// load_model_weights + Model::create.
std::shared_ptr<const Model> load_model(const std::string& path);

// The same for a file's bytes already in memory (a model embedded in a saved
// plugin state); `name` stands for the path in messages.
ModelWeights load_model_weights_from_memory(std::vector<unsigned char> bytes, const std::string& name);
std::shared_ptr<const Model> load_model_from_memory(std::vector<unsigned char> bytes, const std::string& name);

// One model stored inside a container file (a voice holds several): the
// tensors named `prefix` + <model tensor name>, interpreted with `metadata`
// (format, format_version, arch, sample_rate, ... as in a model file) instead
// of the file's own. Messages name file.path and the full tensor name.
ModelWeights load_model_weights_from_container(const SafetensorsFile& file, const std::string& prefix,
                                               std::map<std::string, std::string> metadata);

// Writes weights as a Sidewinder format-1 file (F32), metadata included.
void save_model_weights(const ModelWeights& weights, const std::string& path);

}  // namespace sw::ssm
