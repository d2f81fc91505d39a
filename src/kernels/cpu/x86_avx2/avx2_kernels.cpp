// AVX2 + FMA + F16C kernel set: the shared x86 code (../x86_kernels.inc) built with AVX2 flags.
#define HEARTH_X86_TABLE_FN avx2_kernel_table
#include "kernels/cpu/x86_kernels.inc"
