/* The opcode table (see opcodes.h).  Names and flag behaviour follow the Intel SDM vol. 2
 * instruction pages and opcode map (appendix A). */
#include "cpu/opcodes.h"

#include "cpu/cpu.h"

#define OSZAPC FLAGS_ARITH
#define SZP (FLAG_SF | FLAG_ZF | FLAG_PF)
#define OSZPC (FLAG_OF | SZP | FLAG_CF)
#define OSZAP (FLAG_OF | SZP | FLAG_AF)
#define CO (FLAG_CF | FLAG_OF)
#define BTF (FLAG_CF | FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF)
#define BTU (FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF)

#define M OA_MODRM
#define E(n, o, a) { n, o, (a), 0, 0, LVL_386, -1 }
#define F(n, o, a, s, u) { n, o, (a), (s), (u), LVL_386, -1 }
#define L(n, o, a, s, u, lvl, bit) { n, o, (a), (s), (u), (lvl), (bit) }
#define ALU(b, n, lk) \
    [b + 0] = F(n, "Eb,Gb", M | lk, OSZAPC, 0), [b + 1] = F(n, "Ev,Gv", M | lk, OSZAPC, 0), \
    [b + 2] = F(n, "Gb,Eb", M, OSZAPC, 0), [b + 3] = F(n, "Gv,Ev", M, OSZAPC, 0), \
    [b + 4] = F(n, "AL,Ib", OA_IB, OSZAPC, 0), [b + 5] = F(n, "eAX,Iz", OA_IZ, OSZAPC, 0)
#define LOGIC(b, n) \
    [b + 0] = F(n, "Eb,Gb", M | OA_LOCK, OSZAPC, FLAG_AF), \
    [b + 1] = F(n, "Ev,Gv", M | OA_LOCK, OSZAPC, FLAG_AF), \
    [b + 2] = F(n, "Gb,Eb", M, OSZAPC, FLAG_AF), [b + 3] = F(n, "Gv,Ev", M, OSZAPC, FLAG_AF), \
    [b + 4] = F(n, "AL,Ib", OA_IB, OSZAPC, FLAG_AF), [b + 5] = F(n, "eAX,Iz", OA_IZ, OSZAPC, FLAG_AF)
#define PFX(n) E(n, "", OA_PREFIX)
#define BR OA_BRANCH
#define PRIV OA_PRIV
#define INV E(NULL, "", OA_INVALID)

static const struct opcode_info map0[256] = {
    ALU(0x00, "add", OA_LOCK), [0x06] = E("push", "ES", 0), [0x07] = E("pop", "ES", PRIV),
    LOGIC(0x08, "or"), [0x0e] = E("push", "CS", 0),
    ALU(0x10, "adc", OA_LOCK), [0x16] = E("push", "SS", 0), [0x17] = E("pop", "SS", PRIV),
    ALU(0x18, "sbb", OA_LOCK), [0x1e] = E("push", "DS", 0), [0x1f] = E("pop", "DS", PRIV),
    LOGIC(0x20, "and"), [0x26] = PFX("es"), [0x27] = F("daa", "", 0, OSZAPC, FLAG_OF),
    ALU(0x28, "sub", OA_LOCK), [0x2e] = PFX("cs"), [0x2f] = F("das", "", 0, OSZAPC, FLAG_OF),
    LOGIC(0x30, "xor"), [0x36] = PFX("ss"), [0x37] = F("aaa", "", 0, OSZAPC, OSZAP & ~FLAG_AF),
    ALU(0x38, "cmp", 0), [0x3e] = PFX("ds"), [0x3f] = F("aas", "", 0, OSZAPC, OSZAP & ~FLAG_AF),
    [0x40 ... 0x47] = F("inc", "Zv", 0, OSZAP, 0),
    [0x48 ... 0x4f] = F("dec", "Zv", 0, OSZAP, 0),
    [0x50 ... 0x57] = E("push", "Zv", 0), [0x58 ... 0x5f] = E("pop", "Zv", 0),
    [0x60] = E("pusha", "", 0), [0x61] = E("popa", "", 0),
    [0x62] = E("bound", "Gv,Ma", M | OA_MEMONLY), [0x63] = F("arpl", "Ew,Gw", M, FLAG_ZF, 0),
    [0x64] = PFX("fs"), [0x65] = PFX("gs"), [0x66] = PFX("data16"), [0x67] = PFX("addr16"),
    [0x68] = E("push", "Iz", OA_IZ), [0x69] = F("imul", "Gv,Ev,Iz", M | OA_IZ, OSZAPC, SZP | FLAG_AF),
    [0x6a] = E("push", "sIb", OA_IB), [0x6b] = F("imul", "Gv,Ev,sIb", M | OA_IB, OSZAPC, SZP | FLAG_AF),
    [0x6c] = E("insb", "", 0), [0x6d] = E("ins", "", 0),
    [0x6e] = E("outsb", "", 0), [0x6f] = E("outs", "", 0),
    [0x70] = E("jo", "Jb", OA_JB), [0x71] = E("jno", "Jb", OA_JB), [0x72] = E("jb", "Jb", OA_JB),
    [0x73] = E("jae", "Jb", OA_JB), [0x74] = E("je", "Jb", OA_JB), [0x75] = E("jne", "Jb", OA_JB),
    [0x76] = E("jbe", "Jb", OA_JB), [0x77] = E("ja", "Jb", OA_JB), [0x78] = E("js", "Jb", OA_JB),
    [0x79] = E("jns", "Jb", OA_JB), [0x7a] = E("jp", "Jb", OA_JB), [0x7b] = E("jnp", "Jb", OA_JB),
    [0x7c] = E("jl", "Jb", OA_JB), [0x7d] = E("jge", "Jb", OA_JB), [0x7e] = E("jle", "Jb", OA_JB),
    [0x7f] = E("jg", "Jb", OA_JB),
    [0x80] = E(NULL, "Eb,Ib", M | OA_IB | OA_GROUP), [0x81] = E(NULL, "Ev,Iz", M | OA_IZ | OA_GROUP),
    [0x82] = E(NULL, "Eb,Ib", M | OA_IB | OA_GROUP), [0x83] = E(NULL, "Ev,sIb", M | OA_IB | OA_GROUP),
    [0x84] = F("test", "Eb,Gb", M, OSZAPC, FLAG_AF), [0x85] = F("test", "Ev,Gv", M, OSZAPC, FLAG_AF),
    [0x86] = E("xchg", "Eb,Gb", M | OA_LOCK), [0x87] = E("xchg", "Ev,Gv", M | OA_LOCK),
    [0x88] = E("mov", "Eb,Gb", M), [0x89] = E("mov", "Ev,Gv", M),
    [0x8a] = E("mov", "Gb,Eb", M), [0x8b] = E("mov", "Gv,Ev", M),
    [0x8c] = E("mov", "Ev,Sw", M), [0x8d] = E("lea", "Gv,M", M | OA_MEMONLY),
    [0x8e] = E("mov", "Sw,Ew", M | PRIV), [0x8f] = E(NULL, "Ev", M | OA_GROUP),
    [0x90] = E("nop", "", 0), [0x91 ... 0x97] = E("xchg", "Zv,eAX", 0),
    [0x98] = E("cbw", "", 0), [0x99] = E("cwd", "", 0),
    [0x9a] = E("lcall", "Ap", OA_AP | BR | PRIV), [0x9b] = E("fwait", "", 0),
    [0x9c] = E("pushf", "", 0), [0x9d] = F("popf", "", PRIV, OSZAPC, 0),
    [0x9e] = F("sahf", "", 0, FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF | FLAG_CF, 0), [0x9f] = E("lahf", "", 0),
    [0xa0] = E("mov", "AL,Ob", OA_MOFFS), [0xa1] = E("mov", "eAX,Ov", OA_MOFFS),
    [0xa2] = E("mov", "Ob,AL", OA_MOFFS), [0xa3] = E("mov", "Ov,eAX", OA_MOFFS),
    [0xa4] = E("movsb", "", 0), [0xa5] = E("movs", "", 0),
    [0xa6] = F("cmpsb", "", 0, OSZAPC, 0), [0xa7] = F("cmps", "", 0, OSZAPC, 0),
    [0xa8] = F("test", "AL,Ib", OA_IB, OSZAPC, FLAG_AF), [0xa9] = F("test", "eAX,Iz", OA_IZ, OSZAPC, FLAG_AF),
    [0xaa] = E("stosb", "", 0), [0xab] = E("stos", "", 0),
    [0xac] = E("lodsb", "", 0), [0xad] = E("lods", "", 0),
    [0xae] = F("scasb", "", 0, OSZAPC, 0), [0xaf] = F("scas", "", 0, OSZAPC, 0),
    [0xb0 ... 0xb7] = E("mov", "Zb,Ib", OA_IB), [0xb8 ... 0xbf] = E("mov", "Zv,Iv", OA_IZ),
    [0xc0] = E(NULL, "Eb,Ib", M | OA_IB | OA_GROUP), [0xc1] = E(NULL, "Ev,Ib", M | OA_IB | OA_GROUP),
    [0xc2] = E("ret", "Iw", OA_IW | BR), [0xc3] = E("ret", "", BR),
    [0xc4] = E("les", "Gv,Mp", M | OA_MEMONLY | PRIV), [0xc5] = E("lds", "Gv,Mp", M | OA_MEMONLY | PRIV),
    [0xc6] = E(NULL, "Eb,Ib", M | OA_IB | OA_GROUP), [0xc7] = E(NULL, "Ev,Iz", M | OA_IZ | OA_GROUP),
    [0xc8] = E("enter", "Iw,Ib", OA_IW | OA_IB), [0xc9] = E("leave", "", 0),
    [0xca] = E("lret", "Iw", OA_IW | BR | PRIV), [0xcb] = E("lret", "", BR | PRIV),
    [0xcc] = E("int3", "", BR | PRIV), [0xcd] = E("int", "Ib", OA_IB | BR | PRIV),
    [0xce] = E("into", "", BR | PRIV), [0xcf] = F("iret", "", BR | PRIV, OSZAPC, 0),
    [0xd0] = E(NULL, "Eb,1", M | OA_GROUP), [0xd1] = E(NULL, "Ev,1", M | OA_GROUP),
    [0xd2] = E(NULL, "Eb,CL", M | OA_GROUP), [0xd3] = E(NULL, "Ev,CL", M | OA_GROUP),
    [0xd4] = F("aam", "Ib", OA_IB, OSZAPC, FLAG_OF | FLAG_AF | FLAG_CF),
    [0xd5] = F("aad", "Ib", OA_IB, OSZAPC, FLAG_OF | FLAG_AF | FLAG_CF),
    [0xd6] = E("salc", "", 0), [0xd7] = E("xlat", "", 0),
    [0xd8 ... 0xdf] = E("fpu", "", M | OA_FPU),
    [0xe0] = E("loopne", "Jb", OA_JB), [0xe1] = E("loope", "Jb", OA_JB),
    [0xe2] = E("loop", "Jb", OA_JB), [0xe3] = E("jcxz", "Jb", OA_JB),
    [0xe4] = E("in", "AL,Ib", OA_IB), [0xe5] = E("in", "eAX,Ib", OA_IB),
    [0xe6] = E("out", "Ib,AL", OA_IB), [0xe7] = E("out", "Ib,eAX", OA_IB),
    [0xe8] = E("call", "Jz", OA_JZ | BR), [0xe9] = E("jmp", "Jz", OA_JZ | BR),
    [0xea] = E("ljmp", "Ap", OA_AP | BR | PRIV), [0xeb] = E("jmp", "Jb", OA_JB | BR),
    [0xec] = E("in", "AL,DX", 0), [0xed] = E("in", "eAX,DX", 0),
    [0xee] = E("out", "DX,AL", 0), [0xef] = E("out", "DX,eAX", 0),
    [0xf0] = PFX("lock"), [0xf1] = E("int1", "", BR | PRIV), [0xf2] = PFX("repne"), [0xf3] = PFX("rep"),
    [0xf4] = E("hlt", "", BR | PRIV), [0xf5] = F("cmc", "", 0, FLAG_CF, 0),
    [0xf6] = E(NULL, "Eb", M | OA_GROUP), [0xf7] = E(NULL, "Ev", M | OA_GROUP),
    [0xf8] = F("clc", "", 0, FLAG_CF, 0), [0xf9] = F("stc", "", 0, FLAG_CF, 0),
    [0xfa] = E("cli", "", 0), [0xfb] = E("sti", "", PRIV),
    [0xfc] = E("cld", "", 0), [0xfd] = E("std", "", 0),
    [0xfe] = E(NULL, "Eb", M | OA_GROUP), [0xff] = E(NULL, "Ev", M | OA_GROUP),
};

#define P5(n, o, a, s, u, bit) L(n, o, a, s, u, LVL_P5, bit)
#define I486(n, o, a, s, u) L(n, o, a, s, u, LVL_486, -1)

static const struct opcode_info map1[256] = {
    [0x00] = E(NULL, "Ew", M | OA_GROUP), [0x01] = E(NULL, "M", M | OA_GROUP),
    [0x02] = F("lar", "Gv,Ew", M | PRIV, FLAG_ZF, 0), [0x03] = F("lsl", "Gv,Ew", M | PRIV, FLAG_ZF, 0),
    [0x06] = E("clts", "", PRIV), [0x08] = I486("invd", "", PRIV, 0, 0), [0x09] = I486("wbinvd", "", PRIV, 0, 0),
    [0x0b] = E("ud2", "", 0),
    [0x18 ... 0x1f] = L("nop", "Ev", M, 0, 0, LVL_P6, -1),
    [0x20] = F("mov", "Rd,Cd", M | PRIV, OSZAPC, OSZAPC), [0x21] = F("mov", "Rd,Dd", M | PRIV, OSZAPC, OSZAPC),
    [0x22] = F("mov", "Cd,Rd", M | PRIV, OSZAPC, OSZAPC), [0x23] = F("mov", "Dd,Rd", M | PRIV, OSZAPC, OSZAPC),
    [0x30] = P5("wrmsr", "", PRIV, 0, 0, 5), [0x31] = P5("rdtsc", "", 0, 0, 0, 4),
    [0x32] = P5("rdmsr", "", PRIV, 0, 0, 5), [0x33] = L("rdpmc", "", 0, 0, 0, LVL_P6, -1),
    [0x34] = L("sysenter", "", BR | PRIV, 0, 0, LVL_P6, 11), [0x35] = L("sysexit", "", BR | PRIV, 0, 0, LVL_P6, 11),
    [0x40] = L("cmovo", "Gv,Ev", M, 0, 0, LVL_P6, 15), [0x41] = L("cmovno", "Gv,Ev", M, 0, 0, LVL_P6, 15),
    [0x42] = L("cmovb", "Gv,Ev", M, 0, 0, LVL_P6, 15), [0x43] = L("cmovae", "Gv,Ev", M, 0, 0, LVL_P6, 15),
    [0x44] = L("cmove", "Gv,Ev", M, 0, 0, LVL_P6, 15), [0x45] = L("cmovne", "Gv,Ev", M, 0, 0, LVL_P6, 15),
    [0x46] = L("cmovbe", "Gv,Ev", M, 0, 0, LVL_P6, 15), [0x47] = L("cmova", "Gv,Ev", M, 0, 0, LVL_P6, 15),
    [0x48] = L("cmovs", "Gv,Ev", M, 0, 0, LVL_P6, 15), [0x49] = L("cmovns", "Gv,Ev", M, 0, 0, LVL_P6, 15),
    [0x4a] = L("cmovp", "Gv,Ev", M, 0, 0, LVL_P6, 15), [0x4b] = L("cmovnp", "Gv,Ev", M, 0, 0, LVL_P6, 15),
    [0x4c] = L("cmovl", "Gv,Ev", M, 0, 0, LVL_P6, 15), [0x4d] = L("cmovge", "Gv,Ev", M, 0, 0, LVL_P6, 15),
    [0x4e] = L("cmovle", "Gv,Ev", M, 0, 0, LVL_P6, 15), [0x4f] = L("cmovg", "Gv,Ev", M, 0, 0, LVL_P6, 15),
    [0x80] = E("jo", "Jz", OA_JZ), [0x81] = E("jno", "Jz", OA_JZ), [0x82] = E("jb", "Jz", OA_JZ),
    [0x83] = E("jae", "Jz", OA_JZ), [0x84] = E("je", "Jz", OA_JZ), [0x85] = E("jne", "Jz", OA_JZ),
    [0x86] = E("jbe", "Jz", OA_JZ), [0x87] = E("ja", "Jz", OA_JZ), [0x88] = E("js", "Jz", OA_JZ),
    [0x89] = E("jns", "Jz", OA_JZ), [0x8a] = E("jp", "Jz", OA_JZ), [0x8b] = E("jnp", "Jz", OA_JZ),
    [0x8c] = E("jl", "Jz", OA_JZ), [0x8d] = E("jge", "Jz", OA_JZ), [0x8e] = E("jle", "Jz", OA_JZ),
    [0x8f] = E("jg", "Jz", OA_JZ),
    [0x90] = E("seto", "Eb", M), [0x91] = E("setno", "Eb", M), [0x92] = E("setb", "Eb", M),
    [0x93] = E("setae", "Eb", M), [0x94] = E("sete", "Eb", M), [0x95] = E("setne", "Eb", M),
    [0x96] = E("setbe", "Eb", M), [0x97] = E("seta", "Eb", M), [0x98] = E("sets", "Eb", M),
    [0x99] = E("setns", "Eb", M), [0x9a] = E("setp", "Eb", M), [0x9b] = E("setnp", "Eb", M),
    [0x9c] = E("setl", "Eb", M), [0x9d] = E("setge", "Eb", M), [0x9e] = E("setle", "Eb", M),
    [0x9f] = E("setg", "Eb", M),
    [0xa0] = E("push", "FS", 0), [0xa1] = E("pop", "FS", PRIV), [0xa2] = P5("cpuid", "", 0, 0, 0, -1),
    [0xa3] = F("bt", "Ev,Gv", M, BTF, BTU), [0xa4] = F("shld", "Ev,Gv,Ib", M | OA_IB, OSZAPC, FLAG_AF),
    [0xa5] = F("shld", "Ev,Gv,CL", M, OSZAPC, FLAG_AF),
    [0xa8] = E("push", "GS", 0), [0xa9] = E("pop", "GS", PRIV), [0xaa] = E("rsm", "", OA_INVALID),
    [0xab] = F("bts", "Ev,Gv", M | OA_LOCK, BTF, BTU), [0xac] = F("shrd", "Ev,Gv,Ib", M | OA_IB, OSZAPC, FLAG_AF),
    [0xad] = F("shrd", "Ev,Gv,CL", M, OSZAPC, FLAG_AF),
    [0xaf] = F("imul", "Gv,Ev", M, OSZAPC, SZP | FLAG_AF),
    [0xb0] = I486("cmpxchg", "Eb,Gb", M | OA_LOCK, OSZAPC, 0), [0xb1] = I486("cmpxchg", "Ev,Gv", M | OA_LOCK, OSZAPC, 0),
    [0xb2] = E("lss", "Gv,Mp", M | OA_MEMONLY | PRIV), [0xb3] = F("btr", "Ev,Gv", M | OA_LOCK, BTF, BTU),
    [0xb4] = E("lfs", "Gv,Mp", M | OA_MEMONLY | PRIV), [0xb5] = E("lgs", "Gv,Mp", M | OA_MEMONLY | PRIV),
    [0xb6] = E("movzx", "Gv,Eb", M), [0xb7] = E("movzx", "Gv,Ew", M),
    [0xb9] = E("ud1", "", M | OA_INVALID),
    [0xba] = E(NULL, "Ev,Ib", M | OA_IB | OA_GROUP), [0xbb] = F("btc", "Ev,Gv", M | OA_LOCK, BTF, BTU),
    [0xbc] = F("bsf", "Gv,Ev", M, OSZAPC, OSZAPC & ~FLAG_ZF), [0xbd] = F("bsr", "Gv,Ev", M, OSZAPC, OSZAPC & ~FLAG_ZF),
    [0xbe] = E("movsx", "Gv,Eb", M), [0xbf] = E("movsx", "Gv,Ew", M),
    [0xc0] = I486("xadd", "Eb,Gb", M | OA_LOCK, OSZAPC, 0), [0xc1] = I486("xadd", "Ev,Gv", M | OA_LOCK, OSZAPC, 0),
    [0xc7] = E(NULL, "M", M | OA_GROUP),
    [0xc8 ... 0xcf] = I486("bswap", "Zd", 0, 0, 0),
};

/* Group tables, indexed by ModRM.reg. */
static const struct opcode_info grp1[8] = {
    F("add", NULL, OA_LOCK, OSZAPC, 0), F("or", NULL, OA_LOCK, OSZAPC, FLAG_AF),
    F("adc", NULL, OA_LOCK, OSZAPC, 0), F("sbb", NULL, OA_LOCK, OSZAPC, 0),
    F("and", NULL, OA_LOCK, OSZAPC, FLAG_AF), F("sub", NULL, OA_LOCK, OSZAPC, 0),
    F("xor", NULL, OA_LOCK, OSZAPC, FLAG_AF), F("cmp", NULL, 0, OSZAPC, 0),
};
/* Rotates: OF is undefined for counts other than 1 (refined in opcode_undef_flags). */
static const struct opcode_info grp2[8] = {
    F("rol", NULL, 0, CO, 0), F("ror", NULL, 0, CO, 0), F("rcl", NULL, 0, CO, 0),
    F("rcr", NULL, 0, CO, 0), F("shl", NULL, 0, OSZAPC, FLAG_AF), F("shr", NULL, 0, OSZAPC, FLAG_AF),
    F("sal", NULL, 0, OSZAPC, FLAG_AF), F("sar", NULL, 0, OSZAPC, FLAG_AF),
};
static const struct opcode_info grp3[8] = {
    F("test", "*,I", 0, OSZAPC, FLAG_AF), F("test", "*,I", 0, OSZAPC, FLAG_AF),
    E("not", NULL, OA_LOCK), F("neg", NULL, OA_LOCK, OSZAPC, 0),
    F("mul", NULL, 0, OSZAPC, SZP | FLAG_AF), F("imul", NULL, 0, OSZAPC, SZP | FLAG_AF),
    F("div", NULL, 0, OSZAPC, OSZAPC), F("idiv", NULL, 0, OSZAPC, OSZAPC),
};
static const struct opcode_info grp4[8] = {
    F("inc", NULL, OA_LOCK, OSZAP, 0), F("dec", NULL, OA_LOCK, OSZAP, 0),
    INV, INV, INV, INV, INV, INV,
};
static const struct opcode_info grp5[8] = {
    F("inc", NULL, OA_LOCK, OSZAP, 0), F("dec", NULL, OA_LOCK, OSZAP, 0),
    E("call", NULL, BR), E("lcall", "Mp", BR | PRIV | OA_MEMONLY), E("jmp", NULL, BR),
    E("ljmp", "Mp", BR | PRIV | OA_MEMONLY), E("push", NULL, 0), INV,
};
static const struct opcode_info grp1a[8] = { E("pop", NULL, 0), INV, INV, INV, INV, INV, INV, INV };
static const struct opcode_info grp11[8] = { E("mov", NULL, 0), INV, INV, INV, INV, INV, INV, INV };
static const struct opcode_info grp6[8] = {
    E("sldt", NULL, 0), E("str", NULL, 0), E("lldt", NULL, PRIV), E("ltr", NULL, PRIV),
    F("verr", NULL, 0, FLAG_ZF, 0), F("verw", NULL, 0, FLAG_ZF, 0), INV, INV,
};
static const struct opcode_info grp7[8] = {
    E("sgdt", "M", OA_MEMONLY), E("sidt", "M", OA_MEMONLY), E("lgdt", "M", OA_MEMONLY | PRIV),
    E("lidt", "M", OA_MEMONLY | PRIV), E("smsw", "Ew", 0), INV, E("lmsw", "Ew", PRIV),
    I486("invlpg", "M", OA_MEMONLY | PRIV, 0, 0),
};
static const struct opcode_info grp8[8] = {
    INV, INV, INV, INV, F("bt", NULL, 0, BTF, BTU), F("bts", NULL, OA_LOCK, BTF, BTU),
    F("btr", NULL, OA_LOCK, BTF, BTU), F("btc", NULL, OA_LOCK, BTF, BTU),
};
static const struct opcode_info grp9[8] = {
    INV, P5("cmpxchg8b", "Mq", OA_LOCK | OA_MEMONLY, FLAG_ZF, 0, 8), INV, INV, INV, INV, INV, INV,
};

static const struct opcode_info invalid_entry = INV;

static const struct opcode_info *group_of(int map, uint8_t op)
{
    if (map == 0) {
        switch (op) {
        case 0x80: case 0x81: case 0x82: case 0x83: return grp1;
        case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: return grp2;
        case 0xf6: case 0xf7: return grp3;
        case 0xfe: return grp4;
        case 0xff: return grp5;
        case 0x8f: return grp1a;
        case 0xc6: case 0xc7: return grp11;
        }
    } else {
        switch (op) {
        case 0x00: return grp6;
        case 0x01: return grp7;
        case 0xba: return grp8;
        case 0xc7: return grp9;
        }
    }
    return NULL;
}

const struct opcode_info *opcode_lookup(int map, uint8_t opcode, int reg)
{
    const struct opcode_info *e = map == 0 ? &map0[opcode] : &map1[opcode];
    if (!e->name && !(e->attr & OA_GROUP))
        return &invalid_entry;
    if ((e->attr & OA_GROUP) && reg >= 0) {
        const struct opcode_info *g = group_of(map, opcode);
        return g ? &g[reg & 7] : &invalid_entry;
    }
    return e;
}

uint32_t opcode_undef_flags(int map, uint8_t opcode, int reg, unsigned count)
{
    const struct opcode_info *e = opcode_lookup(map, opcode, reg);
    uint32_t undef = e->flags_undef;
    bool shift = map == 0 && (opcode == 0xc0 || opcode == 0xc1 || (opcode >= 0xd0 && opcode <= 0xd3));
    bool dshift = map == 1 && (opcode == 0xa4 || opcode == 0xa5 || opcode == 0xac || opcode == 0xad);
    if (shift || dshift) {
        if (count == 0)
            return 0;                       /* count 0: no flag changes */
        if (count != 1)
            undef |= FLAG_OF;
    }
    return undef;
}
