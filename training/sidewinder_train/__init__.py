# SPDX-License-Identifier: GPL-3.0-or-later
"""Sidewinder's trainer: capture -> aligned pair -> Mamba/LSTM model -> model file + report."""
