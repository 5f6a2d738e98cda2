// SPDX-License-Identifier: GPL-3.0-or-later
// The optimised kernels for the baseline x86-64 ISA (SSE2). See kernels_impl.h.
#include "kernels_impl.h"

namespace sw::ssm {

const KernelTable& baseline_kernels() noexcept {
  static const KernelTable table{"baseline",      k_linear,    k_conv_silu, k_mamba1_scan, k_mamba2_scan, k_rmsnorm,
                                 k_gated_rmsnorm, k_mamba2_dt, k_exp,       k_silu,        k_softplus,    k_flop_probe};
  return table;
}

}  // namespace sw::ssm
