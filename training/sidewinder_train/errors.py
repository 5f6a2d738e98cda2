# SPDX-License-Identifier: GPL-3.0-or-later
class TrainError(Exception):
    """One clear message naming what is wrong with the user's input; the CLI prints it and exits 2."""
