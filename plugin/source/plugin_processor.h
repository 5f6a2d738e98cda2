// SPDX-License-Identifier: GPL-3.0-or-later
// The Sidewinder plugin's processor: a thin JUCE shell over fx::Effect (the
// audio path) and fx::ModelHost (model loading off the audio thread). It owns
// no GUI types; the editor reads its atomics and status snapshots.
#pragma once

#include <juce_audio_processors/juce_audio_processors.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "sidewinder/fx/effect.h"
#include "sidewinder/fx/model_host.h"

namespace sw::plugin {

// Parameter IDs (stable: saved in projects and automation).
namespace param {
inline constexpr const char* kInputGain = "input_gain";
inline constexpr const char* kOutputGain = "output_gain";
inline constexpr const char* kMix = "mix";
inline constexpr const char* kBypass = "bypass";
inline constexpr const char* kNormalise = "normalise";
}  // namespace param

// A preset compiled into the plugin.
struct BundledPreset {
  std::string name;  // file name without ".safetensors"
  const char* data = nullptr;
  int size = 0;
};
const std::vector<BundledPreset>& bundled_presets();

class Processor : public juce::AudioProcessor {
 public:
  Processor();
  ~Processor() override;

  // Message thread / host set-up: allocates, builds the model instance.
  void prepareToPlay(double sample_rate, int max_block) override;
  void releaseResources() override {}
  bool isBusesLayoutSupported(const BusesLayout& layouts) const override;
  // Audio thread: no allocation, lock or I/O (tests/plugin_host checks).
  void processBlock(juce::AudioBuffer<float>& buffer, juce::MidiBuffer& midi) override;
  using AudioProcessor::processBlock;

  juce::AudioProcessorEditor* createEditor() override;
  bool hasEditor() const override { return true; }
  const juce::String getName() const override { return "Sidewinder"; }
  bool acceptsMidi() const override { return false; }
  bool producesMidi() const override { return false; }
  double getTailLengthSeconds() const override { return 0.0; }
  int getNumPrograms() override { return 1; }
  int getCurrentProgram() override { return 0; }
  void setCurrentProgram(int) override {}
  const juce::String getProgramName(int) override { return "Default"; }
  void changeProgramName(int, const juce::String&) override {}
  juce::AudioProcessorParameter* getBypassParameter() const override;

  // State: parameters, the model's identity, and an embedded copy of a
  // user-loaded model file (so a project opens where the file is missing).
  void getStateInformation(juce::MemoryBlock& dest) override;
  void setStateInformation(const void* data, int size) override;

  // Model choice (any non-audio thread). Presets and files load on the model
  // host's worker; the result shows in model_status().
  void load_preset_async(const std::string& name);
  void load_file_async(const std::string& path);
  fx::ModelStatus model_status() const { return host_.status(); }

  fx::Effect& effect() noexcept { return effect_; }
  juce::AudioProcessorValueTreeState& parameters() noexcept { return apvts_; }

  // The user folder of models (remembered across sessions).
  juce::File user_folder() const;
  void set_user_folder(const juce::File& folder);

 private:
  static juce::AudioProcessorValueTreeState::ParameterLayout make_layout();
  fx::ModelSource preset_source(const std::string& name) const;
  void on_model_status(const fx::ModelStatus& status);

  fx::Effect effect_;
  fx::ModelHost host_{effect_};
  juce::AudioProcessorValueTreeState apvts_;
  std::atomic<float>* input_gain_ = nullptr;
  std::atomic<float>* output_gain_ = nullptr;
  std::atomic<float>* mix_ = nullptr;
  std::atomic<float>* bypass_ = nullptr;
  std::atomic<float>* normalise_ = nullptr;
  std::unique_ptr<juce::PropertiesFile> settings_;

  JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(Processor)
};

}  // namespace sw::plugin
