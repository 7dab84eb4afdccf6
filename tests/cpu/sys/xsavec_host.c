/* The user-mode half of xsavec.asm run on the host CPU: the same XSAVEC stores, compacted and
 * standard XRSTOR MXCSR handling and compacted-form #GPs (SIGSEGV here), with the same
 * expected values, so the bare-metal test's expectations are the real CPU's. Only for hosts
 * whose /proc/cpuinfo lists xsavec (run.sh checks); 64-bit code, with the forms without REX.W,
 * which store the legacy region as in 32-bit mode. Prints PASS or the first FAIL. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { HDR = 512 };
static uint8_t area[4096] __attribute__((aligned(64)));
static sigjmp_buf fault_jmp;
static int failures;

static void on_segv(int sig)
{
    siglongjmp(fault_jmp, sig);
}

static void xsavec(uint64_t rfbm)
{
    __asm__ volatile("xsavec (%0)" : : "r"(area), "a"((uint32_t)rfbm), "d"((uint32_t)(rfbm >> 32)) : "memory");
}

static void xrstor(uint64_t rfbm)
{
    __asm__ volatile("xrstor (%0)" : : "r"(area), "a"((uint32_t)rfbm), "d"((uint32_t)(rfbm >> 32)) : "memory");
}

/* XRSTOR that is expected to fault: 1 when it raised #GP (SIGSEGV). */
static int xrstor_faults(uint64_t rfbm)
{
    if (sigsetjmp(fault_jmp, 1))
        return 1;
    xrstor(rfbm);
    return 0;
}

static uint32_t rd32(unsigned off) { uint32_t v; memcpy(&v, area + off, 4); return v; }
static void wr32(unsigned off, uint32_t v) { memcpy(area + off, &v, 4); }
static uint32_t get_mxcsr(void) { uint32_t v; __asm__ volatile("stmxcsr %0" : "=m"(v)); return v; }
static void set_mxcsr(uint32_t v) { __asm__ volatile("ldmxcsr %0" : : "m"(v)); }
static uint32_t xmm0_low(void) { uint32_t v; __asm__ volatile("movd %%xmm0, %0" : "=r"(v)); return v; }

static void check(uint32_t got, uint32_t want, const char *what)
{
    if (got != want) {
        printf("FAIL: %s: %#x, expected %#x\n", what, got, want);
        failures++;
    }
}

int main(void)
{
    signal(SIGSEGV, on_segv);
    /* The state xsavec.asm sets: FCW 037FH, 1 and pi on the stack, MXCSR 7F80H, XMM0. */
    __asm__ volatile("fninit; fld1; fldpi");
    set_mxcsr(0x7f80);
    __asm__ volatile("movd %0, %%xmm0" : : "r"(0x11223344u) : "xmm0");

    memset(area, 0xcc, sizeof(area));
    xsavec(1);
    check(rd32(HDR), 1, "XSAVEC x87: XSTATE_BV");
    check(rd32(HDR + 4), 0, "XSAVEC x87: XSTATE_BV[63:32]");
    check(rd32(HDR + 8), 1, "XSAVEC x87: XCOMP_BV");
    check(rd32(HDR + 12), 0x80000000, "XSAVEC: XCOMP_BV bit 63");
    check(rd32(HDR + 16), 0xcccccccc, "XSAVEC: header bytes 16-19");
    check(rd32(HDR + 60), 0xcccccccc, "XSAVEC: header bytes 60-63");
    check(rd32(0) & 0xffff, 0x037f, "XSAVEC x87: FCW");
    check(rd32(24), 0xcccccccc, "XSAVEC x87 only: MXCSR");
    check(rd32(160), 0xcccccccc, "XSAVEC x87 only: XMM0");

    memset(area, 0xcc, sizeof(area));
    xsavec(2);
    check(rd32(HDR), 2, "XSAVEC SSE: XSTATE_BV");
    check(rd32(HDR + 8), 2, "XSAVEC SSE: XCOMP_BV");
    check(rd32(24), 0x7f80, "XSAVEC SSE: MXCSR");
    check(rd32(160), 0x11223344, "XSAVEC SSE: XMM0");
    check(rd32(0) & 0xffff, 0xcccc, "XSAVEC SSE only: FCW");

    memset(area, 0xcc, sizeof(area));
    xsavec(3);   /* xsavec.asm asks for all bits with XCR0 = 3; the host's XCR0 has more */
    check(rd32(HDR), 3, "XSAVEC x87+SSE: XSTATE_BV");
    check(rd32(HDR + 8), 3, "XSAVEC x87+SSE: XCOMP_BV");
    check(rd32(464), 0xcccccccc, "XSAVEC: bytes 464-511");

    memset(area + HDR + 16, 0, 48);
    wr32(24, 0x3f80);
    wr32(HDR, 1);
    xrstor(3);
    check(get_mxcsr(), 0x1f80, "compacted XRSTOR, XSTATE_BV[1] = 0: MXCSR");
    check(xmm0_low(), 0, "compacted XRSTOR, XSTATE_BV[1] = 0: XMM0");
    wr32(HDR + 8, 0);
    wr32(HDR + 12, 0);
    xrstor(3);
    check(get_mxcsr(), 0x3f80, "standard XRSTOR, XSTATE_BV[1] = 0: MXCSR");
    wr32(HDR, 3);
    wr32(HDR + 8, 3);
    wr32(HDR + 12, 0x80000000);
    xrstor(3);
    check(xmm0_low(), 0x11223344, "compacted XRSTOR: XMM0");
    check(get_mxcsr(), 0x3f80, "compacted XRSTOR, XSTATE_BV[1] = 1: MXCSR");

    /* The #GPs. Bit 2 (AVX) is in the host's XCR0, so "beyond XCR0" uses bit 10 (PASID, a
     * supervisor component, never in XCR0). */
    wr32(HDR + 8, 3 | 1u << 10);
    check((uint32_t)xrstor_faults(3), 1, "compacted XRSTOR, XCOMP_BV bit beyond XCR0: #GP");
    wr32(HDR + 8, 1);
    check((uint32_t)xrstor_faults(3), 1, "compacted XRSTOR, XSTATE_BV beyond XCOMP_BV: #GP");
    wr32(HDR + 8, 3);
    wr32(HDR + 40, 1);
    check((uint32_t)xrstor_faults(3), 1, "compacted XRSTOR, header byte 40: #GP");
    wr32(HDR + 40, 0);
    wr32(24, 0x80001f80);
    check((uint32_t)xrstor_faults(3), 1, "compacted XRSTOR, reserved MXCSR bit: #GP");
    wr32(HDR, 1);
    check((uint32_t)xrstor_faults(3), 0, "compacted XRSTOR without SSE: MXCSR not checked");
    if (!failures)
        printf("PASS\n");
    return failures != 0;
}
