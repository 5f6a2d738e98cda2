# SPDX-License-Identifier: GPL-3.0-or-later
"""Layout of the standard Sidewinder capture signal, version 1.

This module is the single source of truth for where everything sits in
``capture_v1.wav`` (made by ``training/capture/make_capture.py``, described in
``docs/capture.md``). It is plain Python: no numpy, no file access.

All positions are integer sample indices at ``SAMPLE_RATE``; ranges are
half-open ``[start, end)``. Segments tile the file without gaps or overlaps.
A recording of the capture played through a device has the same layout, shifted
by the device's latency (find it with the sync impulses).
"""

from collections import namedtuple

SAMPLE_RATE = 48000
VERSION = 1

ROLES = ("sync", "train", "validation", "repeat")
KINDS = (
    "impulses", "sweep", "noise_bursts", "guitar", "bass", "piano", "drums", "speech", "silence", "mixed",
)

# One segment: name (unique), start_sample, end_sample (exclusive), role, kind.
Segment = namedtuple("Segment", ["name", "start_sample", "end_sample", "role", "kind"])

# The sync pattern: single-sample impulses of IMPULSE_AMPLITUDE at these offsets from the start of a
# sync segment (0.5 s, 1.0 s, 1.6 s: unequal gaps of 0.5 s and 0.6 s, so the pattern's
# autocorrelation has one main peak). Everything else in a sync segment is exact digital silence.
IMPULSE_OFFSETS = (24000, 48000, 76800)
IMPULSE_AMPLITUDE = 0.5
SYNC_LENGTH = 96000  # 2.0 s; head and tail sync segments are identical

# Each repeat copy is REPEAT_PAD samples of silence, the material, REPEAT_PAD samples of silence, so
# the two copies are separated by 2 * REPEAT_PAD samples (1.0 s) of silence.
REPEAT_PAD = 24000


def _s(seconds):
    """Seconds to samples; the layout uses only whole-sample times."""
    n = seconds * SAMPLE_RATE
    if n != int(n):
        raise ValueError("not a whole number of samples: %r s" % (seconds,))
    return int(n)


# (name, duration in seconds, role, kind), in file order.
_PLAN = (
    ("head_sync", 2.0, "sync", "impulses"),
    ("train_sweeps", 18.0, "train", "sweep"),
    ("train_noise_bursts", 30.0, "train", "noise_bursts"),
    ("train_guitar", 30.0, "train", "guitar"),
    ("train_bass", 24.0, "train", "bass"),
    ("train_piano", 20.0, "train", "piano"),
    ("train_drums", 20.0, "train", "drums"),
    ("train_speech", 25.0, "train", "speech"),
    ("train_mixed", 11.0, "train", "mixed"),
    ("val_sweep", 2.5, "validation", "sweep"),
    ("val_noise_bursts", 4.0, "validation", "noise_bursts"),
    ("val_guitar", 3.0, "validation", "guitar"),
    ("val_bass", 2.5, "validation", "bass"),
    ("val_piano", 2.5, "validation", "piano"),
    ("val_drums", 2.5, "validation", "drums"),
    ("val_speech", 3.0, "validation", "speech"),
    ("repeat_a", 4.0, "repeat", "mixed"),
    ("repeat_b", 4.0, "repeat", "mixed"),
    ("tail_sync", 2.0, "sync", "impulses"),
)


def _build():
    out = []
    pos = 0
    for name, seconds, role, kind in _PLAN:
        assert role in ROLES and kind in KINDS, name
        n = _s(seconds)
        out.append(Segment(name, pos, pos + n, role, kind))
        pos += n
    return tuple(out)


SEGMENTS = _build()


def segments(role=None):
    """The segments with this role ("sync", "train", "validation", "repeat"), in file order; all if None."""
    if role is not None and role not in ROLES:
        raise ValueError("unknown role %r (one of %s)" % (role, ", ".join(ROLES)))
    return [s for s in SEGMENTS if role is None or s.role == role]


def segment(name):
    """The segment with this name."""
    for s in SEGMENTS:
        if s.name == name:
            return s
    raise KeyError(name)


def total_samples():
    """Length of the capture file in samples."""
    return SEGMENTS[-1].end_sample


def impulse_positions():
    """Sample index of every sync impulse, head then tail, ascending (6 positions)."""
    return [s.start_sample + off for s in segments("sync") for off in IMPULSE_OFFSETS]


def repeat_pair():
    """((start_a, end_a), (start_b, end_b)): two sample-identical copies of the same material."""
    a, b = segments("repeat")
    assert a.end_sample - a.start_sample == b.end_sample - b.start_sample
    return (a.start_sample, a.end_sample), (b.start_sample, b.end_sample)


def validation_range():
    """(start, end): the contiguous validation block (all segments with role "validation")."""
    v = segments("validation")
    for x, y in zip(v, v[1:]):
        assert x.end_sample == y.start_sample
    return v[0].start_sample, v[-1].end_sample


def to_dict():
    """The layout as plain JSON-able data."""
    (ra, rb) = repeat_pair()
    return {
        "version": VERSION,
        "sample_rate": SAMPLE_RATE,
        "total_samples": total_samples(),
        "segments": [s._asdict() for s in SEGMENTS],
        "impulse_offsets": list(IMPULSE_OFFSETS),
        "impulse_amplitude": IMPULSE_AMPLITUDE,
        "impulse_positions": impulse_positions(),
        "repeat_pair": [list(ra), list(rb)],
        "repeat_pad": REPEAT_PAD,
        "validation_range": list(validation_range()),
    }


def _check():
    pos = 0
    for s in SEGMENTS:
        assert s.start_sample == pos and s.end_sample > s.start_sample, s
        pos = s.end_sample
    assert len({s.name for s in SEGMENTS}) == len(SEGMENTS)
    for s in segments("sync"):
        assert s.end_sample - s.start_sample == SYNC_LENGTH
    assert max(IMPULSE_OFFSETS) < SYNC_LENGTH


_check()

if __name__ == "__main__":
    for s in SEGMENTS:
        print("%-20s %9d %9d  %8.3f %8.3f  %-10s %s" % (
            s.name, s.start_sample, s.end_sample, s.start_sample / SAMPLE_RATE, s.end_sample / SAMPLE_RATE,
            s.role, s.kind))
    print("total", total_samples(), total_samples() / SAMPLE_RATE, "s")
