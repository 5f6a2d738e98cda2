// SPDX-License-Identifier: GPL-3.0-or-later
// The Sidewinder editor: model browser (bundled presets + a remembered user
// folder), file chooser and drag and drop, the model's name, description and
// licence, controls, input/output meters, the engine's CPU load and the last
// load error. Polls the processor's atomics and status on a timer; never
// touches the audio path directly.
#pragma once

#include <juce_audio_processors/juce_audio_processors.h>
#include <juce_gui_basics/juce_gui_basics.h>

#include <memory>

#include "plugin_processor.h"

namespace sw::plugin {

// A vertical peak meter with a short decay, in dBFS (-60 .. +6).
class Meter : public juce::Component {
 public:
  void push(float peak);
  void paint(juce::Graphics& g) override;

 private:
  float level_db_ = -60.0f;
};

class Editor : public juce::AudioProcessorEditor, public juce::FileDragAndDropTarget, private juce::Timer {
 public:
  explicit Editor(Processor& p);
  ~Editor() override;

  void paint(juce::Graphics& g) override;
  void resized() override;
  bool isInterestedInFileDrag(const juce::StringArray& files) override;
  void filesDropped(const juce::StringArray& files, int x, int y) override;

 private:
  void timerCallback() override;
  void refresh_browser();
  void on_browser_change();
  void show_status(const fx::ModelStatus& s);

  using SliderAttachment = juce::AudioProcessorValueTreeState::SliderAttachment;
  using ButtonAttachment = juce::AudioProcessorValueTreeState::ButtonAttachment;

  Processor& processor_;
  juce::ComboBox browser_;
  juce::TextButton load_button_{"Load file..."}, folder_button_{"User folder..."};
  juce::Label title_, name_, description_, licence_, info_, error_;
  juce::Slider input_, output_, mix_;
  juce::Label input_label_, output_label_, mix_label_;
  juce::ToggleButton bypass_{"Bypass"}, normalise_{"Normalise output"};
  std::unique_ptr<SliderAttachment> input_att_, output_att_, mix_att_;
  std::unique_ptr<ButtonAttachment> bypass_att_, normalise_att_;
  Meter in_meter_, out_meter_;
  std::unique_ptr<juce::FileChooser> chooser_;
  juce::Array<juce::File> user_files_;
  std::uint64_t shown_generation_ = ~0ull;
  fx::ModelStatus status_;  // the last one shown (without the file's bytes)
  bool dragging_ = false;

  JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(Editor)
};

}  // namespace sw::plugin
