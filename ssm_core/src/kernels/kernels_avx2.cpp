// SPDX-License-Identifier: GPL-3.0-or-later
// The optimised kernels compiled with -mavx2 -mfma (this file only; see
// ssm_core/CMakeLists.txt). Reached only through avx2_kernels(), which checks
// the CPU first. See kernels_impl.h.
#include "kernels_impl.h"

namespace sw::ssm::detail {

const KernelTable& avx2_kernel_table() noexcept {
  static const KernelTable table{"avx2",          k_linear,    k_conv_silu, k_mamba1_scan, k_mamba2_scan, k_rmsnorm,
                                 k_gated_rmsnorm, k_mamba2_dt, k_exp,       k_silu,        k_softplus,    k_flop_probe};
  return table;
}

}  // namespace sw::ssm::detail
