// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "sidewinder/speech/synth_spec.h"
#include "sidewinder/ssm/model.h"

namespace sw::speech {

// A loaded voice (docs/speech.md): immutable once built, shared by any
// number of VoiceStreams through shared_ptr<const VoiceModel>; thread-safe
// to read. Made by load_voice() (voice_loader.h).
//
//   ids [N] --embedding--> e [N, C]
//   h = enc_fwd(e) + reverse(enc_bwd(reverse(e)))         [N, H]
//   mu = prior_w h + prior_b                               [N, M] log-mel prior per phoneme
//   frames_i = max(1, round(expm1(dur_w . h_i + dur_b) * length_scale))
//   decoder (causal, 100 frames/s): [h_i, mu_i, progress, 1/frames_i] (H + M + 2)
//        -> [log f0, voicing logit, log-mel - mu_i] (2 + M)
//   synthesiser: log-mel, f0, voicing -> samples (hns_synth.h)
struct VoiceModel {
  std::string path;
  std::map<std::string, std::string> metadata;  // as in the file (name, license, credits, ...)
  std::string name, language, license, credits, espeak_voice;

  std::unordered_map<std::string, int> phoneme_ids;  // one UTF-8 codepoint (or "<bos>", "<eos>", " ") -> id
  int n_symbols = 0, emb_dim = 0, hidden = 0, n_mels = 0;
  int bos = 0, eos = 0, space = 0;

  std::vector<float> embedding;                        // [n_symbols, emb_dim]
  std::shared_ptr<const ssm::Model> enc_fwd, enc_bwd;  // emb_dim -> hidden
  std::shared_ptr<const ssm::Model> decoder;           // hidden + n_mels + 2 -> 2 + n_mels
  std::vector<float> prior_w;                          // [n_mels, hidden]
  std::vector<float> prior_b;                          // [n_mels]
  std::vector<float> dur_w;                            // [hidden]
  float dur_b = 0.0f;
  std::shared_ptr<const SynthTables> synth;

  int sample_rate() const noexcept { return synth->spec.sample_rate; }
  int hop() const noexcept { return synth->spec.hop; }
  // The id of one phoneme symbol (UTF-8 codepoint), or -1 if the voice does not know it.
  int id_of(const std::string& symbol) const {
    auto it = phoneme_ids.find(symbol);
    return it == phoneme_ids.end() ? -1 : it->second;
  }
  std::size_t parameter_count() const noexcept;
};

}  // namespace sw::speech
