/* XSAVE and friends for the state components pcvm has (x87 = 0, SSE = 1; no AVX): XGETBV,
 * XSETBV, XSAVE, XSAVEOPT and XRSTOR in the standard format, and on the models that have them
 * XSAVEC, XSAVES/XRSTORS and XRSTOR's compacted form (SDM vol. 1 ch. 13). Both components
 * always count as in use (XINUSE = XCR0, which the SDM permits and QEMU does), so XSAVEOPT
 * stores what XSAVE stores. The area is the FXSAVE image followed by the 64-byte header; x87
 * and SSE live in that legacy region in the compacted format too, so both formats have the
 * same layout and differ only in the header (XCOMP_BV) and in what XRSTOR does with MXCSR.
 * No supervisor components exist, so IA32_XSS is always 0 (msr.c). */
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

/* Store the x87 and SSE parts of the legacy region that rfbm asks for. */
static void store_components(struct cpu *cpu, struct insn *i, uint32_t off, uint64_t rfbm)
{
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
}

/* 0F AE /4 XSAVE, /6 XSAVEOPT m: the requested components and their XSTATE_BV bits. */
static struct insn *h_xsave(struct cpu *cpu, struct insn *i)
{
    uint32_t off = exec_ea(cpu, i);
    uint64_t rfbm = xsave_prologue(cpu, i, off);
    cpu_check_write(cpu, i->seg, off, XSAVE_HEADER + 8);
    store_components(cpu, i, off, rfbm);
    /* XSTATE_BV: the requested bits become XINUSE (both in use); the others stay. */
    uint64_t bv = cpu_read64(cpu, i->seg, off + XSAVE_HEADER);
    cpu_write64(cpu, i->seg, off + XSAVE_HEADER, (bv & ~rfbm) | rfbm);
    return next(cpu, i);
}

/* XSAVES and XRSTORS are for CPL 0 only (vol. 2: #GP(0) otherwise, also in virtual-8086 mode). */
static void need_cpl0(struct cpu *cpu)
{
    if (cpu->pe && (cpu->cpl != 0 || cpu->vm86))
        cpu_exception(cpu, EXC_GP, 0);
}

/* 0F C7 /4 XSAVEC, /5 XSAVES m: the compacted format. XSTATE_BV = RFBM & XINUSE (every bit
 * written), XCOMP_BV = RFBM with bit 63; bytes 16-63 of the header are left alone (checked
 * against an AMD EPYC host: tests/cpu/harness xsavec). XSAVES adds IA32_XSS's components:
 * there are none. */
static struct insn *h_xsavec(struct cpu *cpu, struct insn *i)
{
    need_osxsave(cpu);   /* #UD before XSAVES's #GP */
    if (i->reg == 5)
        need_cpl0(cpu);
    uint32_t off = exec_ea(cpu, i);
    uint64_t rfbm = xsave_prologue(cpu, i, off);
    cpu_check_write(cpu, i->seg, off, XSAVE_HEADER + 16);
    store_components(cpu, i, off, rfbm);
    cpu_write64(cpu, i->seg, off + XSAVE_HEADER, rfbm);
    cpu_write64(cpu, i->seg, off + XSAVE_HEADER + 8, rfbm | 1ull << 63);
    return next(cpu, i);
}

/* XRSTOR's two forms and XRSTORS (always compacted) after the shared checks. Every #GP comes
 * before anything changes. Standard form: #GP for XSTATE_BV beyond XCR0 or nonzero header bytes
 * 8-23; MXCSR loaded whenever SSE is requested. Compacted form (XCOMP_BV bit 63, on models with
 * XSAVEC): #GP for XCOMP_BV beyond XCR0 | IA32_XSS, XSTATE_BV beyond XCOMP_BV, nonzero header
 * bytes 16-63; a component with a clear XSTATE_BV bit is initialised, MXCSR (1F80H) included
 * (vol. 1 13.8.2, checked on the host). */
static void restore(struct cpu *cpu, struct insn *i, uint32_t off, uint64_t rfbm, bool xrstors)
{
    uint8_t area[XSAVE_SIZE];
    cpu_read_bytes(cpu, i->seg, off, area, XSAVE_SIZE);
    uint64_t bv = load64(area + XSAVE_HEADER);
    uint64_t comp = load64(area + XSAVE_HEADER + 8);
    bool compacted = (comp >> 63) && (cpu->model->xsave1_eax & CPUID_D1EAX_XSAVEC);
    if (xrstors && !(comp >> 63))
        cpu_exception(cpu, EXC_GP, 0);
    if (xrstors)
        compacted = true;
    if (compacted) {
        uint64_t comp_bits = comp & ~(1ull << 63);
        if ((comp_bits & ~cpu->sys.xcr0) || (bv & ~comp_bits))
            cpu_exception(cpu, EXC_GP, 0);
        for (unsigned k = 16; k < 64; k += 8)
            if (load64(area + XSAVE_HEADER + k))
                cpu_exception(cpu, EXC_GP, 0);
    } else if ((bv & ~cpu->sys.xcr0) || comp || load64(area + XSAVE_HEADER + 16)) {
        cpu_exception(cpu, EXC_GP, 0);
    }
    uint32_t mxcsr = (uint32_t)load64(area + 24);
    bool load_mxcsr = (rfbm & XCR0_SSE) && (!compacted || (bv & XCR0_SSE));
    if (load_mxcsr && (mxcsr & ~fpu_mxcsr_mask(cpu)))
        cpu_exception(cpu, EXC_GP, 0);
    if (rfbm & XCR0_X87) {
        if (bv & XCR0_X87)
            fpu_load_x87_image(cpu, area);
        else
            fpu_init_x87_state(cpu);
    }
    if (rfbm & XCR0_SSE) {
        cpu->fpu.mxcsr = load_mxcsr ? mxcsr : 0x1f80;
        if (bv & XCR0_SSE)
            memcpy(cpu->fpu.xmm, area + 160, sizeof(cpu->fpu.xmm));
        else
            memset(cpu->fpu.xmm, 0, sizeof(cpu->fpu.xmm));
    }
}

/* 0F AE /5 XRSTOR m. */
static struct insn *h_xrstor(struct cpu *cpu, struct insn *i)
{
    uint32_t off = exec_ea(cpu, i);
    uint64_t rfbm = xsave_prologue(cpu, i, off);
    restore(cpu, i, off, rfbm, false);
    return next(cpu, i);
}

/* 0F C7 /3 XRSTORS m. */
static struct insn *h_xrstors(struct cpu *cpu, struct insn *i)
{
    need_osxsave(cpu);
    need_cpl0(cpu);
    uint32_t off = exec_ea(cpu, i);
    uint64_t rfbm = xsave_prologue(cpu, i, off);
    restore(cpu, i, off, rfbm, true);
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
    if (i->op == 0xc7 && mem && i->reg >= 3 && i->reg <= 5 && !prefixed) {
        uint32_t d1 = cpu->model->xsave1_eax;
        bool has = xsave && (i->reg == 4 ? (d1 & CPUID_D1EAX_XSAVEC) : (d1 & CPUID_D1EAX_XSAVES));
        if (!has)
            return NULL;       /* not claimed: CMPXCHG8B's row answers #UD */
        *claimed = true;
        return i->reg == 3 ? h_xrstors : h_xsavec;
    }
    return NULL;
}
