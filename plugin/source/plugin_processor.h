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

class Processor : public juce::AudioProcessor, private juce::AsyncUpdater {
 public:
  Processor();
  ~Processor() override;

  // Message thread / host set-up: allocates, builds the model instance.
  void prepareToPlay(double sample_rate, int max_block) override;
  void releaseResources() override {}
  // Clears the models' states at the start of the next block (any thread).
  void reset() override { effect_.reset(); }
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
  // Programs = the bundled presets. setCurrentProgram may come on the audio
  // thread (some wrappers deliver program changes in process()): it only
  // stores the request; the model host's worker loads it.
  int getNumPrograms() override;
  int getCurrentProgram() override { return program_.load(); }
  void setCurrentProgram(int index) override;
  const juce::String getProgramName(int index) override;
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
  fx::ModelStatus model_status() const { return host_.status_without_bytes(); }
  std::uint64_t model_generation() const { return host_.generation(); }

  fx::Effect& effect() noexcept { return effect_; }
  juce::AudioProcessorValueTreeState& parameters() noexcept { return apvts_; }

  // The user folder of models (remembered across sessions).
  juce::File user_folder() const;
  void set_user_folder(const juce::File& folder);

 private:
  static juce::AudioProcessorValueTreeState::ParameterLayout make_layout();
  fx::ModelSource preset_source(const std::string& name) const;
  void on_model_status(const fx::ModelStatus& status);
  void handleAsyncUpdate() override;  // message thread: report a new latency

  fx::Effect effect_;
  fx::ModelHost host_{effect_};
  juce::AudioProcessorValueTreeState apvts_;
  std::atomic<float>* input_gain_ = nullptr;
  std::atomic<float>* output_gain_ = nullptr;
  std::atomic<float>* mix_ = nullptr;
  std::atomic<float>* bypass_ = nullptr;
  std::atomic<float>* normalise_ = nullptr;
  std::unique_ptr<juce::PropertiesFile> settings_;
  juce::AudioBuffer<float> spare_;          // [channels, max block]: see processBlock
  std::atomic<int> program_{0};             // the preset shown as current program
  std::atomic<int> requested_program_{-1};  // set on any thread, loaded by the worker
  std::atomic<int> pending_latency_{0};

  JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(Processor)
};

}  // namespace sw::plugin
