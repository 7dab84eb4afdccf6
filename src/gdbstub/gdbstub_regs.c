/* The register file as gdb sees it: the target description and g/p/G/P access.
 * Order (the g packet): eax ecx edx ebx esp ebp esi edi eip eflags cs ss ds es fs gs,
 * st0-st7, fctrl fstat ftag fiseg fioff foseg fooff fop (gdb's i386 core feature),
 * xmm0-xmm7 mxcsr (i386 sse), then fs_base gs_base cr0 cr2 cr3 cr4 (pcvm's own feature:
 * gdb's i386.segments feature is for 64-bit targets). */
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/fpu.h"
#include "cpu/mmu.h"
#include "gdbstub/gdbstub.h"

enum {
    REG_EIP = 8, REG_EFLAGS = 9, REG_SEG0 = 10, REG_ST0 = 16, REG_FCTRL = 24, REG_FSTAT,
    REG_FTAG, REG_FISEG, REG_FIOFF, REG_FOSEG, REG_FOOFF, REG_FOP, REG_XMM0 = 32,
    REG_MXCSR = 40, REG_FS_BASE, REG_GS_BASE, REG_CR0, REG_CR2, REG_CR3, REG_CR4, REG_COUNT
};

/* gdb's core feature names the segment registers cs ss ds es fs gs: our SEG_* numbers. */
static const int seg_of_reg[6] = { SEG_CS, SEG_SS, SEG_DS, SEG_ES, SEG_FS, SEG_GS };

static const char target_xml[] =
    "<?xml version=\"1.0\"?>\n"
    "<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
    "<target version=\"1.0\">\n"
    "<architecture>i386</architecture>\n"
    "<feature name=\"org.gnu.gdb.i386.core\">\n"
    "<flags id=\"i386_eflags\" size=\"4\">\n"
    " <field name=\"CF\" start=\"0\" end=\"0\"/><field name=\"\" start=\"1\" end=\"1\"/>\n"
    " <field name=\"PF\" start=\"2\" end=\"2\"/><field name=\"AF\" start=\"4\" end=\"4\"/>\n"
    " <field name=\"ZF\" start=\"6\" end=\"6\"/><field name=\"SF\" start=\"7\" end=\"7\"/>\n"
    " <field name=\"TF\" start=\"8\" end=\"8\"/><field name=\"IF\" start=\"9\" end=\"9\"/>\n"
    " <field name=\"DF\" start=\"10\" end=\"10\"/><field name=\"OF\" start=\"11\" end=\"11\"/>\n"
    " <field name=\"NT\" start=\"14\" end=\"14\"/><field name=\"RF\" start=\"16\" end=\"16\"/>\n"
    " <field name=\"VM\" start=\"17\" end=\"17\"/><field name=\"AC\" start=\"18\" end=\"18\"/>\n"
    " <field name=\"VIF\" start=\"19\" end=\"19\"/><field name=\"VIP\" start=\"20\" end=\"20\"/>\n"
    " <field name=\"ID\" start=\"21\" end=\"21\"/>\n"
    "</flags>\n"
    "<reg name=\"eax\" bitsize=\"32\" type=\"int32\" regnum=\"0\"/>\n"
    "<reg name=\"ecx\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"edx\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"ebx\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"esp\" bitsize=\"32\" type=\"data_ptr\"/>\n"
    "<reg name=\"ebp\" bitsize=\"32\" type=\"data_ptr\"/>\n"
    "<reg name=\"esi\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"edi\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"eip\" bitsize=\"32\" type=\"code_ptr\"/>\n"
    "<reg name=\"eflags\" bitsize=\"32\" type=\"i386_eflags\"/>\n"
    "<reg name=\"cs\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"ss\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"ds\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"es\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"fs\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"gs\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"st0\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st1\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st2\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st3\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st4\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st5\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st6\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st7\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"fctrl\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"fstat\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"ftag\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"fiseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"fioff\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"foseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"fooff\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"fop\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "</feature>\n"
    "<feature name=\"org.gnu.gdb.i386.sse\">\n"
    "<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>\n"
    "<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>\n"
    "<vector id=\"v16i8\" type=\"int8\" count=\"16\"/>\n"
    "<vector id=\"v8i16\" type=\"int16\" count=\"8\"/>\n"
    "<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>\n"
    "<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>\n"
    "<union id=\"vec128\">\n"
    " <field name=\"v4_float\" type=\"v4f\"/><field name=\"v2_double\" type=\"v2d\"/>\n"
    " <field name=\"v16_int8\" type=\"v16i8\"/><field name=\"v8_int16\" type=\"v8i16\"/>\n"
    " <field name=\"v4_int32\" type=\"v4i32\"/><field name=\"v2_int64\" type=\"v2i64\"/>\n"
    " <field name=\"uint128\" type=\"uint128\"/>\n"
    "</union>\n"
    "<flags id=\"i386_mxcsr\" size=\"4\">\n"
    " <field name=\"IE\" start=\"0\" end=\"0\"/><field name=\"DE\" start=\"1\" end=\"1\"/>\n"
    " <field name=\"ZE\" start=\"2\" end=\"2\"/><field name=\"OE\" start=\"3\" end=\"3\"/>\n"
    " <field name=\"UE\" start=\"4\" end=\"4\"/><field name=\"PE\" start=\"5\" end=\"5\"/>\n"
    " <field name=\"DAZ\" start=\"6\" end=\"6\"/><field name=\"IM\" start=\"7\" end=\"7\"/>\n"
    " <field name=\"DM\" start=\"8\" end=\"8\"/><field name=\"ZM\" start=\"9\" end=\"9\"/>\n"
    " <field name=\"OM\" start=\"10\" end=\"10\"/><field name=\"UM\" start=\"11\" end=\"11\"/>\n"
    " <field name=\"PM\" start=\"12\" end=\"12\"/><field name=\"FZ\" start=\"15\" end=\"15\"/>\n"
    "</flags>\n"
    "<reg name=\"xmm0\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm1\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm2\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm3\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm4\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm5\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm6\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm7\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"mxcsr\" bitsize=\"32\" type=\"i386_mxcsr\" group=\"vector\"/>\n"
    "</feature>\n"
    "<feature name=\"org.pcvm.i386.system\">\n"
    "<reg name=\"fs_base\" bitsize=\"32\" type=\"int\" group=\"system\"/>\n"
    "<reg name=\"gs_base\" bitsize=\"32\" type=\"int\" group=\"system\"/>\n"
    "<reg name=\"cr0\" bitsize=\"32\" type=\"int\" group=\"system\"/>\n"
    "<reg name=\"cr2\" bitsize=\"32\" type=\"int\" group=\"system\"/>\n"
    "<reg name=\"cr3\" bitsize=\"32\" type=\"int\" group=\"system\"/>\n"
    "<reg name=\"cr4\" bitsize=\"32\" type=\"int\" group=\"system\"/>\n"
    "</feature>\n"
    "</target>\n";

const char *gdbstub_target_xml(void)
{
    return target_xml;
}

unsigned gdbstub_reg_count(void)
{
    return REG_COUNT;
}

unsigned gdbstub_reg_size(unsigned n)
{
    if (n >= REG_COUNT)
        return 0;
    if (n >= REG_ST0 && n < REG_ST0 + 8)
        return 10;
    if (n >= REG_XMM0 && n < REG_XMM0 + 8)
        return 16;
    return 4;
}

static void put32(uint8_t *buf, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        buf[k] = (uint8_t)(v >> (8 * k));
}

static uint32_t get32(const uint8_t *buf)
{
    return buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24;
}

int gdbstub_reg_read(struct cpu *cpu, unsigned n, uint8_t *buf)
{
    const struct fpu_state *f = &cpu->fpu;
    uint32_t v;
    if (n < 8) {
        v = cpu->regs[n];
    } else if (n == REG_EIP) {
        v = cpu->eip;
    } else if (n == REG_EFLAGS) {
        v = cpu_get_eflags(cpu);
    } else if (n >= REG_SEG0 && n < REG_SEG0 + 6) {
        v = cpu->seg[seg_of_reg[n - REG_SEG0]].sel;
    } else if (n >= REG_ST0 && n < REG_ST0 + 8) {
        /* st(i), in stack order as FSAVE stores it. */
        const f80 *r = &f->st[(f->top + n - REG_ST0) & 7];
        for (int k = 0; k < 8; k++)
            buf[k] = (uint8_t)(r->mant >> (8 * k));
        buf[8] = (uint8_t)r->se;
        buf[9] = (uint8_t)(r->se >> 8);
        return 10;
    } else if (n >= REG_XMM0 && n < REG_XMM0 + 8) {
        memcpy(buf, f->xmm[n - REG_XMM0].b, 16);
        return 16;
    } else {
        switch (n) {
        case REG_FCTRL: v = f->control; break;
        case REG_FSTAT: v = fpu_status_word(f); break;
        case REG_FTAG: v = fpu_tag_word(f); break;
        case REG_FISEG: v = f->fcs; break;
        case REG_FIOFF: v = f->fip; break;
        case REG_FOSEG: v = f->fds; break;
        case REG_FOOFF: v = f->fdp; break;
        case REG_FOP: v = f->fop; break;
        case REG_MXCSR: v = f->mxcsr; break;
        case REG_FS_BASE: v = cpu->seg[SEG_FS].base; break;
        case REG_GS_BASE: v = cpu->seg[SEG_GS].base; break;
        case REG_CR0: v = cpu->cr0; break;
        case REG_CR2: v = cpu->cr2; break;
        case REG_CR3: v = cpu->cr3; break;
        case REG_CR4: v = cpu->cr4; break;
        default: return -1;
        }
    }
    put32(buf, v);
    return 4;
}

/* Load a segment register as gdb asks: real/v86 mode sets base = sel << 4; protected mode
 * reads the descriptor (no privilege checks: the debugger may do what it likes, but not load
 * garbage). Never faults. */
static int write_seg(struct cpu *cpu, int s, uint32_t value)
{
    if (value > 0xffff)
        return -1;
    uint16_t sel = (uint16_t)value;
    struct seg *sg = &cpu->seg[s];
    if (sg->sel == sel)
        return 0;
    if (!cpu->pe || cpu->vm86) {
        sg->sel = sel;
        sg->base = (uint32_t)sel << 4;
        cpu_update_mode(cpu);
        return 0;
    }
    if ((sel & ~3u) == 0) {
        if (s == SEG_CS || s == SEG_SS)
            return -1;
        sg->sel = sel;
        sg->base = 0;
        sg->limit = 0;
        sg->flags = 0;
        cpu_update_mode(cpu);
        return 0;
    }
    uint32_t tbase = (sel & 4) ? cpu->ldtr.base : cpu->gdtr.base;
    uint32_t tlimit = (sel & 4) ? cpu->ldtr.limit : cpu->gdtr.limit;
    uint32_t idx = sel & ~7u;
    if (idx + 7 > tlimit)
        return -1;
    uint32_t d[2];
    for (int k = 0; k < 2; k++) {
        uint32_t phys;
        if (!cpu_probe(cpu, tbase + idx + 4 * (uint32_t)k, &phys))
            return -1;
        d[k] = phys_read(cpu->mem, phys, 4);
    }
    uint32_t lo = d[0], hi = d[1];
    if (!(hi & SEG_FLAG_P) || !(hi & SEG_FLAG_S))
        return -1;
    uint32_t limit = (lo & 0xffff) | (hi & 0xf0000);
    if (hi & SEG_FLAG_G)
        limit = (limit << 12) | 0xfff;
    sg->sel = sel;
    sg->base = (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000u);
    sg->limit = limit;
    sg->flags = hi & 0x00f0ff00u;
    cpu_update_mode(cpu);
    return 0;
}

int gdbstub_reg_write(struct cpu *cpu, unsigned n, const uint8_t *buf)
{
    struct fpu_state *f = &cpu->fpu;
    if (n >= REG_ST0 && n < REG_ST0 + 8) {
        f80 *r = &f->st[(f->top + n - REG_ST0) & 7];
        uint64_t m = 0;
        for (int k = 0; k < 8; k++)
            m |= (uint64_t)buf[k] << (8 * k);
        r->mant = m;
        r->se = (uint16_t)(buf[8] | buf[9] << 8);
        return 0;
    }
    if (n >= REG_XMM0 && n < REG_XMM0 + 8) {
        memcpy(f->xmm[n - REG_XMM0].b, buf, 16);
        return 0;
    }
    uint32_t v = get32(buf);
    if (n < 8) {
        cpu->regs[n] = v;
        return 0;
    }
    if (n >= REG_SEG0 && n < REG_SEG0 + 6)
        return write_seg(cpu, seg_of_reg[n - REG_SEG0], v);
    switch (n) {
    case REG_EIP: cpu->eip = v; return 0;
    case REG_EFLAGS: cpu_set_eflags(cpu, v, 0xffffffffu); return 0;
    case REG_FCTRL: f->control = (uint16_t)v; return 0;
    case REG_FSTAT:
        f->status = (uint16_t)(v & ~0x3800u);
        f->top = (v >> 11) & 7;
        return 0;
    case REG_FTAG:
        /* Full tag word: 11 = empty. */
        f->valid = 0;
        for (unsigned k = 0; k < 8; k++)
            if (((v >> (2 * k)) & 3) != 3)
                f->valid |= (uint8_t)(1u << k);
        return 0;
    case REG_FISEG: f->fcs = (uint16_t)v; return 0;
    case REG_FIOFF: f->fip = v; return 0;
    case REG_FOSEG: f->fds = (uint16_t)v; return 0;
    case REG_FOOFF: f->fdp = v; return 0;
    case REG_FOP: f->fop = (uint16_t)(v & 0x7ff); return 0;
    case REG_MXCSR:
        if (v & ~fpu_mxcsr_mask(cpu))
            return -1;
        f->mxcsr = v;
        return 0;
    case REG_FS_BASE: cpu->seg[SEG_FS].base = v; cpu_update_mode(cpu); return 0;
    case REG_GS_BASE: cpu->seg[SEG_GS].base = v; cpu_update_mode(cpu); return 0;
    case REG_CR2: cpu->cr2 = v; return 0;
    /* Changing CR0/CR3/CR4 would change paging under the CPU's feet: only the same value. */
    case REG_CR0: return v == cpu->cr0 ? 0 : -1;
    case REG_CR3: return v == cpu->cr3 ? 0 : -1;
    case REG_CR4: return v == cpu->cr4 ? 0 : -1;
    default: return -1;
    }
}
