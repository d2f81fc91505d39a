// AVX-512 (F/BW/DQ/VL/VNNI/BF16) kernel set: the shared x86 code (../x86_kernels.inc) built with
// AVX-512 flags, which switches the integer products to VNNI (vpdpbusd / vpdpwssd).
#define HEARTH_X86_TABLE_FN avx512_kernel_table
#include "kernels/cpu/x86_kernels.inc"
