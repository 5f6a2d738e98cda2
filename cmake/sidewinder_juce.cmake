# SPDX-License-Identifier: GPL-3.0-or-later
# Finds JUCE 7 for the plugin and defines the juce::juce_* module targets.
#
# - SIDEWINDER_JUCE_DIR set: an upstream JUCE checkout (macOS/Windows builds),
#   added with add_subdirectory as JUCE documents.
# - Otherwise Debian's juce-modules-source 7.0.5. Its modules are used from a
#   copy in the build tree with one fix applied: JUCE 7.0.5's VST3 wrapper
#   copies a channel-mapping object (a std::vector inside) for every input
#   bus on every audio block (juce_VST3Common.h, setUpInputChannels:
#   `const auto mapping = map[busIndex];`), i.e. it allocates on the audio
#   thread. Found by our allocation-counting host and by pluginval's
#   "Allocations during process" test; later JUCE releases take a reference.
#   The fix takes a reference too. The targets are then defined exactly as
#   Debian's JUCEConfig.cmake defines them, from the copy.
#
# Sets SIDEWINDER_JUCE_FOUND.
set(SIDEWINDER_JUCE_FOUND OFF)
if(TARGET juce::juce_core)
  set(SIDEWINDER_JUCE_FOUND ON)
  return()
endif()
if(SIDEWINDER_JUCE_DIR)
  add_subdirectory(${SIDEWINDER_JUCE_DIR} ${CMAKE_BINARY_DIR}/juce)
  set(SIDEWINDER_JUCE_FOUND ON)
  return()
endif()

find_path(SIDEWINDER_JUCE_CMAKE_DIR JUCEModuleSupport.cmake
  PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/cmake /usr/lib/cmake /usr/local/lib/cmake
  PATH_SUFFIXES JUCE-7.0.5
  NO_DEFAULT_PATH)
set(_sw_juce_src /usr/share/juce/modules)
if(NOT SIDEWINDER_JUCE_CMAKE_DIR OR NOT EXISTS ${_sw_juce_src}/juce_core/juce_core.h)
  return()
endif()

set(_sw_juce_modules ${CMAKE_BINARY_DIR}/juce_modules)
set(_sw_vst3_common juce_audio_processors/format_types/juce_VST3Common.h)
if(NOT EXISTS ${_sw_juce_modules}/${_sw_vst3_common})
  message(STATUS "Sidewinder: copying Debian's JUCE modules to ${_sw_juce_modules} (with the VST3 allocation fix)")
  file(COPY ${_sw_juce_src}/ DESTINATION ${_sw_juce_modules})
  file(READ ${_sw_juce_modules}/${_sw_vst3_common} _sw_text)
  string(REPLACE "const auto mapping = map[busIndex];" "const auto& mapping = map[busIndex];  // Sidewinder: no copy"
                 _sw_fixed "${_sw_text}")
  if(_sw_fixed STREQUAL _sw_text)
    message(WARNING "Sidewinder: the JUCE VST3 allocation fix did not apply (JUCE changed?)")
  endif()
  file(WRITE ${_sw_juce_modules}/${_sw_vst3_common} "${_sw_fixed}")
endif()

# What Debian's JUCEConfig.cmake does, with the copied modules.
include(${SIDEWINDER_JUCE_CMAKE_DIR}/LV2_HELPER.cmake)
if(NOT TARGET juce::juceaide)
  add_executable(juce::juceaide IMPORTED)
  set_target_properties(juce::juceaide PROPERTIES
    IMPORTED_LOCATION /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/juce/juceaide)
endif()
set(JUCE_MODULES_DIR ${_sw_juce_modules} CACHE INTERNAL "The path to JUCE modules")
include(${SIDEWINDER_JUCE_CMAKE_DIR}/JUCEModuleSupport.cmake)
include(${SIDEWINDER_JUCE_CMAKE_DIR}/JUCEUtils.cmake)
foreach(_m juce_analytics juce_audio_basics juce_audio_devices juce_audio_formats juce_audio_plugin_client
           juce_audio_processors juce_audio_utils juce_box2d juce_core juce_cryptography juce_data_structures
           juce_dsp juce_events juce_graphics juce_gui_basics juce_gui_extra juce_opengl juce_osc
           juce_product_unlocking juce_video)
  juce_add_module(${_sw_juce_modules}/${_m} ALIAS_NAMESPACE juce)
endforeach()
set(SIDEWINDER_JUCE_FOUND ON)
