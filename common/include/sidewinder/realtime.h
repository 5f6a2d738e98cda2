// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// SW_REALTIME marks a function that may run on an audio thread: it must not
// allocate, lock, block, throw or do I/O. It documents the contract; the
// allocation-counting tests in tests/ enforce it for every hot path.
#define SW_REALTIME

// SW_NONREALTIME marks functions that may allocate, load or throw (prepare,
// loaders). Never call one from an SW_REALTIME function.
#define SW_NONREALTIME
