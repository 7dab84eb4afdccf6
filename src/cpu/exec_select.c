/* The choice of handler for each decoded instruction (by opcode and CPU model), which
 * instructions end a trace, and the forms the JIT inlines. */
#include <string.h>

#include "cpu/exec_ops.h"

static struct insn *h_ud(struct cpu *cpu, struct insn *i) { (void)i; raise_ud(cpu); }
struct insn *h_gp0(struct cpu *cpu, struct insn *i) { (void)i; raise_gp0(cpu); }

uint32_t exec_ea(struct cpu *cpu, const struct insn *i) { return ea(cpu, i); }

/* ---- Handler selection ---- */

static bool model_has(const struct cpu *cpu, const struct opcode_info *e)
{
    static const uint8_t family_level[16] = { [4] = LVL_486, [5] = LVL_P5 };
    unsigned fam = cpu->exec.family;
    unsigned level = fam >= 6 ? LVL_P6 : fam < 16 ? family_level[fam] : LVL_P6;
    if (fam == 3)
        level = LVL_386;
    if (e->cpuid_bit >= 0)
        return (cpu->exec.features >> e->cpuid_bit) & 1;
    if (e->level == LVL_P5 && e->name && !strcmp(e->name, "cpuid"))
        return cpu->model ? cpu->model->has_cpuid : true;   /* late 486s have CPUID too */
    return e->level <= level;
}

static insn_fn select_map0(struct cpu *cpu, struct insn *i)
{
    uint8_t op = i->op;
    bool mem = i->pfx & P_MEM;
    int sz = (op & 1) ? opsz(i) : SZ8;
    (void)cpu;
    if (op < 0x40 && (op & 7) < 6) {
        unsigned alu = op >> 3;
        switch (op & 7) {
        case 0: case 1: return alu_table[alu][sz][mem ? F_EGM : F_EGR];
        case 2: case 3: return alu_table[alu][sz][mem ? F_GEM : F_GER];
        default:
            i->rm = R_EAX;
            return alu_table[alu][sz][F_EIR];
        }
    }
    switch (op) {
    case 0x06: case 0x0e: case 0x16: case 0x1e: return h_push_seg;
    case 0x07: case 0x17: case 0x1f: return h_pop_seg;
    case 0x27: case 0x2f: return h_daa_das;
    case 0x37: case 0x3f: return h_aaa_aas;
    case 0x40 ... 0x47: return (i->pfx & P_OP32) ? h_inc_r32 : h_inc_r16;
    case 0x48 ... 0x4f: return (i->pfx & P_OP32) ? h_dec_r32 : h_dec_r16;
    case 0x50 ... 0x57: return (i->pfx & P_OP32) ? h_push_r32 : h_push_r16;
    case 0x58 ... 0x5f: return (i->pfx & P_OP32) ? h_pop_r32 : h_pop_r16;
    case 0x60: return h_pusha;
    case 0x61: return h_popa;
    case 0x62: return h_bound;
    case 0x63: return h_arpl;
    case 0x68: return h_push_imm;
    case 0x6a: i->imm = (uint32_t)(int8_t)i->imm; return h_push_imm;
    case 0x69: return h_imul_g;
    case 0x6b: i->imm = (uint32_t)(int8_t)i->imm; return h_imul_g;
    case 0x6c: case 0x6d: return h_ins;
    case 0x6e: case 0x6f: return h_outs;
    case 0x70 ... 0x7f: return jcc_table[op & 15];
    case 0x80: case 0x81: case 0x82: case 0x83:
        if (op == 0x83)
            i->imm = (uint32_t)(int8_t)i->imm & lf_mask_tab[sz];
        return alu_table[i->reg][op == 0x82 ? SZ8 : sz][mem ? F_EIM : F_EIR];
    case 0x84: case 0x85: return h_test;
    case 0x86: case 0x87: return h_xchg;
    case 0x88 ... 0x8b: {
        bool to_reg = op & 2;
        if (!mem) {
            if (to_reg) {   /* G <- E: swap so the E<-G register handler applies */
                uint8_t t = i->reg;
                i->reg = i->rm;
                i->rm = t;
            }
            return mov_table[sz][0];
        }
        return to_reg ? mov_table[sz][2] : mov_table[sz][1];
    }
    case 0x8c: return h_mov_from_seg;
    case 0x8d: return h_lea;
    case 0x8e: return h_mov_to_seg;
    case 0x8f: return i->reg == 0 ? h_pop_rm : h_ud;
    case 0x90: return (i->pfx & P_REP) ? h_pause : h_nop;
    case 0x91 ... 0x97: return h_xchg_ax;
    case 0x98: return h_cbw;
    case 0x99: return h_cwd;
    case 0x9a: return h_call_far;
    case 0x9b: return h_fwait;
    case 0x9c: return h_pushf;
    case 0x9d: return h_popf;
    case 0x9e: return h_sahf;
    case 0x9f: return h_lahf;
    case 0xa0 ... 0xa3: return h_mov_moffs;
    case 0xa4: case 0xa5:
        if (op == 0xa5 && (i->pfx & (P_REP | P_REPNE)) && (i->pfx & P_A32) && (i->pfx & P_OP32))
            return h_rep_movsd32;
        return h_movs;
    case 0xa6: case 0xa7: return h_cmps;
    case 0xa8: case 0xa9: return h_test_ai;
    case 0xaa: case 0xab:
        if (op == 0xab && (i->pfx & (P_REP | P_REPNE)) && (i->pfx & P_A32) && (i->pfx & P_OP32))
            return h_rep_stosd32;
        return h_stos;
    case 0xac: case 0xad: return h_lods;
    case 0xae: case 0xaf: return h_scas;
    case 0xb0 ... 0xb7: return h_mov_r8_imm;
    case 0xb8 ... 0xbf: return (i->pfx & P_OP32) ? h_mov_r32_imm : h_mov_r16_imm;
    case 0xc0: case 0xc1: case 0xd0 ... 0xd3:
        if ((op == 0xc1 || op == 0xd1) && !mem && (i->pfx & P_OP32) && i->reg >= 4)
            return h_shift_r32_imm;
        if (op == 0xd3 && !mem && (i->pfx & P_OP32) && i->reg >= 4)
            return h_shift_r32_cl;
        return h_shift;
    case 0xc2: case 0xc3:
        return (op == 0xc3 && (i->pfx & P_OP32) && cpu->code32 && cpu->stack32) ? h_ret32 : h_ret;
    case 0xc4: case 0xc5: return h_lseg;
    case 0xc6: case 0xc7:
        if (i->reg != 0)
            return h_ud;
        return mov_table[sz][mem ? 4 : 3];
    case 0xc8: return h_enter;
    case 0xc9: return h_leave;
    case 0xca: case 0xcb: return h_ret_far;
    case 0xcc: case 0xcd: case 0xce: case 0xf1: return h_int;
    case 0xcf: return h_iret;
    case 0xd4: return h_aam;
    case 0xd5: return h_aad;
    case 0xd6: return h_salc;
    case 0xd7: return h_xlat;
    case 0xd8 ... 0xdf: return h_fpu;
    case 0xe0 ... 0xe3: return h_loop;
    case 0xe4: case 0xe5: case 0xec: case 0xed: return h_in;
    case 0xe6: case 0xe7: case 0xee: case 0xef: return h_out;
    case 0xe8: return ((i->pfx & P_OP32) && cpu->code32 && cpu->stack32) ? h_call_rel32 : h_call_rel;
    case 0xe9: case 0xeb: return h_jmp_rel;
    case 0xea: return h_jmp_far;
    case 0xf4: return h_hlt;
    case 0xf5: case 0xf8: case 0xf9: case 0xfc: case 0xfd: return h_flagop;
    case 0xf6: case 0xf7:
        switch (i->reg) {
        case 0: case 1: return h_test;
        case 2: return h_not;
        case 3: return h_neg;
        default: return h_muldiv;
        }
    case 0xfa: return h_cli;
    case 0xfb: return h_sti;
    case 0xfe:
        return i->reg < 2 ? h_incdec_rm : h_ud;
    case 0xff:
        switch (i->reg) {
        case 0: case 1: return h_incdec_rm;
        case 2: return h_call_ind;
        case 3: case 5: return mem ? h_far_ind : h_ud;
        case 4: return h_jmp_ind;
        case 6: return h_push_rm;
        default: return h_ud;
        }
    }
    return h_ud;
}

static insn_fn select_map1(struct cpu *cpu, struct insn *i)
{
    uint8_t op = i->op;
    bool mem = i->pfx & P_MEM;
    (void)cpu;
    switch (op) {
    case 0x00: return h_grp6;
    case 0x01: return h_grp7;
    case 0x02: case 0x03: return h_lar_lsl;
    case 0x06: return h_clts;
    case 0x08: case 0x09: return h_priv_nop;
    case 0x18 ... 0x1f: return h_nop;
    case 0x20 ... 0x23: return h_mov_cr_dr;
    case 0x30: case 0x32: return h_msr;
    case 0x31: return h_rdtsc;
    case 0x33: return h_rdpmc;
    case 0x34: case 0x35: return h_sysenter;
    case 0x05: case 0x07: {
        insn_fn fn = syscall_select_handler(cpu, i);
        return fn ? fn : h_ud;
    }
    case 0x40 ... 0x4f: return h_cmovcc;
    case 0x80 ... 0x8f: return jcc_table[op & 15];
    case 0x90 ... 0x9f: return h_setcc;
    case 0xa0: case 0xa8: return h_push_seg;
    case 0xa1: case 0xa9: return h_pop_seg;
    case 0xa2: return h_cpuid;
    case 0xa3: case 0xab: case 0xb3: case 0xbb: return h_bt_reg;
    case 0xa4: case 0xa5: case 0xac: case 0xad: return h_shxd;
    case 0xaf: return h_imul_g;
    case 0xb0: case 0xb1: return h_cmpxchg;
    case 0xb2: case 0xb4: case 0xb5: return h_lseg;
    case 0xb6: case 0xb7: case 0xbe: case 0xbf:
        if (i->pfx & P_OP32) {
            static const insn_fn mem_forms[4] = { h_movzx_r32_m8, h_movzx_r32_m16, h_movsx_r32_m8, h_movsx_r32_m16 };
            if (mem)
                return mem_forms[((op >> 2) & 2) | (op & 1)];
            if (op == 0xb6)
                return h_movzx_r32_r8;
            if (op == 0xb7)
                return h_movzx_r32_r16;
        }
        return h_movx;
    case 0xba: return i->reg >= 4 ? h_bt_imm : h_ud;
    case 0xbc: case 0xbd: return h_bsf_bsr;
    case 0xc0: case 0xc1: return h_xadd;
    case 0xc7: return (i->reg == 1 && mem) ? h_cmpxchg8b : h_ud;
    case 0xc8 ... 0xcf: return h_bswap;
    }
    return h_ud;
}

void decode_select_handler(struct cpu *cpu, struct insn *i)
{
    if ((i->map == 2 && i->op >= 0xf0) || i->vex) {   /* integer forms of map 2, VEX (bmi.c) */
        insn_fn fn = (i->pfx & P_LOCK) ? NULL : bmi_select_handler(cpu, i);
        i->fn = fn ? fn : h_ud;
        i->ea_base = (i->pfx & P_A32) && i->base != NOREG && i->index == NOREG;
        return;
    }
    if (i->map == 1 && (i->op == 0xae || i->op == 0x01 || i->op == 0xc7)) {   /* XSAVE family (xsave.c) */
        bool claimed;
        insn_fn fn = xsave_select_handler(cpu, i, &claimed);
        if (claimed) {
            i->fn = fn ? fn : h_ud;
            return;
        }
    }
    if (i->map >= 2 || (i->map == 1 && (opcode_lookup(1, i->op, -1)->attr & OA_INVALID) &&
                        simd_opcode_claimed(1, i->op))) {
        i->fn = (i->pfx & P_LOCK) ? h_ud : h_simd;
        return;
    }
    if (i->map == 1 && i->op == 0x01 && (i->modrm == 0xca || i->modrm == 0xcb)) {
        bool smap = (cpu->model->leaf7_ebx & CPUID_7EBX_SMAP) && !(i->pfx & P_LOCK);
        i->fn = smap ? h_clac_stac : h_ud;
        return;
    }
    if (i->map == 1 && (i->op == 0xc7 || i->op == 0x01) && (i->pfx & P_MEM) == 0) {
        bool claimed;
        insn_fn fn = rdrand_select_handler(cpu, i, &claimed);
        if (claimed) {
            i->fn = fn ? fn : h_ud;
            return;
        }
    }
    const struct opcode_info *e = opcode_lookup(i->map, i->op, i->reg);
    /* F3 0F B8/BC/BD: POPCNT, TZCNT, LZCNT when the model has them (else #UD, BSF, BSR). */
    const struct opcode_info *f3 = (i->map == 1 && (i->pfx & P_REP)) ? opcode_lookup_f3(1, i->op) : NULL;
    if (f3 && (cpu->exec.ext_features >> f3->ext & 1))
        e = f3;
    else
        f3 = NULL;
    if ((e->attr & OA_INVALID) || !model_has(cpu, e)) {
        i->fn = h_ud;
        return;
    }
    bool mem = i->pfx & P_MEM;
    if ((e->attr & OA_MEMONLY) && !mem) {
        i->fn = h_ud;
        return;
    }
    /* LOCK: only on a lockable instruction with a memory destination. */
    if ((i->pfx & P_LOCK) && (!(e->attr & OA_LOCK) || !mem)) {
        i->fn = h_ud;
        return;
    }
    i->fn = i->map == 0 ? select_map0(cpu, i) : select_map1(cpu, i);
    if (cpu->parallel && i->map == 0 && (i->op == 0x86 || i->op == 0x87) && mem)
        i->pfx |= P_LOCK;   /* XCHG with memory always locks the bus */
    if (f3)
        i->fn = i->op == 0xb8 ? h_popcnt : h_tzcnt_lzcnt;
    /* Same result as the general form of ea(), in fewer steps. */
    i->ea_base = (i->pfx & P_A32) && i->base != NOREG && i->index == NOREG;
}

bool exec_insn_ends_trace(const struct insn *i)
{
    if (i->fn == h_ud || i->fn == h_gp0)
        return true;
    if (i->map >= 2)
        return false;
    /* Loads of data segment registers keep the trace going (only SS changes the mode). */
    if (i->fn == h_mov_to_seg)
        return i->reg == SEG_SS;
    if (i->fn == h_pop_seg)
        return i->map == 0 && i->op == 0x17;
    if (i->fn == h_lseg)
        return i->map == 1 && i->op == 0xb2;
    const struct opcode_info *e = opcode_lookup(i->map, i->op, i->reg);
    if (e->attr & (OA_BRANCH | OA_PRIV))
        return true;
    /* Port I/O and interrupt-flag changes return to the run loop to look at events. */
    return i->fn == h_in || i->fn == h_out || i->fn == h_ins || i->fn == h_outs || i->fn == h_sti;
}

/* ---- Forms the JIT inlines (see exec_int.h) ---- */

void exec_insn_form(const struct insn *i, struct insn_form *f)
{
    memset(f, 0, sizeof(*f));
    /* LOCKed forms stay in their handlers (host atomics with other vCPU threads). */
    if (i->pfx & P_LOCK)
        return;
    insn_fn fn = i->fn;
    bool op32 = i->pfx & P_OP32, a32 = i->pfx & P_A32;
    static const insn_fn loadx[4] = { h_movzx_r32_m8, h_movzx_r32_m16, h_movsx_r32_m8, h_movsx_r32_m16 };
    for (unsigned k = 0; k < 4; k++) {
        if (fn == loadx[k] && a32) {
            f->kind = FORM_LOADX;
            f->sz = k & 1 ? SZ16 : SZ8;
            f->sx = k >= 2;
            f->dst = i->reg;
            return;
        }
    }
    if (fn == h_movzx_r32_r8 || fn == h_movzx_r32_r16) {
        f->kind = FORM_MOVX_RR;
        f->sz = fn == h_movzx_r32_r8 ? SZ8 : SZ16;
        f->dst = i->reg;
        f->src = i->rm;
        return;
    }
    if (fn == h_shift_r32_imm || fn == h_shift_r32_cl) {
        f->kind = FORM_SHIFT;
        f->sz = SZ32;
        f->alu = i->reg;
        f->dst = i->rm;
        f->cl = fn == h_shift_r32_cl;
        f->count = i->op == 0xd1 ? 1 : (i->imm & 0x1f);
        return;
    }
    if (fn == h_shift && op32 && !(i->pfx & P_MEM) && i->reg < 2 &&
        (i->op == 0xc1 || i->op == 0xd1 || i->op == 0xd3)) {
        f->kind = FORM_ROT;
        f->sz = SZ32;
        f->alu = i->reg;
        f->dst = i->rm;
        f->cl = i->op == 0xd3;
        f->count = i->op == 0xd1 ? 1 : (i->imm & 0x1f);
        return;
    }
    if (fn == h_mov_moffs && a32) {
        /* MOV AL/AX/EAX <-> [moffs]: a load or store at [disp] (no base, no index). */
        f->kind = i->op < 0xa2 ? FORM_LOAD : FORM_STORE;
        f->sz = (unsigned)bwsz(i);
        f->dst = f->src = R_EAX;
        return;
    }
    if (fn == h_test && (i->pfx & P_MEM) && a32) {
        f->kind = (i->op == 0x84 || i->op == 0x85) ? FORM_ALU_MR : FORM_ALU_MI;
        f->alu = 4;
        f->test = true;
        f->sz = (unsigned)bwsz(i);
        f->dst = f->src = i->reg;
        return;
    }
    if (fn == h_imul_g && op32 && !(i->pfx & P_MEM)) {
        f->kind = FORM_IMUL;
        f->sz = SZ32;
        f->dst = i->reg;
        f->src = i->rm;
        f->imm = i->map == 0;
        return;
    }
    if (fn == h_inc_r32 || fn == h_dec_r32) {
        f->kind = FORM_INCDEC;
        f->sz = SZ32;
        f->alu = fn == h_dec_r32;
        f->dst = i->reg;
        return;
    }
    if (fn == h_push_r32 || fn == h_pop_r32) {
        f->kind = fn == h_push_r32 ? FORM_PUSH : FORM_POP;
        f->sz = SZ32;
        f->dst = f->src = i->reg;
        return;
    }
    if ((fn == h_cmovcc && op32) || fn == h_setcc) {
        if (i->pfx & P_MEM)
            return;
        f->kind = fn == h_cmovcc ? FORM_CMOV : FORM_SETCC;
        f->sz = fn == h_cmovcc ? SZ32 : SZ8;
        f->dst = fn == h_cmovcc ? i->reg : i->rm;
        f->src = i->rm;
        f->cc = i->op & 15;
        return;
    }
    if (fn == h_call_rel32 || fn == h_ret32) {
        f->kind = fn == h_call_rel32 ? FORM_CALL : FORM_RET;
        f->sz = SZ32;
        return;
    }
    for (unsigned sz = SZ8; sz <= SZ32; sz++) {
        const insn_fn *m = mov_table[sz];
        f->sz = sz;
        if (fn == m[0] || fn == m[3]) {
            f->kind = fn == m[0] ? FORM_MOV_RR : FORM_MOV_RI;
            f->dst = i->rm;
            f->src = i->reg;
            return;
        }
        if ((fn == m[1] || fn == m[2] || fn == m[4]) && a32) {
            f->kind = fn == m[1] ? FORM_STORE : fn == m[2] ? FORM_LOAD : FORM_STORE_IMM;
            f->dst = f->src = i->reg;
            return;
        }
        for (unsigned op = 0; op < 8; op++) {
            const insn_fn *a = alu_table[op][sz];
            if ((fn == a[F_GEM] || fn == a[F_EGM] || fn == a[F_EIM]) && a32) {
                f->kind = fn == a[F_GEM] ? FORM_ALU_RM : fn == a[F_EGM] ? FORM_ALU_MR : FORM_ALU_MI;
                f->alu = op;
                f->dst = f->src = i->reg;
                return;
            }
            if (fn != a[F_EGR] && fn != a[F_GER] && fn != a[F_EIR])
                continue;
            f->kind = fn == a[F_EIR] ? FORM_ALU_RI : FORM_ALU_RR;
            f->alu = op;
            f->dst = fn == a[F_GER] ? i->reg : i->rm;
            f->src = fn == a[F_GER] ? i->rm : i->reg;
            return;
        }
    }
    if (fn == h_mov_r32_imm || fn == h_mov_r16_imm || fn == h_mov_r8_imm) {
        f->kind = FORM_MOV_RI;
        f->sz = fn == h_mov_r32_imm ? SZ32 : fn == h_mov_r16_imm ? SZ16 : SZ8;
        f->dst = i->reg;
    } else if (fn == h_test && !(i->pfx & P_MEM)) {
        f->kind = (i->op == 0x84 || i->op == 0x85) ? FORM_TEST_RR : FORM_TEST_RI;
        f->sz = (unsigned)bwsz(i);
        f->dst = i->rm;
        f->src = i->reg;
    } else if (fn == h_test_ai) {
        f->kind = FORM_TEST_RI;
        f->sz = (unsigned)bwsz(i);
        f->dst = R_EAX;
    } else if (fn == h_lea && op32 && a32) {
        f->kind = FORM_LEA;
        f->sz = SZ32;
        f->dst = i->reg;
    } else if (fn == h_jmp_rel && op32) {
        f->kind = FORM_JMP;
    } else if (op32) {
        for (unsigned cc = 0; cc < 16; cc++) {
            if (fn == jcc_table[cc]) {
                f->kind = FORM_JCC;
                f->cc = cc;
            }
        }
    }
}
