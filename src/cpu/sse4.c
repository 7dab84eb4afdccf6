/* The 0F 38 and 0F 3A maps on MMX/XMM registers: SSSE3, SSE4.1, SSE4.2 (PCMPGTQ and the
 * string compares), AES-NI and PCLMULQDQ, in portable C after the SDM's pseudocode (the
 * conformance harness compares them with the host CPU). The forms on general registers
 * (MOVBE, CRC32, ADCX/ADOX) are exec's (bmi.c). */
#include <pthread.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/mmu.h"
#include "cpu/opcodes.h"
#include "cpu/simd_host.h"
#include "cpu/simd_int.h"

static _Noreturn void ud(struct cpu *cpu) { cpu_exception(cpu, EXC_UD, 0); }
static bool is_mem(const struct simd_args *a) { return a->seg >= 0; }
static unsigned reg_of(const struct simd_args *a) { return a->modrm >> 3 & 7; }
static unsigned rm_of(const struct simd_args *a) { return a->modrm & 7; }

static int16_t sat16(int v) { return (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v); }
static uint16_t satu16(int64_t v) { return (uint16_t)(v > 65535 ? 65535 : v < 0 ? 0 : v); }

/* ---- SSSE3: the same operation on 8-byte (MMX) or 16-byte (XMM) operands ---- */

static void ssse3_compute(uint8_t op, unsigned n, xmm_reg *d, const xmm_reg *s, uint8_t imm)
{
    xmm_reg r;
    memset(&r, 0, sizeof(r));
    unsigned nw = n / 2, nd = n / 4, half_w = nw / 2, half_d = nd / 2;
    switch (op) {
    case 0x00: /* PSHUFB */
        for (unsigned k = 0; k < n; k++)
            r.b[k] = (s->b[k] & 0x80) ? 0 : d->b[s->b[k] & (n - 1)];
        break;
    case 0x01: case 0x03: case 0x05: case 0x07: /* PHADDW PHADDSW PHSUBW PHSUBSW */
        for (unsigned k = 0; k < nw; k++) {
            const xmm_reg *src = k < half_w ? d : s;
            unsigned j = 2 * (k % half_w);
            int a = (int16_t)src->w[j], b = (int16_t)src->w[j + 1];
            int v = op <= 0x03 ? a + b : a - b;
            r.w[k] = (uint16_t)((op == 0x03 || op == 0x07) ? sat16(v) : v);
        }
        break;
    case 0x02: case 0x06: /* PHADDD PHSUBD */
        for (unsigned k = 0; k < nd; k++) {
            const xmm_reg *src = k < half_d ? d : s;
            unsigned j = 2 * (k % half_d);
            r.d[k] = op == 0x02 ? src->d[j] + src->d[j + 1] : src->d[j] - src->d[j + 1];
        }
        break;
    case 0x04: /* PMADDUBSW: unsigned bytes of the destination times signed bytes of the source */
        for (unsigned k = 0; k < nw; k++)
            r.w[k] = (uint16_t)sat16(d->b[2 * k] * (int8_t)s->b[2 * k] +
                                     d->b[2 * k + 1] * (int8_t)s->b[2 * k + 1]);
        break;
    case 0x08: /* PSIGNB */
        for (unsigned k = 0; k < n; k++) {
            int8_t sv = (int8_t)s->b[k];
            r.b[k] = (uint8_t)(sv < 0 ? -d->b[k] : sv ? d->b[k] : 0);
        }
        break;
    case 0x09: /* PSIGNW */
        for (unsigned k = 0; k < nw; k++) {
            int16_t sv = (int16_t)s->w[k];
            r.w[k] = (uint16_t)(sv < 0 ? -d->w[k] : sv ? d->w[k] : 0);
        }
        break;
    case 0x0a: /* PSIGND */
        for (unsigned k = 0; k < nd; k++) {
            int32_t sv = (int32_t)s->d[k];
            r.d[k] = sv < 0 ? 0u - d->d[k] : sv ? d->d[k] : 0;
        }
        break;
    case 0x0b: /* PMULHRSW */
        for (unsigned k = 0; k < nw; k++) {
            int32_t p = (int32_t)(int16_t)d->w[k] * (int16_t)s->w[k];
            r.w[k] = (uint16_t)(((p >> 14) + 1) >> 1);
        }
        break;
    case 0x1c: /* PABSB */
        for (unsigned k = 0; k < n; k++)
            r.b[k] = (uint8_t)((int8_t)s->b[k] < 0 ? -s->b[k] : s->b[k]);
        break;
    case 0x1d: /* PABSW */
        for (unsigned k = 0; k < nw; k++)
            r.w[k] = (uint16_t)((int16_t)s->w[k] < 0 ? -s->w[k] : s->w[k]);
        break;
    case 0x1e: /* PABSD */
        for (unsigned k = 0; k < nd; k++)
            r.d[k] = (int32_t)s->d[k] < 0 ? 0u - s->d[k] : s->d[k];
        break;
    case 0x0f: { /* PALIGNR: destination:source shifted right by imm bytes */
        uint8_t cat[64];
        memset(cat, 0, sizeof(cat));
        memcpy(cat, s->b, n);
        memcpy(cat + n, d->b, n);
        for (unsigned k = 0; k < n; k++)
            r.b[k] = imm + k < 2 * n ? cat[imm + k] : 0;
        break;
    }
    }
    *d = r;
}

static bool ssse3_op(uint8_t map, uint8_t op)
{
    if (map == 3)
        return op == 0x0f;
    return op <= 0x0b || (op >= 0x1c && op <= 0x1e);
}

static void ssse3(struct cpu *cpu, const struct simd_args *a)
{
    if (a->prefix == 0) {
        simd_mmx_check(cpu, FEAT_SSSE3);
        xmm_reg d = { .q = { simd_mm_get(cpu, reg_of(a)), 0 } };
        xmm_reg s = { .q = { simd_mm_src(cpu, a, 8), 0 } };
        ssse3_compute(a->opcode, 8, &d, &s, a->imm8);
        simd_mm_set(cpu, reg_of(a), d.q[0]);
        return;
    }
    simd_sse_check(cpu, FEAT_SSSE3);
    xmm_reg s = simd_xmm_src(cpu, a, 16, true);
    ssse3_compute(a->opcode, 16, &cpu->fpu.xmm[reg_of(a)], &s, a->imm8);
}

/* ---- SSE4.1 / SSE4.2 integer operations of map 2 ---- */

/* Memory size of a PMOVSX/PMOVZX source: 8 bytes for 8 -> 16 bits, 4 for 8 -> 32... */
static unsigned pmov_size(uint8_t op)
{
    static const uint8_t size[6] = { 8, 4, 2, 8, 4, 8 };
    return size[(op & 0x0f) % 6];
}

static void pmov(xmm_reg *r, const xmm_reg *s, uint8_t op)
{
    bool sx = op < 0x30;
    switch (op & 0x0f) {
    case 0: for (int k = 0; k < 8; k++) r->w[k] = (uint16_t)(sx ? (int8_t)s->b[k] : s->b[k]); break;
    case 1: for (int k = 0; k < 4; k++) r->d[k] = (uint32_t)(sx ? (int8_t)s->b[k] : s->b[k]); break;
    case 2: for (int k = 0; k < 2; k++) r->q[k] = (uint64_t)(sx ? (int64_t)(int8_t)s->b[k] : s->b[k]); break;
    case 3: for (int k = 0; k < 4; k++) r->d[k] = (uint32_t)(sx ? (int16_t)s->w[k] : s->w[k]); break;
    case 4: for (int k = 0; k < 2; k++) r->q[k] = (uint64_t)(sx ? (int64_t)(int16_t)s->w[k] : s->w[k]); break;
    default: for (int k = 0; k < 2; k++) r->q[k] = sx ? (uint64_t)(int64_t)(int32_t)s->d[k] : s->d[k]; break;
    }
}

/* AES tables, computed once from GF(2^8) arithmetic (FIPS-197). */
struct aes_tables {
    uint8_t sbox[256], inv[256];
};
static uint8_t gmul(uint8_t a, uint8_t b)
{
    uint8_t p = 0;
    for (int k = 0; k < 8; k++) {
        if (b & 1)
            p ^= a;
        a = (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1b : 0));
        b >>= 1;
    }
    return p;
}
static struct aes_tables aes_table_data;
static void aes_tables_init(void)
{
    struct aes_tables *n = &aes_table_data;
    for (int x = 0; x < 256; x++) {
        uint8_t invx = 0;
        for (int y = 1; y < 256 && x; y++)
            if (gmul((uint8_t)x, (uint8_t)y) == 1) {
                invx = (uint8_t)y;
                break;
            }
        uint8_t b = invx, sub = 0x63;
        for (int k = 0; k < 5; k++) {   /* the affine map: b ^ rotl1 ^ rotl2 ^ rotl3 ^ rotl4 */
            sub ^= b;
            b = (uint8_t)(b << 1 | b >> 7);
        }
        n->sbox[x] = sub;
    }
    for (int x = 0; x < 256; x++)
        n->inv[n->sbox[x]] = (uint8_t)x;
}
static const struct aes_tables *aes_tables(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, aes_tables_init);
    return &aes_table_data;
}

/* State byte 4c + r is row r of column c. */
static void aes_shift_rows(xmm_reg *v, bool inverse)
{
    xmm_reg o = *v;
    for (int c = 0; c < 4; c++)
        for (int r = 0; r < 4; r++)
            v->b[4 * c + r] = o.b[4 * ((inverse ? c - r + 4 : c + r) % 4) + r];
}
static void aes_sub_bytes(xmm_reg *v, const uint8_t *box)
{
    for (int k = 0; k < 16; k++)
        v->b[k] = box[v->b[k]];
}
static void aes_mix_columns(xmm_reg *v, bool inverse)
{
    static const uint8_t fwd[4] = { 2, 3, 1, 1 }, inv[4] = { 14, 11, 13, 9 };
    const uint8_t *m = inverse ? inv : fwd;
    for (int c = 0; c < 4; c++) {
        uint8_t col[4];
        memcpy(col, v->b + 4 * c, 4);
        for (int r = 0; r < 4; r++)
            v->b[4 * c + r] = (uint8_t)(gmul(col[0], m[(4 - r) % 4]) ^ gmul(col[1], m[(5 - r) % 4]) ^
                                        gmul(col[2], m[(6 - r) % 4]) ^ gmul(col[3], m[(7 - r) % 4]));
    }
}

static void aes(uint8_t op, xmm_reg *d, const xmm_reg *key)
{
    const struct aes_tables *t = aes_tables();
    xmm_reg v = op == 0xdb ? *key : *d;
    switch (op) {
    case 0xdb: aes_mix_columns(&v, true); *d = v; return;   /* AESIMC */
    case 0xdc: case 0xdd:   /* AESENC, AESENCLAST */
        aes_shift_rows(&v, false);
        aes_sub_bytes(&v, t->sbox);
        if (op == 0xdc)
            aes_mix_columns(&v, false);
        break;
    default:                /* AESDEC, AESDECLAST */
        aes_shift_rows(&v, true);
        aes_sub_bytes(&v, t->inv);
        if (op == 0xde)
            aes_mix_columns(&v, true);
        break;
    }
    d->q[0] = v.q[0] ^ key->q[0];
    d->q[1] = v.q[1] ^ key->q[1];
}

static uint32_t aes_sub_word(uint32_t w)
{
    const struct aes_tables *t = aes_tables();
    return (uint32_t)t->sbox[w & 0xff] | (uint32_t)t->sbox[w >> 8 & 0xff] << 8 |
           (uint32_t)t->sbox[w >> 16 & 0xff] << 16 | (uint32_t)t->sbox[w >> 24] << 24;
}

static void map2_xmm(struct cpu *cpu, const struct simd_args *a, const struct simd_op_info *info)
{
    uint8_t op = a->opcode;
    bool pmovx = (op >= 0x20 && op <= 0x25) || (op >= 0x30 && op <= 0x35);
    xmm_reg s = simd_xmm_src(cpu, a, pmovx ? pmov_size(op) : 16, !pmovx);
    xmm_reg *d = &cpu->fpu.xmm[reg_of(a)], r = *d;
    const xmm_reg *x0 = &cpu->fpu.xmm[0];
    if (pmovx) {
        pmov(&r, &s, op);
        *d = r;
        return;
    }
    switch (op) {
    case 0x10: for (int k = 0; k < 16; k++) if (x0->b[k] & 0x80) r.b[k] = s.b[k]; break;
    case 0x14: for (int k = 0; k < 4; k++) if (x0->d[k] >> 31) r.d[k] = s.d[k]; break;
    case 0x15: for (int k = 0; k < 2; k++) if (x0->q[k] >> 63) r.q[k] = s.q[k]; break;
    case 0x17: { /* PTEST */
        bool zf = !((d->q[0] & s.q[0]) | (d->q[1] & s.q[1]));
        bool cf = !((~d->q[0] & s.q[0]) | (~d->q[1] & s.q[1]));
        cpu_set_eflags(cpu, (zf ? FLAG_ZF : 0) | (cf ? FLAG_CF : 0),
                       FLAG_ZF | FLAG_CF | FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF);
        return;
    }
    case 0x28: for (int k = 0; k < 2; k++) r.q[k] = (uint64_t)((int64_t)(int32_t)d->d[2 * k] * (int32_t)s.d[2 * k]); break;
    case 0x29: for (int k = 0; k < 2; k++) r.q[k] = d->q[k] == s.q[k] ? ~0ull : 0; break;
    case 0x2a: r = s; break;   /* MOVNTDQA (the 16-byte aligned load was checked by the source read) */
    case 0x2b: for (int k = 0; k < 8; k++) r.w[k] = satu16((int32_t)(k < 4 ? d->d[k] : s.d[k - 4])); break;
    case 0x37: for (int k = 0; k < 2; k++) r.q[k] = (int64_t)d->q[k] > (int64_t)s.q[k] ? ~0ull : 0; break;
    case 0x38: for (int k = 0; k < 16; k++) if ((int8_t)s.b[k] < (int8_t)d->b[k]) r.b[k] = s.b[k]; break;
    case 0x39: for (int k = 0; k < 4; k++) if ((int32_t)s.d[k] < (int32_t)d->d[k]) r.d[k] = s.d[k]; break;
    case 0x3a: for (int k = 0; k < 8; k++) if (s.w[k] < d->w[k]) r.w[k] = s.w[k]; break;
    case 0x3b: for (int k = 0; k < 4; k++) if (s.d[k] < d->d[k]) r.d[k] = s.d[k]; break;
    case 0x3c: for (int k = 0; k < 16; k++) if ((int8_t)s.b[k] > (int8_t)d->b[k]) r.b[k] = s.b[k]; break;
    case 0x3d: for (int k = 0; k < 4; k++) if ((int32_t)s.d[k] > (int32_t)d->d[k]) r.d[k] = s.d[k]; break;
    case 0x3e: for (int k = 0; k < 8; k++) if (s.w[k] > d->w[k]) r.w[k] = s.w[k]; break;
    case 0x3f: for (int k = 0; k < 4; k++) if (s.d[k] > d->d[k]) r.d[k] = s.d[k]; break;
    case 0x40: for (int k = 0; k < 4; k++) r.d[k] = d->d[k] * s.d[k]; break;
    case 0x41: { /* PHMINPOSUW */
        unsigned best = 0;
        for (unsigned k = 1; k < 8; k++)
            if (s.w[k] < s.w[best])
                best = k;
        memset(&r, 0, sizeof(r));
        r.w[0] = s.w[best];
        r.w[1] = (uint16_t)best;
        break;
    }
    case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf: aes(op, &r, &s); break;
    default: (void)info; ud(cpu);
    }
    *d = r;
}

/* ---- SSE4.1 floating point: ROUNDxx, DPPS/DPPD ---- */

enum { MX_IE = 1, MX_DE = 2, MX_PE = 32 };

/* Round a binary32/binary64 (bits v, exponent width ew, fraction width fw) to an integral
 * value with mode rc (0 nearest-even, 1 down, 2 up, 3 toward zero); *flags gets IE for a
 * signalling NaN and PE when inexact. DAZ turns denormal inputs into zeros. */
static uint64_t round_bits(uint64_t v, unsigned ew, unsigned fw, unsigned rc, bool daz, uint32_t *flags)
{
    uint64_t sign = v >> (ew + fw) << (ew + fw);
    uint64_t emax = (1ull << ew) - 1, bias = emax >> 1;
    uint64_t e = v >> fw & emax, f = v & ((1ull << fw) - 1);
    if (e == emax) {
        if (f && !(f >> (fw - 1) & 1)) {
            *flags |= MX_IE;
            return v | 1ull << (fw - 1);   /* the signalling NaN made quiet */
        }
        return v;   /* infinities, quiet NaNs */
    }
    if (e == 0 && (f == 0 || daz))
        return sign;
    if (e >= bias + fw)
        return v;   /* already integral */
    /* |v| < 2^(fw): integral part and remainder from the significand. */
    bool neg = sign != 0;
    uint64_t mant = e ? f | 1ull << fw : f;
    int shift = (int)(bias + fw) - (int)(e ? e : 1);   /* bits below the binary point */
    uint64_t ipart, rem, half;
    if (shift >= 64) {
        ipart = 0;
        rem = mant;
        half = 0;   /* far below one half */
        shift = 64;
    } else {
        ipart = mant >> shift;
        rem = mant & ((1ull << shift) - 1);
        half = 1ull << (shift - 1);
    }
    if (rem == 0)
        return v;
    *flags |= MX_PE;
    bool up;
    switch (rc) {
    case 0: up = shift < 64 && (rem > half || (rem == half && (ipart & 1))); break;
    case 1: up = neg; break;
    case 2: up = !neg; break;
    default: up = false; break;
    }
    ipart += up;
    if (ipart == 0)
        return sign;
    /* Back to floating point: ipart <= 2^fw, exact. */
    int top = 63 - __builtin_clzll(ipart);
    uint64_t ne = bias + (uint64_t)top;
    uint64_t nf = (ipart << (fw - (unsigned)top)) & ((1ull << fw) - 1);
    return sign | ne << fw | nf;
}

static void roundxx(struct cpu *cpu, const struct simd_args *a)
{
    uint8_t op = a->opcode, imm = a->imm8;
    bool dbl = op & 1, scalar = op >= 0x0a;
    xmm_reg s = simd_xmm_src(cpu, a, scalar ? (dbl ? 8 : 4) : 16, !scalar);
    uint32_t mx = cpu->fpu.mxcsr, flags = 0;
    unsigned rc = (imm & 4) ? (mx >> 13 & 3) : (imm & 3);
    bool daz = mx & 0x40;
    xmm_reg r = cpu->fpu.xmm[reg_of(a)];
    unsigned lanes = scalar ? 1 : dbl ? 2 : 4;
    for (unsigned k = 0; k < lanes; k++) {
        if (dbl)
            r.q[k] = round_bits(s.q[k], 11, 52, rc, daz, &flags);
        else
            r.d[k] = (uint32_t)round_bits(s.d[k], 8, 23, rc, daz, &flags);
    }
    if (imm & 8)
        flags &= ~(uint32_t)MX_PE;
    simd_sse_flags(cpu, flags);
    cpu->fpu.xmm[reg_of(a)] = r;
}

/* DPPS/DPPD: products of the selected lanes, summed pairwise, each step rounded as MULPS and
 * ADDPS round it (on the host SSE unit under the guest MXCSR); the unselected products are
 * +0.0 and raise nothing. */
static void dpxx(struct cpu *cpu, const struct simd_args *a)
{
    bool dbl = a->opcode == 0x41;
    uint8_t imm = a->imm8;
    xmm_reg s = simd_xmm_src(cpu, a, 16, true), d = cpu->fpu.xmm[reg_of(a)];
    uint32_t flags = 0;
    if (dbl) {
        xmm_reg m = d, ms = s;
        for (int k = 0; k < 2; k++)
            if (!(imm >> (4 + k) & 1))
                m.q[k] = ms.q[k] = 0;
        flags = simd_fp_step(cpu, SFP_MULPD, &m, &ms, flags);
        for (int k = 0; k < 2; k++)
            if (!(imm >> (4 + k) & 1))
                m.q[k] = 0;
        xmm_reg sum = { .q = { m.q[0], 0 } }, hi = { .q = { m.q[1], 0 } };
        flags = simd_fp_step(cpu, SFP_ADDSD, &sum, &hi, flags);
        simd_sse_flags(cpu, flags);
        for (int k = 0; k < 2; k++)
            d.q[k] = (imm >> k & 1) ? sum.q[0] : 0;
    } else {
        xmm_reg m = d, ms = s;
        for (int k = 0; k < 4; k++)
            if (!(imm >> (4 + k) & 1))
                m.d[k] = ms.d[k] = 0;
        flags = simd_fp_step(cpu, SFP_MULPS, &m, &ms, flags);
        for (int k = 0; k < 4; k++)
            if (!(imm >> (4 + k) & 1))
                m.d[k] = 0;
        xmm_reg p01 = { .d = { m.d[0], 0, 0, 0 } }, p1 = { .d = { m.d[1], 0, 0, 0 } };
        xmm_reg p23 = { .d = { m.d[2], 0, 0, 0 } }, p3 = { .d = { m.d[3], 0, 0, 0 } };
        flags = simd_fp_step(cpu, SFP_ADDSS, &p01, &p1, flags);
        flags = simd_fp_step(cpu, SFP_ADDSS, &p23, &p3, flags);
        flags = simd_fp_step(cpu, SFP_ADDSS, &p01, &p23, flags);
        simd_sse_flags(cpu, flags);
        for (int k = 0; k < 4; k++)
            d.d[k] = (imm >> k & 1) ? p01.d[0] : 0;
    }
    cpu->fpu.xmm[reg_of(a)] = d;
}

/* ---- SSE4.2 string compares ---- */

/* Elements of an operand (16 bytes or 8 words), as signed or unsigned values. */
static int elem(const xmm_reg *v, unsigned k, unsigned fmt)
{
    switch (fmt) {
    case 0: return v->b[k];
    case 1: return v->w[k];
    case 2: return (int8_t)v->b[k];
    default: return (int16_t)v->w[k];
    }
}

/* Explicit length: |reg| saturated to n. */
static unsigned explicit_len(uint32_t reg, unsigned n)
{
    int64_t v = (int32_t)reg;
    if (v < 0)
        v = -v;
    return v > (int64_t)n ? n : (unsigned)v;
}
static unsigned implicit_len(const xmm_reg *v, unsigned n, unsigned fmt)
{
    for (unsigned k = 0; k < n; k++)
        if (elem(v, k, fmt) == 0)
            return k;
    return n;
}

static void pcmpstr(struct cpu *cpu, const struct simd_args *a)
{
    uint8_t op = a->opcode, imm = a->imm8;
    xmm_reg s2 = simd_xmm_src(cpu, a, 16, false);   /* unaligned memory allowed */
    xmm_reg s1 = cpu->fpu.xmm[reg_of(a)];
    unsigned fmt = imm & 3, n = (fmt & 1) ? 8 : 16, agg = imm >> 2 & 3;
    bool explicit = op <= 0x61;
    unsigned l1 = explicit ? explicit_len(cpu->regs[R_EAX], n) : implicit_len(&s1, n, fmt);
    unsigned l2 = explicit ? explicit_len(cpu->regs[R_EDX], n) : implicit_len(&s2, n, fmt);
    uint32_t res = 0;
    for (unsigned j = 0; j < n; j++) {
        bool bit = false;
        switch (agg) {
        case 0: /* equal any: s2[j] is one of s1[0..l1) */
            for (unsigned i = 0; i < l1 && j < l2 && !bit; i++)
                bit = elem(&s1, i, fmt) == elem(&s2, j, fmt);
            break;
        case 1: /* ranges: s1 holds (low, high) pairs */
            for (unsigned i = 0; i + 1 < n && j < l2 && !bit; i += 2) {
                int v = elem(&s2, j, fmt);
                bool ge = i < l1 && v >= elem(&s1, i, fmt);
                bool le = i + 1 < l1 && v <= elem(&s1, i + 1, fmt);
                bit = ge && le;
            }
            break;
        case 2: /* equal each */
            if (j >= l1 && j >= l2)
                bit = true;
            else if (j < l1 && j < l2)
                bit = elem(&s1, j, fmt) == elem(&s2, j, fmt);
            break;
        default: /* equal ordered: s1 found in s2 at j */
            bit = true;
            for (unsigned i = 0; i < n - j && bit; i++) {
                if (i >= l1)
                    break;             /* the needle ended: matches */
                if (j + i >= l2)
                    bit = false;       /* needle valid, haystack ended */
                else
                    bit = elem(&s1, i, fmt) == elem(&s2, j + i, fmt);
            }
            break;
        }
        res |= (uint32_t)bit << j;
    }
    uint32_t all = (1u << n) - 1;
    switch (imm >> 4 & 3) {
    case 1: res ^= all; break;
    case 3: res ^= (1u << l2) - 1; break;
    default: break;
    }
    if (op & 1) {   /* index into ECX */
        uint32_t idx = n;
        if (res)
            idx = (imm & 0x40) ? 31u - (uint32_t)__builtin_clz(res) : (uint32_t)__builtin_ctz(res);
        cpu->regs[R_ECX] = idx;
    } else {        /* mask into XMM0 */
        xmm_reg m;
        memset(&m, 0, sizeof(m));
        if (imm & 0x40) {
            for (unsigned k = 0; k < n; k++)
                if (res >> k & 1) {
                    if (n == 16)
                        m.b[k] = 0xff;
                    else
                        m.w[k] = 0xffff;
                }
        } else {
            m.d[0] = res;
        }
        cpu->fpu.xmm[0] = m;
    }
    cpu_set_eflags(cpu, (res ? FLAG_CF : 0) | (l2 < n ? FLAG_ZF : 0) | (l1 < n ? FLAG_SF : 0) |
                        ((res & 1) ? FLAG_OF : 0),
                   FLAG_CF | FLAG_ZF | FLAG_SF | FLAG_OF | FLAG_AF | FLAG_PF);
}

/* ---- Map 3 (imm8 forms) ---- */

static uint64_t clmul(uint64_t a, uint64_t b, uint64_t *hi)
{
    uint64_t lo = 0, h = 0;
    for (int k = 0; k < 64; k++)
        if (b >> k & 1) {
            lo ^= a << k;
            h ^= k ? a >> (64 - k) : 0;
        }
    *hi = h;
    return lo;
}

static void map3(struct cpu *cpu, const struct simd_args *a)
{
    uint8_t op = a->opcode, imm = a->imm8;
    xmm_reg *d = &cpu->fpu.xmm[reg_of(a)], r = *d, s;
    switch (op) {
    case 0x08: case 0x09: case 0x0a: case 0x0b: roundxx(cpu, a); return;
    case 0x40: case 0x41: dpxx(cpu, a); return;
    case 0x60: case 0x61: case 0x62: case 0x63: pcmpstr(cpu, a); return;
    case 0x14: case 0x15: case 0x16: case 0x17: { /* PEXTRB/W/D, EXTRACTPS */
        uint32_t v;
        unsigned size;
        if (op == 0x14) { v = d->b[imm & 15]; size = 1; }
        else if (op == 0x15) { v = d->w[imm & 7]; size = 2; }
        else { v = d->d[imm & 3]; size = 4; }
        if (!is_mem(a))
            cpu->regs[rm_of(a)] = v;
        else if (size == 1)
            cpu_write8(cpu, a->seg, a->ea, (uint8_t)v);
        else if (size == 2)
            cpu_write16(cpu, a->seg, a->ea, (uint16_t)v);
        else
            cpu_write32(cpu, a->seg, a->ea, v);
        return;
    }
    case 0x20: /* PINSRB */
        r.b[imm & 15] = is_mem(a) ? cpu_read8(cpu, a->seg, a->ea) : (uint8_t)cpu->regs[rm_of(a)];
        *d = r;
        return;
    case 0x22: /* PINSRD */
        r.d[imm & 3] = is_mem(a) ? cpu_read32(cpu, a->seg, a->ea) : cpu->regs[rm_of(a)];
        *d = r;
        return;
    case 0x21: { /* INSERTPS */
        uint32_t v = is_mem(a) ? cpu_read32(cpu, a->seg, a->ea) : cpu->fpu.xmm[rm_of(a)].d[imm >> 6];
        r.d[imm >> 4 & 3] = v;
        for (int k = 0; k < 4; k++)
            if (imm >> k & 1)
                r.d[k] = 0;
        *d = r;
        return;
    }
    }
    s = simd_xmm_src(cpu, a, 16, true);
    switch (op) {
    case 0x0c: for (int k = 0; k < 4; k++) if (imm >> k & 1) r.d[k] = s.d[k]; break;
    case 0x0d: for (int k = 0; k < 2; k++) if (imm >> k & 1) r.q[k] = s.q[k]; break;
    case 0x0e: for (int k = 0; k < 8; k++) if (imm >> k & 1) r.w[k] = s.w[k]; break;
    case 0x42: { /* MPSADBW */
        unsigned doff = (imm >> 2 & 1) * 4, soff = (imm & 3) * 4;
        for (unsigned k = 0; k < 8; k++) {
            unsigned sum = 0;
            for (unsigned j = 0; j < 4; j++) {
                int diff = d->b[doff + k + j] - s.b[soff + j];
                sum += (unsigned)(diff < 0 ? -diff : diff);
            }
            r.w[k] = (uint16_t)sum;
        }
        break;
    }
    case 0x44: /* PCLMULQDQ */
        r.q[0] = clmul(d->q[imm & 1], s.q[imm >> 4 & 1], &r.q[1]);
        break;
    case 0xdf: { /* AESKEYGENASSIST */
        uint32_t x1 = aes_sub_word(s.d[1]), x3 = aes_sub_word(s.d[3]);
        r.d[0] = x1;
        r.d[1] = ((x1 >> 8) | (x1 << 24)) ^ imm;
        r.d[2] = x3;
        r.d[3] = ((x3 >> 8) | (x3 << 24)) ^ imm;
        break;
    }
    default: ud(cpu);
    }
    *d = r;
}

/* ---- Dispatch ---- */

static enum fpu_feature feature_of(uint8_t sf)
{
    switch (sf) {
    case SF_SSSE3: return FEAT_SSSE3;
    case SF_SSE41: return FEAT_SSE41;
    case SF_SSE42: return FEAT_SSE42;
    case SF_AES: return FEAT_AES;
    case SF_PCLMUL: return FEAT_PCLMUL;
    default: return FEAT_SSE2;
    }
}

void sse4_op(struct cpu *cpu, const struct simd_args *a)
{
    const struct simd_op_info *info = opcode_map23_lookup(a->map, a->opcode, a->prefix, is_mem(a));
    if (!info || info->feature == SF_MOVBE || info->feature == SF_ADX)
        ud(cpu);
    if (ssse3_op(a->map, a->opcode)) {
        ssse3(cpu, a);
        return;
    }
    simd_sse_check(cpu, feature_of(info->feature));
    if (a->map == 2)
        map2_xmm(cpu, a, info);
    else
        map3(cpu, a);
}
