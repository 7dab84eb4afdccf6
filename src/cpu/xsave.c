/* XSAVE and friends for the state components pcvm has (x87 = 0, SSE = 1; no AVX): XGETBV,
 * XSETBV, XSAVE, XSAVEOPT and XRSTOR in the standard (non-compacted) format (SDM vol. 1
 * ch. 13). Both components always count as in use (XINUSE = XCR0), as under QEMU, so XSAVEOPT
 * stores what XSAVE stores. The area is the FXSAVE image followed by the 64-byte header. */
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/exec_int.h"
#include "cpu/fpu.h"
#include "cpu/mmu.h"
#include "cpu/sys.h"

enum { XSAVE_HEADER = 512, XSAVE_SIZE = 576 };

static struct insn *next(struct cpu *cpu, struct insn *i)
{
    cpu->eip += i->len;
    return i + 1;
}

/* #UD unless CR4.OSXSAVE is set (the model's XSAVE bit was checked at decode). */
static void need_osxsave(struct cpu *cpu)
{
    if (!(cpu->cr4 & CR4_OSXSAVE))
        cpu_exception(cpu, EXC_UD, 0);
}

/* 0F 01 D0 XGETBV: EDX:EAX = XCR[ECX]; ECX 1 (with XGETBV1) is XINUSE & XCR0. */
static struct insn *h_xgetbv(struct cpu *cpu, struct insn *i)
{
    need_osxsave(cpu);
    uint32_t n = cpu->regs[R_ECX];
    if (n != 0 && !(n == 1 && (cpu->model->xsave1_eax & CPUID_D1EAX_XGETBV1)))
        cpu_exception(cpu, EXC_GP, 0);
    uint64_t v = cpu->sys.xcr0;   /* XINUSE: both components count as in use */
    cpu->regs[R_EAX] = (uint32_t)v;
    cpu->regs[R_EDX] = (uint32_t)(v >> 32);
    return next(cpu, i);
}

/* 0F 01 D1 XSETBV: XCR[ECX] = EDX:EAX at CPL 0; only XCR0, x87 always on. */
static struct insn *h_xsetbv(struct cpu *cpu, struct insn *i)
{
    need_osxsave(cpu);
    if (cpu->pe && (cpu->cpl != 0 || cpu->vm86))
        cpu_exception(cpu, EXC_GP, 0);
    uint64_t v = (uint64_t)cpu->regs[R_EDX] << 32 | cpu->regs[R_EAX];
    if (cpu->regs[R_ECX] != 0 || !(v & XCR0_X87) || (v & ~(uint64_t)XCR0_SUPPORTED))
        cpu_exception(cpu, EXC_GP, 0);
    cpu->sys.xcr0 = v;
    return next(cpu, i);
}

/* Checks shared by XSAVE, XSAVEOPT and XRSTOR; returns the linear-aligned offset's RFBM. */
static uint64_t xsave_prologue(struct cpu *cpu, struct insn *i, uint32_t off)
{
    need_osxsave(cpu);
    if (cpu->cr0 & CR0_TS)
        cpu_exception(cpu, EXC_NM, 0);
    if ((cpu->seg[i->seg].base + off) & 63)
        cpu_exception(cpu, EXC_GP, 0);
    uint64_t mask = (uint64_t)cpu->regs[R_EDX] << 32 | cpu->regs[R_EAX];
    return mask & cpu->sys.xcr0;
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = v << 8 | p[k];
    return v;
}

/* 0F AE /4 XSAVE, /6 XSAVEOPT m: the requested components and their XSTATE_BV bits. */
static struct insn *h_xsave(struct cpu *cpu, struct insn *i)
{
    uint32_t off = exec_ea(cpu, i);
    uint64_t rfbm = xsave_prologue(cpu, i, off);
    cpu_check_write(cpu, i->seg, off, XSAVE_HEADER + 8);
    uint8_t img[288];
    fpu_legacy_image(cpu, img);
    if (rfbm & XCR0_X87) {
        cpu_write_bytes(cpu, i->seg, off, img, 24);        /* FCW ... FDS */
        cpu_write_bytes(cpu, i->seg, off + 32, img + 32, 128);   /* ST0-7 */
    }
    if (rfbm & XCR0_SSE) {
        cpu_write_bytes(cpu, i->seg, off + 24, img + 24, 8);     /* MXCSR, MXCSR_MASK */
        cpu_write_bytes(cpu, i->seg, off + 160, img + 160, 128); /* XMM0-7 */
    }
    /* XSTATE_BV: the requested bits become XINUSE (both in use); the others stay. */
    uint64_t bv = cpu_read64(cpu, i->seg, off + XSAVE_HEADER);
    cpu_write64(cpu, i->seg, off + XSAVE_HEADER, (bv & ~rfbm) | rfbm);
    return next(cpu, i);
}

/* 0F AE /5 XRSTOR m: standard form only (no XSAVEC here, so XCOMP_BV must be zero). */
static struct insn *h_xrstor(struct cpu *cpu, struct insn *i)
{
    uint32_t off = exec_ea(cpu, i);
    uint64_t rfbm = xsave_prologue(cpu, i, off);
    uint8_t area[XSAVE_SIZE];
    cpu_read_bytes(cpu, i->seg, off, area, XSAVE_SIZE);
    uint64_t bv = load64(area + XSAVE_HEADER);
    /* #GP: XSTATE_BV beyond XCR0, XCOMP_BV or the next 8 header bytes not zero (vol. 1
     * 13.8.1), an MXCSR with reserved bits when it is loaded. Nothing changes before. */
    if ((bv & ~cpu->sys.xcr0) || load64(area + XSAVE_HEADER + 8) || load64(area + XSAVE_HEADER + 16))
        cpu_exception(cpu, EXC_GP, 0);
    uint32_t mxcsr = (uint32_t)load64(area + 24);
    if ((rfbm & XCR0_SSE) && (mxcsr & ~fpu_mxcsr_mask(cpu)))
        cpu_exception(cpu, EXC_GP, 0);
    if (rfbm & XCR0_X87) {
        if (bv & XCR0_X87)
            fpu_load_x87_image(cpu, area);
        else
            fpu_init_x87_state(cpu);
    }
    if (rfbm & XCR0_SSE) {
        /* MXCSR is loaded whenever SSE is requested, whatever XSTATE_BV says. */
        cpu->fpu.mxcsr = mxcsr;
        if (bv & XCR0_SSE)
            memcpy(cpu->fpu.xmm, area + 160, sizeof(cpu->fpu.xmm));
        else
            memset(cpu->fpu.xmm, 0, sizeof(cpu->fpu.xmm));
    }
    return next(cpu, i);
}

insn_fn xsave_select_handler(struct cpu *cpu, const struct insn *i, bool *claimed)
{
    *claimed = false;
    if (i->map != 1)
        return NULL;
    bool mem = i->pfx & P_MEM;
    bool xsave = (cpu->model->features_ecx & CPUID_ECX_XSAVE) != 0;
    bool prefixed = (i->pfx & (P_LOCK | P_REP | P_REPNE)) || i->simd_pfx;
    if (i->op == 0x01 && !mem && (i->modrm == 0xd0 || i->modrm == 0xd1)) {
        *claimed = true;
        if (!xsave || prefixed)
            return NULL;
        return i->modrm == 0xd0 ? h_xgetbv : h_xsetbv;
    }
    if (i->op == 0xae && mem && i->reg >= 4 && i->reg <= 6 && !prefixed) {
        *claimed = true;
        if (!xsave)
            return NULL;
        if (i->reg == 6)
            return (cpu->model->xsave1_eax & CPUID_D1EAX_XSAVEOPT) ? h_xsave : NULL;
        return i->reg == 4 ? h_xsave : h_xrstor;
    }
    return NULL;
}
