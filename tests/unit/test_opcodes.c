/* The opcode tables' data for the harness and the disassembler, checked against the Intel
 * SDM vol. 2 instruction pages (flags and results left undefined, x87 "FPU Flags Affected",
 * SIMD forms and their CPUID features). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cpu/cpu.h"
#include "cpu/opcodes.h"

static void test_shift_undef_depends_on_width(void **state)
{
    (void)state;
    /* SHL r/m8, CL (D2 /4): CF undefined when count >= 8, defined below. */
    assert_false(opcode_undef_flags_sized(0, 0xd2, 4, 7, 8) & FLAG_CF);
    assert_true(opcode_undef_flags_sized(0, 0xd2, 4, 8, 8) & FLAG_CF);
    /* The same count with a 32-bit operand: CF defined. */
    assert_false(opcode_undef_flags_sized(0, 0xd3, 4, 8, 32) & FLAG_CF);
    assert_true(opcode_undef_flags_sized(0, 0xd3, 5, 16, 16) & FLAG_CF);   /* SHR */
    /* SAR: CF always defined (the sign fills). */
    assert_false(opcode_undef_flags_sized(0, 0xd2, 7, 9, 8) & FLAG_CF);
    /* Count 0: nothing changes, nothing undefined; OF undefined for counts > 1. */
    assert_int_equal(opcode_undef_flags_sized(0, 0xd3, 4, 0, 32), 0);
    assert_true(opcode_undef_flags_sized(0, 0xd3, 4, 2, 32) & FLAG_OF);
    assert_false(opcode_undef_flags_sized(0, 0xd3, 4, 1, 32) & FLAG_OF);
    /* SHLD/SHRD: count > width leaves every flag undefined; count == width does not. */
    assert_int_equal(opcode_undef_flags_sized(1, 0xa5, -1, 17, 16), FLAGS_ARITH);
    assert_int_equal(opcode_undef_flags_sized(1, 0xac, -1, 17, 16), FLAGS_ARITH);
    assert_false(opcode_undef_flags_sized(1, 0xa4, -1, 16, 16) & FLAG_CF);
    assert_false(opcode_undef_flags_sized(1, 0xad, -1, 31, 32) & FLAG_ZF);
}

static void test_undefined_results(void **state)
{
    (void)state;
    /* BSF/BSR: destination undefined for a zero source only. */
    assert_true(opcode_result_undefined(1, 0xbc, -1, 0, 32, true));
    assert_false(opcode_result_undefined(1, 0xbc, -1, 0, 32, false));
    assert_true(opcode_result_undefined(1, 0xbd, -1, 0, 16, true));
    /* SHLD/SHRD with count > width (16-bit operands, masked count 17..31). */
    assert_true(opcode_result_undefined(1, 0xa4, -1, 17, 16, false));
    assert_false(opcode_result_undefined(1, 0xa4, -1, 16, 16, false));
    assert_false(opcode_result_undefined(1, 0xad, -1, 31, 32, false));
    /* BSWAP with a 16-bit operand size. */
    assert_true(opcode_result_undefined(1, 0xc9, -1, 0, 16, false));
    assert_false(opcode_result_undefined(1, 0xc9, -1, 0, 32, false));
    /* Ordinary instructions: never. */
    assert_false(opcode_result_undefined(0, 0x01, -1, 0, 32, true));
    /* PUSH Sreg is marked (upper 16 bits of a 32-bit push unspecified); PUSH r32 is not. */
    assert_true(opcode_lookup(0, 0x06, -1)->attr & OA_PUSH_SREG);
    assert_true(opcode_lookup(1, 0xa8, -1)->attr & OA_PUSH_SREG);
    assert_false(opcode_lookup(0, 0x50, -1)->attr & OA_PUSH_SREG);
}

static void test_test_group_immediates(void **state)
{
    (void)state;
    assert_true(opcode_lookup(0, 0xf6, 0)->attr & OA_IB);
    assert_true(opcode_lookup(0, 0xf6, 1)->attr & OA_IB);
    assert_true(opcode_lookup(0, 0xf7, 0)->attr & OA_IZ);
    assert_true(opcode_lookup(0, 0xf7, 1)->attr & OA_IZ);
    assert_false(opcode_lookup(0, 0xf7, 2)->attr & (OA_IB | OA_IZ));   /* NOT */
    assert_string_equal(opcode_lookup(0, 0xf7, 6)->name, "div");
}

static void test_x87_condition_masks(void **state)
{
    (void)state;
    const uint16_t c023 = FSW_C0 | FSW_C2 | FSW_C3, all = c023 | FSW_C1;
    /* FADD m32fp (D8 /0): C1 defined, C0 C2 C3 undefined. */
    const struct x87_op_info *x = opcode_x87_lookup(0xd8, 0x00);
    assert_string_equal(x->name, "fadd");
    assert_int_equal(x->mem, X87M_F32);
    assert_int_equal(x->fsw_undef, c023);
    /* FCOM/FUCOMPP/FTST/FXAM/FPREM: every condition bit defined. */
    assert_int_equal(opcode_x87_lookup(0xd8, 0xd1)->fsw_undef, 0);
    assert_int_equal(opcode_x87_lookup(0xda, 0xe9)->fsw_undef, 0);
    assert_string_equal(opcode_x87_lookup(0xda, 0xe9)->name, "fucompp");
    assert_int_equal(opcode_x87_lookup(0xd9, 0xe4)->fsw_undef, 0);
    assert_int_equal(opcode_x87_lookup(0xd9, 0xe5)->fsw_undef, 0);
    assert_int_equal(opcode_x87_lookup(0xd9, 0xf8)->fsw_undef, 0);
    /* FSIN/FCOS/FPTAN/FSINCOS: C2 (out of range) and C1 defined. */
    assert_int_equal(opcode_x87_lookup(0xd9, 0xfe)->fsw_undef, FSW_C0 | FSW_C3);
    assert_int_equal(opcode_x87_lookup(0xd9, 0xf2)->fsw_undef, FSW_C0 | FSW_C3);
    /* FLDCW, FNSTSW AX, FNSTENV, FNCLEX, FFREE, FNOP: all four undefined. */
    assert_int_equal(opcode_x87_lookup(0xd9, 0x28)->fsw_undef, all);
    assert_int_equal(opcode_x87_lookup(0xdf, 0xe0)->fsw_undef, all);
    assert_string_equal(opcode_x87_lookup(0xdf, 0xe0)->name, "fnstsw");
    assert_int_equal(opcode_x87_lookup(0xd9, 0x30)->fsw_undef, all);
    assert_int_equal(opcode_x87_lookup(0xdb, 0xe2)->fsw_undef, all);
    assert_int_equal(opcode_x87_lookup(0xdd, 0xc3)->fsw_undef, all);
    assert_int_equal(opcode_x87_lookup(0xd9, 0xd0)->fsw_undef, all);
    /* FNINIT, FRSTOR, FNSAVE, FLDENV: the status word is set as a whole. */
    assert_int_equal(opcode_x87_lookup(0xdb, 0xe3)->fsw_undef, 0);
    assert_int_equal(opcode_x87_lookup(0xdd, 0x20)->fsw_undef, 0);
    assert_int_equal(opcode_x87_lookup(0xdd, 0x30)->fsw_undef, 0);
    /* FCMOVcc / FCOMI are P6 (CMOV), FISTTP is SSE3. */
    assert_int_equal(opcode_x87_lookup(0xda, 0xc1)->cpuid_bit, 15);
    assert_int_equal(opcode_x87_lookup(0xdb, 0xf1)->level, LVL_P6);
    assert_int_equal(opcode_x87_lookup(0xdd, 0x08)->cpuid_ecx_bit, 0);
    /* Memory operand sizes. */
    assert_int_equal(x87_mem_size(X87M_F80, true), 10);
    assert_int_equal(x87_mem_size(X87M_ENV, false), 14);
    assert_int_equal(x87_mem_size(X87M_SAVE, true), 108);
    assert_int_equal(opcode_x87_lookup(0xdf, 0x28)->mem, X87M_I64);   /* FILD m64int */
    /* Reserved encodings: no name. */
    assert_null(opcode_x87_lookup(0xd9, 0x08)->name);
    assert_null(opcode_x87_lookup(0xd9, 0xd1)->name);
}

static void test_simd_forms(void **state)
{
    (void)state;
    const struct simd_op_info *e = opcode_simd_lookup(0x58, 0, -1, false);
    assert_string_equal(e->name, "addps");
    assert_int_equal(e->feature, SF_SSE);
    assert_string_equal(opcode_simd_lookup(0x58, 0xf2, -1, true)->name, "addsd");
    assert_int_equal(opcode_simd_lookup(0x58, 0x66, -1, true)->feature, SF_SSE2);
    /* MOVLPS (memory) and MOVHLPS (register) share 0F 12. */
    assert_string_equal(opcode_simd_lookup(0x12, 0, -1, true)->name, "movlps");
    assert_string_equal(opcode_simd_lookup(0x12, 0, -1, false)->name, "movhlps");
    /* 0F 38 / 0F 3A: SSSE3 in MMX and XMM forms, SSE4.1 only with 66, MOVBE memory only. */
    assert_string_equal(opcode_map23_lookup(2, 0x00, 0, false)->name, "pshufb");
    assert_string_equal(opcode_map23_lookup(2, 0x00, 0x66, true)->operands, "Vx,Wx");
    assert_null(opcode_map23_lookup(2, 0x10, 0, false));
    assert_null(opcode_map23_lookup(2, 0xf0, 0, false));
    assert_string_equal(opcode_map23_lookup(2, 0xf0, 0xf2, false)->name, "crc32");
    assert_string_equal(opcode_map23_lookup(3, 0x14, 0x66, true)->operands, "Mb,Vx,I");
    assert_true(opcode_map23_exists(3, 0x63));
    assert_false(opcode_map23_exists(3, 0x64));
    /* Group 0F 71-73: register forms only, imm8. */
    e = opcode_simd_lookup(0x73, 0x66, 7, false);
    assert_string_equal(e->name, "pslldq");
    assert_true(e->attr & SA_IMM8);
    assert_null(opcode_simd_lookup(0x73, 0x66, 7, true));
    assert_null(opcode_simd_lookup(0x73, 0, 3, false));   /* PSRLDQ has no MMX form */
    /* The SSE integer additions to MMX (AMD's MMX extensions). */
    assert_int_equal(opcode_simd_lookup(0x70, 0, -1, false)->feature, SF_MMXEXT);
    assert_int_equal(opcode_simd_lookup(0xe7, 0, -1, true)->feature, SF_MMXEXT);
    /* PADDQ on MMX registers is SSE2. */
    assert_int_equal(opcode_simd_lookup(0xd4, 0, -1, false)->feature, SF_SSE2);
    /* 0F AE: FXSAVE (FXSR), LFENCE (SSE2), SFENCE (SSE), CLFLUSH (CLFSH). */
    assert_int_equal(opcode_simd_lookup(0xae, 0, 0, true)->feature, SF_FXSR);
    assert_int_equal(opcode_simd_lookup(0xae, 0, 5, false)->feature, SF_SSE2);
    assert_int_equal(opcode_simd_lookup(0xae, 0, 7, false)->feature, SF_SSE);
    assert_int_equal(opcode_simd_lookup(0xae, 0, 7, true)->feature, SF_CLFSH);
    /* SSE3. */
    assert_int_equal(opcode_simd_lookup(0x7c, 0xf2, -1, false)->feature, SF_SSE3);
    assert_int_equal(opcode_simd_lookup(0xf0, 0xf2, -1, true)->feature, SF_SSE3);
    assert_null(opcode_simd_lookup(0xf0, 0xf2, -1, false));
    /* Not SIMD. */
    assert_null(opcode_simd_lookup(0x7c, 0, -1, false));
    assert_null(opcode_simd_lookup(0x78, 0, -1, false));
}

/* The SIMD table and the executing fpu part agree: every opcode with a form is claimed by
 * fpu, and the imm8 attribute matches simd_opcode_has_imm8 (the decoder's). */
static void test_simd_table_matches_fpu(void **state)
{
    (void)state;
    static const uint8_t pfx[4] = { 0, 0x66, 0xf2, 0xf3 };
    for (int op = 0; op < 256; op++) {
        for (int p = 0; p < 4; p++) {
            for (int reg = 0; reg < 8; reg++) {
                for (int mem = 0; mem < 2; mem++) {
                    const struct simd_op_info *e = opcode_simd_lookup((uint8_t)op, pfx[p], reg, mem);
                    if (!e)
                        continue;
                    if (!simd_opcode_claimed(1, (uint8_t)op))
                        fail_msg("0F %02x (%s) not claimed by fpu", op, e->name);
                    if (((e->attr & SA_IMM8) != 0) != simd_opcode_has_imm8(1, (uint8_t)op))
                        fail_msg("0F %02x (%s): imm8 disagrees", op, e->name);
                }
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shift_undef_depends_on_width),
        cmocka_unit_test(test_undefined_results),
        cmocka_unit_test(test_test_group_immediates),
        cmocka_unit_test(test_x87_condition_masks),
        cmocka_unit_test(test_simd_forms),
        cmocka_unit_test(test_simd_table_matches_fpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
