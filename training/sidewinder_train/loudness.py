# SPDX-License-Identifier: GPL-3.0-or-later
"""Integrated loudness (LUFS), ITU-R BS.1770-4: K-weighting (two biquads),
400 ms blocks with 75 % overlap, absolute gate -70 LUFS, relative gate -10 LU.
ref: ITU-R BS.1770-4 (2015), Annex 1; the 48 kHz filter coefficients are the
standard's table 1 and table 2."""
import numpy as np
from scipy.signal import lfilter

# ITU-R BS.1770-4 table 1 (shelving) and table 2 (high-pass RLB), 48 kHz
_SHELF_B = [1.53512485958697, -2.69169618940638, 1.19839281085285]
_SHELF_A = [1.0, -1.69065929318241, 0.73248077421585]
_HP_B = [1.0, -2.0, 1.0]
_HP_A = [1.0, -1.99004745483398, 0.99007225036621]


def integrated_lufs(x, rate=48000):
    if rate != 48000:
        raise ValueError("loudness is computed at 48 kHz only")
    y = lfilter(_HP_B, _HP_A, lfilter(_SHELF_B, _SHELF_A, np.asarray(x, np.float64)))
    block, hop = int(0.4 * rate), int(0.1 * rate)
    if len(y) < block:
        return float("-inf")
    n = 1 + (len(y) - block) // hop
    c = np.concatenate([[0.0], np.cumsum(y * y)])
    z = (c[np.arange(n) * hop + block] - c[np.arange(n) * hop]) / block          # mean square per block
    lk = -0.691 + 10 * np.log10(np.maximum(z, 1e-30))
    z = z[lk > -70.0]
    if z.size == 0:
        return float("-inf")
    rel = -0.691 + 10 * np.log10(z.mean()) - 10.0
    z = z[-0.691 + 10 * np.log10(z) > rel]
    return float(-0.691 + 10 * np.log10(z.mean()))
