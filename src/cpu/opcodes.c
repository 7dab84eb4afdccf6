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
#define E(n, o, a) { n, o, (a), 0, 0, LVL_386, -1, OX_NONE }
#define F(n, o, a, s, u) { n, o, (a), (s), (u), LVL_386, -1, OX_NONE }
#define L(n, o, a, s, u, lvl, bit) { n, o, (a), (s), (u), (lvl), (bit), OX_NONE }
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
    ALU(0x00, "add", OA_LOCK), [0x06] = E("push", "ES", OA_PUSH_SREG), [0x07] = E("pop", "ES", PRIV),
    LOGIC(0x08, "or"), [0x0e] = E("push", "CS", OA_PUSH_SREG),
    ALU(0x10, "adc", OA_LOCK), [0x16] = E("push", "SS", OA_PUSH_SREG), [0x17] = E("pop", "SS", PRIV),
    ALU(0x18, "sbb", OA_LOCK), [0x1e] = E("push", "DS", OA_PUSH_SREG), [0x1f] = E("pop", "DS", PRIV),
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
    [0x9a] = E("call", "Ap", OA_AP | BR | PRIV), [0x9b] = E("fwait", "", 0),
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
    [0xca] = E("retf", "Iw", OA_IW | BR | PRIV), [0xcb] = E("retf", "", BR | PRIV),
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
    [0xea] = E("jmp", "Ap", OA_AP | BR | PRIV), [0xeb] = E("jmp", "Jb", OA_JB | BR),
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
    [0x05] = E("syscall", "", BR | PRIV), [0x06] = E("clts", "", PRIV), [0x07] = E("sysret", "", BR | PRIV), [0x08] = I486("invd", "", PRIV, 0, 0), [0x09] = I486("wbinvd", "", PRIV, 0, 0),
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
    [0xa0] = E("push", "FS", OA_PUSH_SREG), [0xa1] = E("pop", "FS", PRIV), [0xa2] = P5("cpuid", "", 0, 0, 0, -1),
    [0xa3] = F("bt", "Ev,Gv", M, BTF, BTU), [0xa4] = F("shld", "Ev,Gv,Ib", M | OA_IB | OA_UNDEF_COUNT, OSZAPC, FLAG_AF),
    [0xa5] = F("shld", "Ev,Gv,CL", M | OA_UNDEF_COUNT, OSZAPC, FLAG_AF),
    [0xa8] = E("push", "GS", OA_PUSH_SREG), [0xa9] = E("pop", "GS", PRIV), [0xaa] = E("rsm", "", OA_INVALID),
    [0xab] = F("bts", "Ev,Gv", M | OA_LOCK, BTF, BTU), [0xac] = F("shrd", "Ev,Gv,Ib", M | OA_IB | OA_UNDEF_COUNT, OSZAPC, FLAG_AF),
    [0xad] = F("shrd", "Ev,Gv,CL", M | OA_UNDEF_COUNT, OSZAPC, FLAG_AF),
    [0xaf] = F("imul", "Gv,Ev", M, OSZAPC, SZP | FLAG_AF),
    [0xb0] = I486("cmpxchg", "Eb,Gb", M | OA_LOCK, OSZAPC, 0), [0xb1] = I486("cmpxchg", "Ev,Gv", M | OA_LOCK, OSZAPC, 0),
    [0xb2] = E("lss", "Gv,Mp", M | OA_MEMONLY | PRIV), [0xb3] = F("btr", "Ev,Gv", M | OA_LOCK, BTF, BTU),
    [0xb4] = E("lfs", "Gv,Mp", M | OA_MEMONLY | PRIV), [0xb5] = E("lgs", "Gv,Mp", M | OA_MEMONLY | PRIV),
    [0xb6] = E("movzx", "Gv,Eb", M), [0xb7] = E("movzx", "Gv,Ew", M),
    [0xb9] = E("ud1", "", M | OA_INVALID),
    [0xba] = E(NULL, "Ev,Ib", M | OA_IB | OA_GROUP), [0xbb] = F("btc", "Ev,Gv", M | OA_LOCK, BTF, BTU),
    [0xbc] = F("bsf", "Gv,Ev", M | OA_UNDEF_SRC0, OSZAPC, OSZAPC & ~FLAG_ZF), [0xbd] = F("bsr", "Gv,Ev", M | OA_UNDEF_SRC0, OSZAPC, OSZAPC & ~FLAG_ZF),
    [0xbe] = E("movsx", "Gv,Eb", M), [0xbf] = E("movsx", "Gv,Ew", M),
    [0xc0] = I486("xadd", "Eb,Gb", M | OA_LOCK, OSZAPC, 0), [0xc1] = I486("xadd", "Ev,Gv", M | OA_LOCK, OSZAPC, 0),
    [0xc7] = E(NULL, "M", M | OA_GROUP),
    [0xc8 ... 0xcf] = I486("bswap", "Zv", OA_UNDEF_OP16, 0, 0),
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
/* Group 3 (F6 byte, F7 word/dword): TEST /0 and its alias /1 take an immediate. */
#define GRP3_REST \
    E("not", NULL, OA_LOCK), F("neg", NULL, OA_LOCK, OSZAPC, 0), \
    F("mul", NULL, 0, OSZAPC, SZP | FLAG_AF), F("imul", NULL, 0, OSZAPC, SZP | FLAG_AF), \
    F("div", NULL, 0, OSZAPC, OSZAPC), F("idiv", NULL, 0, OSZAPC, OSZAPC)
static const struct opcode_info grp3b[8] = {
    F("test", "Eb,Ib", OA_IB, OSZAPC, FLAG_AF), F("test", "Eb,Ib", OA_IB, OSZAPC, FLAG_AF), GRP3_REST,
};
static const struct opcode_info grp3v[8] = {
    F("test", "Ev,Iz", OA_IZ, OSZAPC, FLAG_AF), F("test", "Ev,Iz", OA_IZ, OSZAPC, FLAG_AF), GRP3_REST,
};
static const struct opcode_info grp4[8] = {
    F("inc", NULL, OA_LOCK, OSZAP, 0), F("dec", NULL, OA_LOCK, OSZAP, 0),
    INV, INV, INV, INV, INV, INV,
};
static const struct opcode_info grp5[8] = {
    F("inc", NULL, OA_LOCK, OSZAP, 0), F("dec", NULL, OA_LOCK, OSZAP, 0),
    E("call", NULL, BR), E("call", "Mp", BR | PRIV | OA_MEMONLY), E("jmp", NULL, BR),
    E("jmp", "Mp", BR | PRIV | OA_MEMONLY), E("push", NULL, 0), INV,
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
    I486("invlpg", "Mb", OA_MEMONLY | PRIV, 0, 0),
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
        case 0xf6: return grp3b;
        case 0xf7: return grp3v;
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

/* F3 0F forms: POPCNT clears OF SF AF CF PF and sets ZF for a zero source; LZCNT/TZCNT set
 * CF for a zero source and ZF for a zero result, OF SF AF PF undefined (SDM vol. 2). */
static const struct opcode_info f3_popcnt = { "popcnt", "Gv,Ev", OA_MODRM, OSZAPC, 0, LVL_P6, -1, OX_POPCNT };
static const struct opcode_info f3_tzcnt = { "tzcnt", "Gv,Ev", OA_MODRM, OSZAPC, FLAG_SF | FLAG_PF | FLAG_OF | FLAG_AF, LVL_P6, -1, OX_BMI1 };
static const struct opcode_info f3_lzcnt = { "lzcnt", "Gv,Ev", OA_MODRM, OSZAPC, FLAG_SF | FLAG_PF | FLAG_OF | FLAG_AF, LVL_P6, -1, OX_LZCNT };

const struct opcode_info *opcode_lookup_f3(int map, uint8_t opcode)
{
    if (map != 1)
        return NULL;
    return opcode == 0xb8 ? &f3_popcnt : opcode == 0xbc ? &f3_tzcnt : opcode == 0xbd ? &f3_lzcnt : NULL;
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

/* ---- Operand-size and input dependent undefinedness ---- */

static bool is_shift(int map, uint8_t op)
{
    return map == 0 && (op == 0xc0 || op == 0xc1 || (op >= 0xd0 && op <= 0xd3));
}

uint32_t opcode_undef_flags_sized(int map, uint8_t opcode, int reg, unsigned count,
                                  unsigned opsize)
{
    uint32_t undef = opcode_undef_flags(map, opcode, reg, count);
    if (count == 0 || !opsize)
        return undef;
    const struct opcode_info *e = opcode_lookup(map, opcode, reg);
    /* SHL/SHR/SAL: "CF is undefined for SHL and SHR where the count is greater than or
     * equal to the size (in bits) of the destination operand" (SDM vol. 2 SAL/SAR/SHL/SHR). */
    if (is_shift(map, opcode) && (reg == 4 || reg == 5 || reg == 6) && count >= opsize)
        undef |= FLAG_CF;
    /* SHLD/SHRD: count greater than the operand size leaves result and flags undefined. */
    if ((e->attr & OA_UNDEF_COUNT) && count > opsize)
        undef |= e->flags_set;
    return undef;
}

bool opcode_result_undefined(int map, uint8_t opcode, int reg, unsigned count, unsigned opsize,
                             bool source_zero)
{
    const struct opcode_info *e = opcode_lookup(map, opcode, reg);
    if ((e->attr & OA_UNDEF_SRC0) && source_zero)
        return true;
    if ((e->attr & OA_UNDEF_COUNT) && opsize && count > opsize)
        return true;
    return (e->attr & OA_UNDEF_OP16) && opsize == 16;
}

/* ---- x87 ---- */

/* Condition-bit masks from each instruction's "FPU Flags Affected" (SDM vol. 2):
 * ARITH: C1 defined (stack fault / rounding), C0 C2 C3 undefined;
 * TRIG:  FPTAN/FSIN/FCOS/FSINCOS also define C2 (operand out of range);
 * ALLU:  C0-C3 all undefined (FLDCW, FSTCW, FSTSW, FSTENV, FCLEX, FFREE, FNOP);
 * 0:     all defined (compares, FXAM, FPREM, loads of the whole state, FINIT). */
#define X_ARITH (FSW_C0 | FSW_C2 | FSW_C3)
#define X_TRIG (FSW_C0 | FSW_C3)
#define X_ALLU (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)
#define XM(n, m, u) { n, X87F_MEM, X87M_##m, u, LVL_386, -1, -1 }
#define XM3(n, m, u) { n, X87F_MEM, X87M_##m, u, LVL_386, -1, 0 }  /* FISTTP: SSE3 */
#define XR(n, f, u) { n, X87F_##f, X87M_NONE, u, LVL_386, -1, -1 }
#define XC(n, f, u) { n, X87F_##f, X87M_NONE, u, LVL_P6, 15, -1 }  /* FCMOVcc, FCOMI: P6+CMOV */
#define XBAD { NULL, X87F_NONE, X87M_NONE, X_ALLU, LVL_386, -1, -1 }

static const struct x87_op_info x87_mem_ops[8][8] = {
    { XM("fadd", F32, X_ARITH), XM("fmul", F32, X_ARITH), XM("fcom", F32, 0), XM("fcomp", F32, 0),
      XM("fsub", F32, X_ARITH), XM("fsubr", F32, X_ARITH), XM("fdiv", F32, X_ARITH), XM("fdivr", F32, X_ARITH) },
    { XM("fld", F32, X_ARITH), XBAD, XM("fst", F32, X_ARITH), XM("fstp", F32, X_ARITH),
      XM("fldenv", ENV, 0), XM("fldcw", CW, X_ALLU), XM("fnstenv", ENV, X_ALLU), XM("fnstcw", CW, X_ALLU) },
    { XM("fiadd", I32, X_ARITH), XM("fimul", I32, X_ARITH), XM("ficom", I32, 0), XM("ficomp", I32, 0),
      XM("fisub", I32, X_ARITH), XM("fisubr", I32, X_ARITH), XM("fidiv", I32, X_ARITH), XM("fidivr", I32, X_ARITH) },
    { XM("fild", I32, X_ARITH), XM3("fisttp", I32, X_ARITH), XM("fist", I32, X_ARITH), XM("fistp", I32, X_ARITH),
      XBAD, XM("fld", F80, X_ARITH), XBAD, XM("fstp", F80, X_ARITH) },
    { XM("fadd", F64, X_ARITH), XM("fmul", F64, X_ARITH), XM("fcom", F64, 0), XM("fcomp", F64, 0),
      XM("fsub", F64, X_ARITH), XM("fsubr", F64, X_ARITH), XM("fdiv", F64, X_ARITH), XM("fdivr", F64, X_ARITH) },
    { XM("fld", F64, X_ARITH), XM3("fisttp", I64, X_ARITH), XM("fst", F64, X_ARITH), XM("fstp", F64, X_ARITH),
      XM("frstor", SAVE, 0), XBAD, XM("fnsave", SAVE, 0), XM("fnstsw", SW, X_ALLU) },
    { XM("fiadd", I16, X_ARITH), XM("fimul", I16, X_ARITH), XM("ficom", I16, 0), XM("ficomp", I16, 0),
      XM("fisub", I16, X_ARITH), XM("fisubr", I16, X_ARITH), XM("fidiv", I16, X_ARITH), XM("fidivr", I16, X_ARITH) },
    { XM("fild", I16, X_ARITH), XM3("fisttp", I16, X_ARITH), XM("fist", I16, X_ARITH), XM("fistp", I16, X_ARITH),
      XM("fbld", BCD, X_ARITH), XM("fild", I64, X_ARITH), XM("fbstp", BCD, X_ARITH), XM("fistp", I64, X_ARITH) },
};

/* Register forms by escape and ModRM.reg; entries with a NULL name and form X87F_NONE are
 * resolved per ModRM.rm in x87_special. Names with a digit are the undocumented aliases
 * (fstp1, fxch4, fcom2...) that behave like the documented instruction. */
#define XSPECIAL { NULL, X87F_NONE, X87M_NONE, 0, LVL_386, -1, -1 }
static const struct x87_op_info x87_reg_ops[8][8] = {
    { XR("fadd", ST0_STI, X_ARITH), XR("fmul", ST0_STI, X_ARITH), XR("fcom", STI, 0), XR("fcomp", STI, 0),
      XR("fsub", ST0_STI, X_ARITH), XR("fsubr", ST0_STI, X_ARITH), XR("fdiv", ST0_STI, X_ARITH), XR("fdivr", ST0_STI, X_ARITH) },
    { XR("fld", STI, X_ARITH), XR("fxch", STI, X_ARITH), XSPECIAL, XR("fstp1", STI, X_ARITH),
      XSPECIAL, XSPECIAL, XSPECIAL, XSPECIAL },
    { XC("fcmovb", ST0_STI, X_ARITH), XC("fcmove", ST0_STI, X_ARITH), XC("fcmovbe", ST0_STI, X_ARITH),
      XC("fcmovu", ST0_STI, X_ARITH), XBAD, XSPECIAL, XBAD, XBAD },
    { XC("fcmovnb", ST0_STI, X_ARITH), XC("fcmovne", ST0_STI, X_ARITH), XC("fcmovnbe", ST0_STI, X_ARITH),
      XC("fcmovnu", ST0_STI, X_ARITH), XSPECIAL, XC("fucomi", ST0_STI, 0), XC("fcomi", ST0_STI, 0), XBAD },
    { XR("fadd", STI_ST0, X_ARITH), XR("fmul", STI_ST0, X_ARITH), XR("fcom2", STI, 0), XR("fcomp3", STI, 0),
      XR("fsubr", STI_ST0, X_ARITH), XR("fsub", STI_ST0, X_ARITH), XR("fdivr", STI_ST0, X_ARITH), XR("fdiv", STI_ST0, X_ARITH) },
    { XR("ffree", STI, X_ALLU), XR("fxch4", STI, X_ARITH), XR("fst", STI, X_ARITH), XR("fstp", STI, X_ARITH),
      XR("fucom", STI, 0), XR("fucomp", STI, 0), XBAD, XBAD },
    { XR("faddp", STI_ST0, X_ARITH), XR("fmulp", STI_ST0, X_ARITH), XR("fcomp5", STI, 0), XSPECIAL,
      XR("fsubrp", STI_ST0, X_ARITH), XR("fsubp", STI_ST0, X_ARITH), XR("fdivrp", STI_ST0, X_ARITH), XR("fdivp", STI_ST0, X_ARITH) },
    /* FFREEP (DF C0+i) is undocumented by Intel but present on every P6 (frees, then pops). */
    { XR("ffreep", STI, X_ALLU), XR("fxch7", STI, X_ARITH), XR("fstp8", STI, X_ARITH), XR("fstp9", STI, X_ARITH),
      XSPECIAL, XC("fucomip", ST0_STI, 0), XC("fcomip", ST0_STI, 0), XBAD },
};

/* D9 E0-FF: one operation per ModRM byte. */
static const struct x87_op_info x87_d9_e0[32] = {
    XR("fchs", NONE, X_ARITH), XR("fabs", NONE, X_ARITH), XBAD, XBAD,
    XR("ftst", NONE, 0), XR("fxam", NONE, 0), XBAD, XBAD,
    XR("fld1", NONE, X_ARITH), XR("fldl2t", NONE, X_ARITH), XR("fldl2e", NONE, X_ARITH),
    XR("fldpi", NONE, X_ARITH), XR("fldlg2", NONE, X_ARITH), XR("fldln2", NONE, X_ARITH),
    XR("fldz", NONE, X_ARITH), XBAD,
    XR("f2xm1", NONE, X_ARITH), XR("fyl2x", NONE, X_ARITH), XR("fptan", NONE, X_TRIG),
    XR("fpatan", NONE, X_ARITH), XR("fxtract", NONE, X_ARITH), XR("fprem1", NONE, 0),
    XR("fdecstp", NONE, X_ARITH), XR("fincstp", NONE, X_ARITH),
    XR("fprem", NONE, 0), XR("fyl2xp1", NONE, X_ARITH), XR("fsqrt", NONE, X_ARITH),
    XR("fsincos", NONE, X_TRIG), XR("frndint", NONE, X_ARITH), XR("fscale", NONE, X_ARITH),
    XR("fsin", NONE, X_TRIG), XR("fcos", NONE, X_TRIG),
};
/* DB E0-E7: FENI/FDISI/FSETPM are no-ops since the 80387 (like FNOP). */
static const struct x87_op_info x87_db_e0[8] = {
    XR("fneni", NONE, X_ALLU), XR("fndisi", NONE, X_ALLU), XR("fnclex", NONE, X_ALLU),
    XR("fninit", NONE, 0), XR("fnsetpm", NONE, X_ALLU), XBAD, XBAD, XBAD,
};
static const struct x87_op_info x87_fnop = XR("fnop", NONE, X_ALLU);
static const struct x87_op_info x87_fucompp = XR("fucompp", NONE, 0);
static const struct x87_op_info x87_fcompp = XR("fcompp", NONE, 0);
static const struct x87_op_info x87_fnstsw_ax = XR("fnstsw", AX, X_ALLU);
static const struct x87_op_info x87_bad = XBAD;

const struct x87_op_info *opcode_x87_lookup(uint8_t escape, uint8_t modrm)
{
    unsigned esc = (escape - 0xd8u) & 7, reg = (modrm >> 3) & 7;
    if (modrm < 0xc0)
        return &x87_mem_ops[esc][reg];
    const struct x87_op_info *e = &x87_reg_ops[esc][reg];
    if (e->name || e->form != X87F_NONE || e->fsw_undef)
        return e;
    switch (esc << 8 | reg) {
    case 0x102: return modrm == 0xd0 ? &x87_fnop : &x87_bad;
    case 0x104: case 0x105: case 0x106: case 0x107: return &x87_d9_e0[modrm - 0xe0];
    case 0x205: return modrm == 0xe9 ? &x87_fucompp : &x87_bad;
    case 0x304: return &x87_db_e0[modrm & 7];
    case 0x603: return modrm == 0xd9 ? &x87_fcompp : &x87_bad;
    case 0x704: return modrm == 0xe0 ? &x87_fnstsw_ax : &x87_bad;
    }
    return &x87_bad;
}

unsigned x87_mem_size(enum x87_mem kind, bool op32)
{
    static const uint8_t size[] = { 0, 4, 8, 10, 2, 4, 8, 10, 0, 0, 2, 2 };
    if (kind == X87M_ENV)
        return op32 ? 28 : 14;
    if (kind == X87M_SAVE)
        return op32 ? 108 : 94;
    return (unsigned)kind < sizeof(size) ? size[kind] : 0;
}
/* MMX/SSE/SSE2/SSE3 forms of the 0F map, sorted by opcode, prefix, reg (SDM vol. 2 opcode
 * map tables ). Generated once from a list and kept as data. */
struct simd_row { uint8_t opcode, prefix; int8_t reg; struct simd_op_info info; };
static const struct simd_row simd_rows[] = {
    { 0x10, 0x00, -1, { "movups", "Vx,Wx", 0, SF_SSE } },
    { 0x10, 0x66, -1, { "movupd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x10, 0xf2, -1, { "movsd", "Vx,Wq", 0, SF_SSE2 } },
    { 0x10, 0xf3, -1, { "movss", "Vx,Wd", 0, SF_SSE } },
    { 0x11, 0x00, -1, { "movups", "Wx,Vx", 0, SF_SSE } },
    { 0x11, 0x66, -1, { "movupd", "Wx,Vx", 0, SF_SSE2 } },
    { 0x11, 0xf2, -1, { "movsd", "Wq,Vx", 0, SF_SSE2 } },
    { 0x11, 0xf3, -1, { "movss", "Wd,Vx", 0, SF_SSE } },
    { 0x12, 0x00, -1, { "movlps", "Vx,Mq", SA_MEMONLY, SF_SSE } },
    { 0x12, 0x00, -1, { "movhlps", "Vx,Ux", SA_REGONLY, SF_SSE } },
    { 0x12, 0x66, -1, { "movlpd", "Vx,Mq", SA_MEMONLY, SF_SSE2 } },
    { 0x12, 0xf2, -1, { "movddup", "Vx,Wq", 0, SF_SSE3 } },
    { 0x12, 0xf3, -1, { "movsldup", "Vx,Wx", 0, SF_SSE3 } },
    { 0x13, 0x00, -1, { "movlps", "Mq,Vx", SA_MEMONLY, SF_SSE } },
    { 0x13, 0x66, -1, { "movlpd", "Mq,Vx", SA_MEMONLY, SF_SSE2 } },
    { 0x14, 0x00, -1, { "unpcklps", "Vx,Wx", 0, SF_SSE } },
    { 0x14, 0x66, -1, { "unpcklpd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x15, 0x00, -1, { "unpckhps", "Vx,Wx", 0, SF_SSE } },
    { 0x15, 0x66, -1, { "unpckhpd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x16, 0x00, -1, { "movhps", "Vx,Mq", SA_MEMONLY, SF_SSE } },
    { 0x16, 0x00, -1, { "movlhps", "Vx,Ux", SA_REGONLY, SF_SSE } },
    { 0x16, 0x66, -1, { "movhpd", "Vx,Mq", SA_MEMONLY, SF_SSE2 } },
    { 0x16, 0xf3, -1, { "movshdup", "Vx,Wx", 0, SF_SSE3 } },
    { 0x17, 0x00, -1, { "movhps", "Mq,Vx", SA_MEMONLY, SF_SSE } },
    { 0x17, 0x66, -1, { "movhpd", "Mq,Vx", SA_MEMONLY, SF_SSE2 } },
    { 0x28, 0x00, -1, { "movaps", "Vx,Wx", 0, SF_SSE } },
    { 0x28, 0x66, -1, { "movapd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x29, 0x00, -1, { "movaps", "Wx,Vx", 0, SF_SSE } },
    { 0x29, 0x66, -1, { "movapd", "Wx,Vx", 0, SF_SSE2 } },
    { 0x2a, 0x00, -1, { "cvtpi2ps", "Vx,Qq", 0, SF_SSE } },
    { 0x2a, 0x66, -1, { "cvtpi2pd", "Vx,Qq", 0, SF_SSE2 } },
    { 0x2a, 0xf2, -1, { "cvtsi2sd", "Vx,Ed", 0, SF_SSE2 } },
    { 0x2a, 0xf3, -1, { "cvtsi2ss", "Vx,Ed", 0, SF_SSE } },
    { 0x2b, 0x00, -1, { "movntps", "Mx,Vx", SA_MEMONLY, SF_SSE } },
    { 0x2b, 0x66, -1, { "movntpd", "Mx,Vx", SA_MEMONLY, SF_SSE2 } },
    { 0x2c, 0x00, -1, { "cvttps2pi", "Pq,Wq", 0, SF_SSE } },
    { 0x2c, 0x66, -1, { "cvttpd2pi", "Pq,Wx", 0, SF_SSE2 } },
    { 0x2c, 0xf2, -1, { "cvttsd2si", "Gd,Wq", 0, SF_SSE2 } },
    { 0x2c, 0xf3, -1, { "cvttss2si", "Gd,Wd", 0, SF_SSE } },
    { 0x2d, 0x00, -1, { "cvtps2pi", "Pq,Wq", 0, SF_SSE } },
    { 0x2d, 0x66, -1, { "cvtpd2pi", "Pq,Wx", 0, SF_SSE2 } },
    { 0x2d, 0xf2, -1, { "cvtsd2si", "Gd,Wq", 0, SF_SSE2 } },
    { 0x2d, 0xf3, -1, { "cvtss2si", "Gd,Wd", 0, SF_SSE } },
    { 0x2e, 0x00, -1, { "ucomiss", "Vx,Wd", 0, SF_SSE } },
    { 0x2e, 0x66, -1, { "ucomisd", "Vx,Wq", 0, SF_SSE2 } },
    { 0x2f, 0x00, -1, { "comiss", "Vx,Wd", 0, SF_SSE } },
    { 0x2f, 0x66, -1, { "comisd", "Vx,Wq", 0, SF_SSE2 } },
    { 0x50, 0x00, -1, { "movmskps", "Gd,Ux", SA_REGONLY, SF_SSE } },
    { 0x50, 0x66, -1, { "movmskpd", "Gd,Ux", SA_REGONLY, SF_SSE2 } },
    { 0x51, 0x00, -1, { "sqrtps", "Vx,Wx", 0, SF_SSE } },
    { 0x51, 0x66, -1, { "sqrtpd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x51, 0xf2, -1, { "sqrtsd", "Vx,Wq", 0, SF_SSE2 } },
    { 0x51, 0xf3, -1, { "sqrtss", "Vx,Wd", 0, SF_SSE } },
    { 0x52, 0x00, -1, { "rsqrtps", "Vx,Wx", 0, SF_SSE } },
    { 0x52, 0xf3, -1, { "rsqrtss", "Vx,Wd", 0, SF_SSE } },
    { 0x53, 0x00, -1, { "rcpps", "Vx,Wx", 0, SF_SSE } },
    { 0x53, 0xf3, -1, { "rcpss", "Vx,Wd", 0, SF_SSE } },
    { 0x54, 0x00, -1, { "andps", "Vx,Wx", 0, SF_SSE } },
    { 0x54, 0x66, -1, { "andpd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x55, 0x00, -1, { "andnps", "Vx,Wx", 0, SF_SSE } },
    { 0x55, 0x66, -1, { "andnpd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x56, 0x00, -1, { "orps", "Vx,Wx", 0, SF_SSE } },
    { 0x56, 0x66, -1, { "orpd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x57, 0x00, -1, { "xorps", "Vx,Wx", 0, SF_SSE } },
    { 0x57, 0x66, -1, { "xorpd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x58, 0x00, -1, { "addps", "Vx,Wx", 0, SF_SSE } },
    { 0x58, 0x66, -1, { "addpd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x58, 0xf2, -1, { "addsd", "Vx,Wq", 0, SF_SSE2 } },
    { 0x58, 0xf3, -1, { "addss", "Vx,Wd", 0, SF_SSE } },
    { 0x59, 0x00, -1, { "mulps", "Vx,Wx", 0, SF_SSE } },
    { 0x59, 0x66, -1, { "mulpd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x59, 0xf2, -1, { "mulsd", "Vx,Wq", 0, SF_SSE2 } },
    { 0x59, 0xf3, -1, { "mulss", "Vx,Wd", 0, SF_SSE } },
    { 0x5a, 0x00, -1, { "cvtps2pd", "Vx,Wq", 0, SF_SSE2 } },
    { 0x5a, 0x66, -1, { "cvtpd2ps", "Vx,Wx", 0, SF_SSE2 } },
    { 0x5a, 0xf2, -1, { "cvtsd2ss", "Vx,Wq", 0, SF_SSE2 } },
    { 0x5a, 0xf3, -1, { "cvtss2sd", "Vx,Wd", 0, SF_SSE2 } },
    { 0x5b, 0x00, -1, { "cvtdq2ps", "Vx,Wx", 0, SF_SSE2 } },
    { 0x5b, 0x66, -1, { "cvtps2dq", "Vx,Wx", 0, SF_SSE2 } },
    { 0x5b, 0xf3, -1, { "cvttps2dq", "Vx,Wx", 0, SF_SSE2 } },
    { 0x5c, 0x00, -1, { "subps", "Vx,Wx", 0, SF_SSE } },
    { 0x5c, 0x66, -1, { "subpd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x5c, 0xf2, -1, { "subsd", "Vx,Wq", 0, SF_SSE2 } },
    { 0x5c, 0xf3, -1, { "subss", "Vx,Wd", 0, SF_SSE } },
    { 0x5d, 0x00, -1, { "minps", "Vx,Wx", 0, SF_SSE } },
    { 0x5d, 0x66, -1, { "minpd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x5d, 0xf2, -1, { "minsd", "Vx,Wq", 0, SF_SSE2 } },
    { 0x5d, 0xf3, -1, { "minss", "Vx,Wd", 0, SF_SSE } },
    { 0x5e, 0x00, -1, { "divps", "Vx,Wx", 0, SF_SSE } },
    { 0x5e, 0x66, -1, { "divpd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x5e, 0xf2, -1, { "divsd", "Vx,Wq", 0, SF_SSE2 } },
    { 0x5e, 0xf3, -1, { "divss", "Vx,Wd", 0, SF_SSE } },
    { 0x5f, 0x00, -1, { "maxps", "Vx,Wx", 0, SF_SSE } },
    { 0x5f, 0x66, -1, { "maxpd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x5f, 0xf2, -1, { "maxsd", "Vx,Wq", 0, SF_SSE2 } },
    { 0x5f, 0xf3, -1, { "maxss", "Vx,Wd", 0, SF_SSE } },
    { 0x60, 0x00, -1, { "punpcklbw", "Pq,Qd", 0, SF_MMX } },
    { 0x60, 0x66, -1, { "punpcklbw", "Vx,Wx", 0, SF_SSE2 } },
    { 0x61, 0x00, -1, { "punpcklwd", "Pq,Qd", 0, SF_MMX } },
    { 0x61, 0x66, -1, { "punpcklwd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x62, 0x00, -1, { "punpckldq", "Pq,Qd", 0, SF_MMX } },
    { 0x62, 0x66, -1, { "punpckldq", "Vx,Wx", 0, SF_SSE2 } },
    { 0x63, 0x00, -1, { "packsswb", "Pq,Qq", 0, SF_MMX } },
    { 0x63, 0x66, -1, { "packsswb", "Vx,Wx", 0, SF_SSE2 } },
    { 0x64, 0x00, -1, { "pcmpgtb", "Pq,Qq", 0, SF_MMX } },
    { 0x64, 0x66, -1, { "pcmpgtb", "Vx,Wx", 0, SF_SSE2 } },
    { 0x65, 0x00, -1, { "pcmpgtw", "Pq,Qq", 0, SF_MMX } },
    { 0x65, 0x66, -1, { "pcmpgtw", "Vx,Wx", 0, SF_SSE2 } },
    { 0x66, 0x00, -1, { "pcmpgtd", "Pq,Qq", 0, SF_MMX } },
    { 0x66, 0x66, -1, { "pcmpgtd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x67, 0x00, -1, { "packuswb", "Pq,Qq", 0, SF_MMX } },
    { 0x67, 0x66, -1, { "packuswb", "Vx,Wx", 0, SF_SSE2 } },
    { 0x68, 0x00, -1, { "punpckhbw", "Pq,Qq", 0, SF_MMX } },
    { 0x68, 0x66, -1, { "punpckhbw", "Vx,Wx", 0, SF_SSE2 } },
    { 0x69, 0x00, -1, { "punpckhwd", "Pq,Qq", 0, SF_MMX } },
    { 0x69, 0x66, -1, { "punpckhwd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x6a, 0x00, -1, { "punpckhdq", "Pq,Qq", 0, SF_MMX } },
    { 0x6a, 0x66, -1, { "punpckhdq", "Vx,Wx", 0, SF_SSE2 } },
    { 0x6b, 0x00, -1, { "packssdw", "Pq,Qq", 0, SF_MMX } },
    { 0x6b, 0x66, -1, { "packssdw", "Vx,Wx", 0, SF_SSE2 } },
    { 0x6c, 0x66, -1, { "punpcklqdq", "Vx,Wx", 0, SF_SSE2 } },
    { 0x6d, 0x66, -1, { "punpckhqdq", "Vx,Wx", 0, SF_SSE2 } },
    { 0x6e, 0x00, -1, { "movd", "Pq,Ed", 0, SF_MMX } },
    { 0x6e, 0x66, -1, { "movd", "Vx,Ed", 0, SF_SSE2 } },
    { 0x6f, 0x00, -1, { "movq", "Pq,Qq", 0, SF_MMX } },
    { 0x6f, 0x66, -1, { "movdqa", "Vx,Wx", 0, SF_SSE2 } },
    { 0x6f, 0xf3, -1, { "movdqu", "Vx,Wx", 0, SF_SSE2 } },
    { 0x70, 0x00, -1, { "pshufw", "Pq,Qq,I", SA_IMM8, SF_MMXEXT } },
    { 0x70, 0x66, -1, { "pshufd", "Vx,Wx,I", SA_IMM8, SF_SSE2 } },
    { 0x70, 0xf2, -1, { "pshuflw", "Vx,Wx,I", SA_IMM8, SF_SSE2 } },
    { 0x70, 0xf3, -1, { "pshufhw", "Vx,Wx,I", SA_IMM8, SF_SSE2 } },
    { 0x71, 0x00, 2, { "psrlw", "Nq,I", SA_IMM8 | SA_REGONLY, SF_MMX } },
    { 0x71, 0x00, 4, { "psraw", "Nq,I", SA_IMM8 | SA_REGONLY, SF_MMX } },
    { 0x71, 0x00, 6, { "psllw", "Nq,I", SA_IMM8 | SA_REGONLY, SF_MMX } },
    { 0x71, 0x66, 2, { "psrlw", "Ux,I", SA_IMM8 | SA_REGONLY, SF_SSE2 } },
    { 0x71, 0x66, 4, { "psraw", "Ux,I", SA_IMM8 | SA_REGONLY, SF_SSE2 } },
    { 0x71, 0x66, 6, { "psllw", "Ux,I", SA_IMM8 | SA_REGONLY, SF_SSE2 } },
    { 0x72, 0x00, 2, { "psrld", "Nq,I", SA_IMM8 | SA_REGONLY, SF_MMX } },
    { 0x72, 0x00, 4, { "psrad", "Nq,I", SA_IMM8 | SA_REGONLY, SF_MMX } },
    { 0x72, 0x00, 6, { "pslld", "Nq,I", SA_IMM8 | SA_REGONLY, SF_MMX } },
    { 0x72, 0x66, 2, { "psrld", "Ux,I", SA_IMM8 | SA_REGONLY, SF_SSE2 } },
    { 0x72, 0x66, 4, { "psrad", "Ux,I", SA_IMM8 | SA_REGONLY, SF_SSE2 } },
    { 0x72, 0x66, 6, { "pslld", "Ux,I", SA_IMM8 | SA_REGONLY, SF_SSE2 } },
    { 0x73, 0x00, 2, { "psrlq", "Nq,I", SA_IMM8 | SA_REGONLY, SF_MMX } },
    { 0x73, 0x00, 6, { "psllq", "Nq,I", SA_IMM8 | SA_REGONLY, SF_MMX } },
    { 0x73, 0x66, 2, { "psrlq", "Ux,I", SA_IMM8 | SA_REGONLY, SF_SSE2 } },
    { 0x73, 0x66, 3, { "psrldq", "Ux,I", SA_IMM8 | SA_REGONLY, SF_SSE2 } },
    { 0x73, 0x66, 6, { "psllq", "Ux,I", SA_IMM8 | SA_REGONLY, SF_SSE2 } },
    { 0x73, 0x66, 7, { "pslldq", "Ux,I", SA_IMM8 | SA_REGONLY, SF_SSE2 } },
    { 0x74, 0x00, -1, { "pcmpeqb", "Pq,Qq", 0, SF_MMX } },
    { 0x74, 0x66, -1, { "pcmpeqb", "Vx,Wx", 0, SF_SSE2 } },
    { 0x75, 0x00, -1, { "pcmpeqw", "Pq,Qq", 0, SF_MMX } },
    { 0x75, 0x66, -1, { "pcmpeqw", "Vx,Wx", 0, SF_SSE2 } },
    { 0x76, 0x00, -1, { "pcmpeqd", "Pq,Qq", 0, SF_MMX } },
    { 0x76, 0x66, -1, { "pcmpeqd", "Vx,Wx", 0, SF_SSE2 } },
    { 0x77, 0x00, -1, { "emms", "", SA_NOMODRM, SF_MMX } },
    { 0x7c, 0x66, -1, { "haddpd", "Vx,Wx", 0, SF_SSE3 } },
    { 0x7c, 0xf2, -1, { "haddps", "Vx,Wx", 0, SF_SSE3 } },
    { 0x7d, 0x66, -1, { "hsubpd", "Vx,Wx", 0, SF_SSE3 } },
    { 0x7d, 0xf2, -1, { "hsubps", "Vx,Wx", 0, SF_SSE3 } },
    { 0x7e, 0x00, -1, { "movd", "Ed,Pq", 0, SF_MMX } },
    { 0x7e, 0x66, -1, { "movd", "Ed,Vx", 0, SF_SSE2 } },
    { 0x7e, 0xf3, -1, { "movq", "Vx,Wq", 0, SF_SSE2 } },
    { 0x7f, 0x00, -1, { "movq", "Qq,Pq", 0, SF_MMX } },
    { 0x7f, 0x66, -1, { "movdqa", "Wx,Vx", 0, SF_SSE2 } },
    { 0x7f, 0xf3, -1, { "movdqu", "Wx,Vx", 0, SF_SSE2 } },
    { 0xae, 0x00, 0, { "fxsave", "M", SA_MEMONLY, SF_FXSR } },
    { 0xae, 0x00, 1, { "fxrstor", "M", SA_MEMONLY, SF_FXSR } },
    { 0xae, 0x00, 2, { "ldmxcsr", "Md", SA_MEMONLY, SF_SSE } },
    { 0xae, 0x00, 3, { "stmxcsr", "Md", SA_MEMONLY, SF_SSE } },
    { 0xae, 0x00, 5, { "lfence", "", SA_REGONLY, SF_SSE2 } },
    { 0xae, 0x00, 6, { "mfence", "", SA_REGONLY, SF_SSE2 } },
    { 0xae, 0x00, 7, { "clflush", "Mb", SA_MEMONLY, SF_CLFSH } },
    { 0xae, 0x00, 7, { "sfence", "", SA_REGONLY, SF_SSE } },
    { 0xc2, 0x00, -1, { "cmpps", "Vx,Wx,I", SA_IMM8, SF_SSE } },
    { 0xc2, 0x66, -1, { "cmppd", "Vx,Wx,I", SA_IMM8, SF_SSE2 } },
    { 0xc2, 0xf2, -1, { "cmpsd", "Vx,Wq,I", SA_IMM8, SF_SSE2 } },
    { 0xc2, 0xf3, -1, { "cmpss", "Vx,Wd,I", SA_IMM8, SF_SSE } },
    { 0xc3, 0x00, -1, { "movnti", "Md,Gd", SA_MEMONLY, SF_SSE2 } },
    { 0xc4, 0x00, -1, { "pinsrw", "Pq,Ey,I", SA_IMM8, SF_MMXEXT } },
    { 0xc4, 0x66, -1, { "pinsrw", "Vx,Ey,I", SA_IMM8, SF_SSE2 } },
    { 0xc5, 0x00, -1, { "pextrw", "Gd,Nq,I", SA_IMM8 | SA_REGONLY, SF_MMXEXT } },
    { 0xc5, 0x66, -1, { "pextrw", "Gd,Ux,I", SA_IMM8 | SA_REGONLY, SF_SSE2 } },
    { 0xc6, 0x00, -1, { "shufps", "Vx,Wx,I", SA_IMM8, SF_SSE } },
    { 0xc6, 0x66, -1, { "shufpd", "Vx,Wx,I", SA_IMM8, SF_SSE2 } },
    { 0xd0, 0x66, -1, { "addsubpd", "Vx,Wx", 0, SF_SSE3 } },
    { 0xd0, 0xf2, -1, { "addsubps", "Vx,Wx", 0, SF_SSE3 } },
    { 0xd1, 0x00, -1, { "psrlw", "Pq,Qq", 0, SF_MMX } },
    { 0xd1, 0x66, -1, { "psrlw", "Vx,Wx", 0, SF_SSE2 } },
    { 0xd2, 0x00, -1, { "psrld", "Pq,Qq", 0, SF_MMX } },
    { 0xd2, 0x66, -1, { "psrld", "Vx,Wx", 0, SF_SSE2 } },
    { 0xd3, 0x00, -1, { "psrlq", "Pq,Qq", 0, SF_MMX } },
    { 0xd3, 0x66, -1, { "psrlq", "Vx,Wx", 0, SF_SSE2 } },
    { 0xd4, 0x00, -1, { "paddq", "Pq,Qq", 0, SF_SSE2 } },
    { 0xd4, 0x66, -1, { "paddq", "Vx,Wx", 0, SF_SSE2 } },
    { 0xd5, 0x00, -1, { "pmullw", "Pq,Qq", 0, SF_MMX } },
    { 0xd5, 0x66, -1, { "pmullw", "Vx,Wx", 0, SF_SSE2 } },
    { 0xd6, 0x66, -1, { "movq", "Wq,Vx", 0, SF_SSE2 } },
    { 0xd6, 0xf2, -1, { "movdq2q", "Pq,Ux", SA_REGONLY, SF_SSE2 } },
    { 0xd6, 0xf3, -1, { "movq2dq", "Vx,Nq", SA_REGONLY, SF_SSE2 } },
    { 0xd7, 0x00, -1, { "pmovmskb", "Gd,Nq", SA_REGONLY, SF_MMXEXT } },
    { 0xd7, 0x66, -1, { "pmovmskb", "Gd,Ux", SA_REGONLY, SF_SSE2 } },
    { 0xd8, 0x00, -1, { "psubusb", "Pq,Qq", 0, SF_MMX } },
    { 0xd8, 0x66, -1, { "psubusb", "Vx,Wx", 0, SF_SSE2 } },
    { 0xd9, 0x00, -1, { "psubusw", "Pq,Qq", 0, SF_MMX } },
    { 0xd9, 0x66, -1, { "psubusw", "Vx,Wx", 0, SF_SSE2 } },
    { 0xda, 0x00, -1, { "pminub", "Pq,Qq", 0, SF_MMXEXT } },
    { 0xda, 0x66, -1, { "pminub", "Vx,Wx", 0, SF_SSE2 } },
    { 0xdb, 0x00, -1, { "pand", "Pq,Qq", 0, SF_MMX } },
    { 0xdb, 0x66, -1, { "pand", "Vx,Wx", 0, SF_SSE2 } },
    { 0xdc, 0x00, -1, { "paddusb", "Pq,Qq", 0, SF_MMX } },
    { 0xdc, 0x66, -1, { "paddusb", "Vx,Wx", 0, SF_SSE2 } },
    { 0xdd, 0x00, -1, { "paddusw", "Pq,Qq", 0, SF_MMX } },
    { 0xdd, 0x66, -1, { "paddusw", "Vx,Wx", 0, SF_SSE2 } },
    { 0xde, 0x00, -1, { "pmaxub", "Pq,Qq", 0, SF_MMXEXT } },
    { 0xde, 0x66, -1, { "pmaxub", "Vx,Wx", 0, SF_SSE2 } },
    { 0xdf, 0x00, -1, { "pandn", "Pq,Qq", 0, SF_MMX } },
    { 0xdf, 0x66, -1, { "pandn", "Vx,Wx", 0, SF_SSE2 } },
    { 0xe0, 0x00, -1, { "pavgb", "Pq,Qq", 0, SF_MMXEXT } },
    { 0xe0, 0x66, -1, { "pavgb", "Vx,Wx", 0, SF_SSE2 } },
    { 0xe1, 0x00, -1, { "psraw", "Pq,Qq", 0, SF_MMX } },
    { 0xe1, 0x66, -1, { "psraw", "Vx,Wx", 0, SF_SSE2 } },
    { 0xe2, 0x00, -1, { "psrad", "Pq,Qq", 0, SF_MMX } },
    { 0xe2, 0x66, -1, { "psrad", "Vx,Wx", 0, SF_SSE2 } },
    { 0xe3, 0x00, -1, { "pavgw", "Pq,Qq", 0, SF_MMXEXT } },
    { 0xe3, 0x66, -1, { "pavgw", "Vx,Wx", 0, SF_SSE2 } },
    { 0xe4, 0x00, -1, { "pmulhuw", "Pq,Qq", 0, SF_MMXEXT } },
    { 0xe4, 0x66, -1, { "pmulhuw", "Vx,Wx", 0, SF_SSE2 } },
    { 0xe5, 0x00, -1, { "pmulhw", "Pq,Qq", 0, SF_MMX } },
    { 0xe5, 0x66, -1, { "pmulhw", "Vx,Wx", 0, SF_SSE2 } },
    { 0xe6, 0x66, -1, { "cvttpd2dq", "Vx,Wx", 0, SF_SSE2 } },
    { 0xe6, 0xf2, -1, { "cvtpd2dq", "Vx,Wx", 0, SF_SSE2 } },
    { 0xe6, 0xf3, -1, { "cvtdq2pd", "Vx,Wq", 0, SF_SSE2 } },
    { 0xe7, 0x00, -1, { "movntq", "Mq,Pq", SA_MEMONLY, SF_MMXEXT } },
    { 0xe7, 0x66, -1, { "movntdq", "Mx,Vx", SA_MEMONLY, SF_SSE2 } },
    { 0xe8, 0x00, -1, { "psubsb", "Pq,Qq", 0, SF_MMX } },
    { 0xe8, 0x66, -1, { "psubsb", "Vx,Wx", 0, SF_SSE2 } },
    { 0xe9, 0x00, -1, { "psubsw", "Pq,Qq", 0, SF_MMX } },
    { 0xe9, 0x66, -1, { "psubsw", "Vx,Wx", 0, SF_SSE2 } },
    { 0xea, 0x00, -1, { "pminsw", "Pq,Qq", 0, SF_MMXEXT } },
    { 0xea, 0x66, -1, { "pminsw", "Vx,Wx", 0, SF_SSE2 } },
    { 0xeb, 0x00, -1, { "por", "Pq,Qq", 0, SF_MMX } },
    { 0xeb, 0x66, -1, { "por", "Vx,Wx", 0, SF_SSE2 } },
    { 0xec, 0x00, -1, { "paddsb", "Pq,Qq", 0, SF_MMX } },
    { 0xec, 0x66, -1, { "paddsb", "Vx,Wx", 0, SF_SSE2 } },
    { 0xed, 0x00, -1, { "paddsw", "Pq,Qq", 0, SF_MMX } },
    { 0xed, 0x66, -1, { "paddsw", "Vx,Wx", 0, SF_SSE2 } },
    { 0xee, 0x00, -1, { "pmaxsw", "Pq,Qq", 0, SF_MMXEXT } },
    { 0xee, 0x66, -1, { "pmaxsw", "Vx,Wx", 0, SF_SSE2 } },
    { 0xef, 0x00, -1, { "pxor", "Pq,Qq", 0, SF_MMX } },
    { 0xef, 0x66, -1, { "pxor", "Vx,Wx", 0, SF_SSE2 } },
    { 0xf0, 0xf2, -1, { "lddqu", "Vx,M", SA_MEMONLY, SF_SSE3 } },
    { 0xf1, 0x00, -1, { "psllw", "Pq,Qq", 0, SF_MMX } },
    { 0xf1, 0x66, -1, { "psllw", "Vx,Wx", 0, SF_SSE2 } },
    { 0xf2, 0x00, -1, { "pslld", "Pq,Qq", 0, SF_MMX } },
    { 0xf2, 0x66, -1, { "pslld", "Vx,Wx", 0, SF_SSE2 } },
    { 0xf3, 0x00, -1, { "psllq", "Pq,Qq", 0, SF_MMX } },
    { 0xf3, 0x66, -1, { "psllq", "Vx,Wx", 0, SF_SSE2 } },
    { 0xf4, 0x00, -1, { "pmuludq", "Pq,Qq", 0, SF_SSE2 } },
    { 0xf4, 0x66, -1, { "pmuludq", "Vx,Wx", 0, SF_SSE2 } },
    { 0xf5, 0x00, -1, { "pmaddwd", "Pq,Qq", 0, SF_MMX } },
    { 0xf5, 0x66, -1, { "pmaddwd", "Vx,Wx", 0, SF_SSE2 } },
    { 0xf6, 0x00, -1, { "psadbw", "Pq,Qq", 0, SF_MMXEXT } },
    { 0xf6, 0x66, -1, { "psadbw", "Vx,Wx", 0, SF_SSE2 } },
    { 0xf7, 0x00, -1, { "maskmovq", "Pq,Nq", SA_REGONLY, SF_MMXEXT } },
    { 0xf7, 0x66, -1, { "maskmovdqu", "Vx,Ux", SA_REGONLY, SF_SSE2 } },
    { 0xf8, 0x00, -1, { "psubb", "Pq,Qq", 0, SF_MMX } },
    { 0xf8, 0x66, -1, { "psubb", "Vx,Wx", 0, SF_SSE2 } },
    { 0xf9, 0x00, -1, { "psubw", "Pq,Qq", 0, SF_MMX } },
    { 0xf9, 0x66, -1, { "psubw", "Vx,Wx", 0, SF_SSE2 } },
    { 0xfa, 0x00, -1, { "psubd", "Pq,Qq", 0, SF_MMX } },
    { 0xfa, 0x66, -1, { "psubd", "Vx,Wx", 0, SF_SSE2 } },
    { 0xfb, 0x00, -1, { "psubq", "Pq,Qq", 0, SF_SSE2 } },
    { 0xfb, 0x66, -1, { "psubq", "Vx,Wx", 0, SF_SSE2 } },
    { 0xfc, 0x00, -1, { "paddb", "Pq,Qq", 0, SF_MMX } },
    { 0xfc, 0x66, -1, { "paddb", "Vx,Wx", 0, SF_SSE2 } },
    { 0xfd, 0x00, -1, { "paddw", "Pq,Qq", 0, SF_MMX } },
    { 0xfd, 0x66, -1, { "paddw", "Vx,Wx", 0, SF_SSE2 } },
    { 0xfe, 0x00, -1, { "paddd", "Pq,Qq", 0, SF_MMX } },
    { 0xfe, 0x66, -1, { "paddd", "Vx,Wx", 0, SF_SSE2 } },
};

const struct simd_op_info *opcode_simd_lookup(uint8_t opcode, uint8_t prefix, int reg, bool mem)
{
    for (unsigned k = 0; k < sizeof(simd_rows) / sizeof(simd_rows[0]); k++) {
        const struct simd_row *r = &simd_rows[k];
        if (r->opcode < opcode)
            continue;
        if (r->opcode > opcode)
            break;
        if (r->prefix != prefix || (r->reg >= 0 && r->reg != (reg & 7)))
            continue;
        if (((r->info.attr & SA_MEMONLY) && !mem) || ((r->info.attr & SA_REGONLY) && mem))
            continue;
        return &r->info;
    }
    return NULL;
}

/* The 0F 38 (map 2) and 0F 3A (map 3) forms, sorted by map, opcode, prefix (SDM vol. 2
 * opcode map tables ): SSSE3 (MMX and XMM forms), SSE4.1, SSE4.2, AES-NI,
 * PCLMULQDQ, MOVBE, CRC32, ADCX/ADOX. */
struct map23_row { uint8_t map, opcode, prefix; struct simd_op_info info; };
static const struct map23_row map23_rows[] = {
    { 2, 0x00, 0x00, { "pshufb", "Pq,Qq", 0, SF_SSSE3 } },
    { 2, 0x00, 0x66, { "pshufb", "Vx,Wx", 0, SF_SSSE3 } },
    { 2, 0x01, 0x00, { "phaddw", "Pq,Qq", 0, SF_SSSE3 } },
    { 2, 0x01, 0x66, { "phaddw", "Vx,Wx", 0, SF_SSSE3 } },
    { 2, 0x02, 0x00, { "phaddd", "Pq,Qq", 0, SF_SSSE3 } },
    { 2, 0x02, 0x66, { "phaddd", "Vx,Wx", 0, SF_SSSE3 } },
    { 2, 0x03, 0x00, { "phaddsw", "Pq,Qq", 0, SF_SSSE3 } },
    { 2, 0x03, 0x66, { "phaddsw", "Vx,Wx", 0, SF_SSSE3 } },
    { 2, 0x04, 0x00, { "pmaddubsw", "Pq,Qq", 0, SF_SSSE3 } },
    { 2, 0x04, 0x66, { "pmaddubsw", "Vx,Wx", 0, SF_SSSE3 } },
    { 2, 0x05, 0x00, { "phsubw", "Pq,Qq", 0, SF_SSSE3 } },
    { 2, 0x05, 0x66, { "phsubw", "Vx,Wx", 0, SF_SSSE3 } },
    { 2, 0x06, 0x00, { "phsubd", "Pq,Qq", 0, SF_SSSE3 } },
    { 2, 0x06, 0x66, { "phsubd", "Vx,Wx", 0, SF_SSSE3 } },
    { 2, 0x07, 0x00, { "phsubsw", "Pq,Qq", 0, SF_SSSE3 } },
    { 2, 0x07, 0x66, { "phsubsw", "Vx,Wx", 0, SF_SSSE3 } },
    { 2, 0x08, 0x00, { "psignb", "Pq,Qq", 0, SF_SSSE3 } },
    { 2, 0x08, 0x66, { "psignb", "Vx,Wx", 0, SF_SSSE3 } },
    { 2, 0x09, 0x00, { "psignw", "Pq,Qq", 0, SF_SSSE3 } },
    { 2, 0x09, 0x66, { "psignw", "Vx,Wx", 0, SF_SSSE3 } },
    { 2, 0x0a, 0x00, { "psignd", "Pq,Qq", 0, SF_SSSE3 } },
    { 2, 0x0a, 0x66, { "psignd", "Vx,Wx", 0, SF_SSSE3 } },
    { 2, 0x0b, 0x00, { "pmulhrsw", "Pq,Qq", 0, SF_SSSE3 } },
    { 2, 0x0b, 0x66, { "pmulhrsw", "Vx,Wx", 0, SF_SSSE3 } },
    { 2, 0x10, 0x66, { "pblendvb", "Vx,Wx", 0, SF_SSE41 } },
    { 2, 0x14, 0x66, { "blendvps", "Vx,Wx", 0, SF_SSE41 } },
    { 2, 0x15, 0x66, { "blendvpd", "Vx,Wx", 0, SF_SSE41 } },
    { 2, 0x17, 0x66, { "ptest", "Vx,Wx", 0, SF_SSE41 } },
    { 2, 0x1c, 0x00, { "pabsb", "Pq,Qq", 0, SF_SSSE3 } },
    { 2, 0x1c, 0x66, { "pabsb", "Vx,Wx", 0, SF_SSSE3 } },
    { 2, 0x1d, 0x00, { "pabsw", "Pq,Qq", 0, SF_SSSE3 } },
    { 2, 0x1d, 0x66, { "pabsw", "Vx,Wx", 0, SF_SSSE3 } },
    { 2, 0x1e, 0x00, { "pabsd", "Pq,Qq", 0, SF_SSSE3 } },
    { 2, 0x1e, 0x66, { "pabsd", "Vx,Wx", 0, SF_SSSE3 } },
    { 2, 0x20, 0x66, { "pmovsxbw", "Vx,Wq", 0, SF_SSE41 } },
    { 2, 0x21, 0x66, { "pmovsxbd", "Vx,Wd", 0, SF_SSE41 } },
    { 2, 0x22, 0x66, { "pmovsxbq", "Vx,Ww", 0, SF_SSE41 } },
    { 2, 0x23, 0x66, { "pmovsxwd", "Vx,Wq", 0, SF_SSE41 } },
    { 2, 0x24, 0x66, { "pmovsxwq", "Vx,Wd", 0, SF_SSE41 } },
    { 2, 0x25, 0x66, { "pmovsxdq", "Vx,Wq", 0, SF_SSE41 } },
    { 2, 0x28, 0x66, { "pmuldq", "Vx,Wx", 0, SF_SSE41 } },
    { 2, 0x29, 0x66, { "pcmpeqq", "Vx,Wx", 0, SF_SSE41 } },
    { 2, 0x2a, 0x66, { "movntdqa", "Vx,Mx", SA_MEMONLY, SF_SSE41 } },
    { 2, 0x2b, 0x66, { "packusdw", "Vx,Wx", 0, SF_SSE41 } },
    { 2, 0x30, 0x66, { "pmovzxbw", "Vx,Wq", 0, SF_SSE41 } },
    { 2, 0x31, 0x66, { "pmovzxbd", "Vx,Wd", 0, SF_SSE41 } },
    { 2, 0x32, 0x66, { "pmovzxbq", "Vx,Ww", 0, SF_SSE41 } },
    { 2, 0x33, 0x66, { "pmovzxwd", "Vx,Wq", 0, SF_SSE41 } },
    { 2, 0x34, 0x66, { "pmovzxwq", "Vx,Wd", 0, SF_SSE41 } },
    { 2, 0x35, 0x66, { "pmovzxdq", "Vx,Wq", 0, SF_SSE41 } },
    { 2, 0x37, 0x66, { "pcmpgtq", "Vx,Wx", 0, SF_SSE42 } },
    { 2, 0x38, 0x66, { "pminsb", "Vx,Wx", 0, SF_SSE41 } },
    { 2, 0x39, 0x66, { "pminsd", "Vx,Wx", 0, SF_SSE41 } },
    { 2, 0x3a, 0x66, { "pminuw", "Vx,Wx", 0, SF_SSE41 } },
    { 2, 0x3b, 0x66, { "pminud", "Vx,Wx", 0, SF_SSE41 } },
    { 2, 0x3c, 0x66, { "pmaxsb", "Vx,Wx", 0, SF_SSE41 } },
    { 2, 0x3d, 0x66, { "pmaxsd", "Vx,Wx", 0, SF_SSE41 } },
    { 2, 0x3e, 0x66, { "pmaxuw", "Vx,Wx", 0, SF_SSE41 } },
    { 2, 0x3f, 0x66, { "pmaxud", "Vx,Wx", 0, SF_SSE41 } },
    { 2, 0x40, 0x66, { "pmulld", "Vx,Wx", 0, SF_SSE41 } },
    { 2, 0x41, 0x66, { "phminposuw", "Vx,Wx", 0, SF_SSE41 } },
    { 2, 0xdb, 0x66, { "aesimc", "Vx,Wx", 0, SF_AES } },
    { 2, 0xdc, 0x66, { "aesenc", "Vx,Wx", 0, SF_AES } },
    { 2, 0xdd, 0x66, { "aesenclast", "Vx,Wx", 0, SF_AES } },
    { 2, 0xde, 0x66, { "aesdec", "Vx,Wx", 0, SF_AES } },
    { 2, 0xdf, 0x66, { "aesdeclast", "Vx,Wx", 0, SF_AES } },
    { 2, 0xf0, 0x00, { "movbe", "Gv,Mv", SA_MEMONLY, SF_MOVBE } },
    { 2, 0xf0, 0x66, { "movbe", "Gv,Mv", SA_MEMONLY, SF_MOVBE } },
    { 2, 0xf0, 0xf2, { "crc32", "Gd,Eb", 0, SF_SSE42 } },
    { 2, 0xf1, 0x00, { "movbe", "Mv,Gv", SA_MEMONLY, SF_MOVBE } },
    { 2, 0xf1, 0x66, { "movbe", "Mv,Gv", SA_MEMONLY, SF_MOVBE } },
    { 2, 0xf1, 0xf2, { "crc32", "Gd,Ev", 0, SF_SSE42 } },
    { 2, 0xf6, 0x66, { "adcx", "Gd,Ed", 0, SF_ADX } },
    { 2, 0xf6, 0xf3, { "adox", "Gd,Ed", 0, SF_ADX } },
    { 3, 0x08, 0x66, { "roundps", "Vx,Wx,I", 0, SF_SSE41 } },
    { 3, 0x09, 0x66, { "roundpd", "Vx,Wx,I", 0, SF_SSE41 } },
    { 3, 0x0a, 0x66, { "roundss", "Vx,Wd,I", 0, SF_SSE41 } },
    { 3, 0x0b, 0x66, { "roundsd", "Vx,Wq,I", 0, SF_SSE41 } },
    { 3, 0x0c, 0x66, { "blendps", "Vx,Wx,I", 0, SF_SSE41 } },
    { 3, 0x0d, 0x66, { "blendpd", "Vx,Wx,I", 0, SF_SSE41 } },
    { 3, 0x0e, 0x66, { "pblendw", "Vx,Wx,I", 0, SF_SSE41 } },
    { 3, 0x0f, 0x00, { "palignr", "Pq,Qq,I", 0, SF_SSSE3 } },
    { 3, 0x0f, 0x66, { "palignr", "Vx,Wx,I", 0, SF_SSSE3 } },
    { 3, 0x14, 0x66, { "pextrb", "Rd,Vx,I", SA_REGONLY, SF_SSE41 } },
    { 3, 0x14, 0x66, { "pextrb", "Mb,Vx,I", SA_MEMONLY, SF_SSE41 } },
    { 3, 0x15, 0x66, { "pextrw", "Rd,Vx,I", SA_REGONLY, SF_SSE41 } },
    { 3, 0x15, 0x66, { "pextrw", "Mw,Vx,I", SA_MEMONLY, SF_SSE41 } },
    { 3, 0x16, 0x66, { "pextrd", "Ed,Vx,I", 0, SF_SSE41 } },
    { 3, 0x17, 0x66, { "extractps", "Ed,Vx,I", 0, SF_SSE41 } },
    { 3, 0x20, 0x66, { "pinsrb", "Vx,Rd,I", SA_REGONLY, SF_SSE41 } },
    { 3, 0x20, 0x66, { "pinsrb", "Vx,Mb,I", SA_MEMONLY, SF_SSE41 } },
    { 3, 0x21, 0x66, { "insertps", "Vx,Ux,I", SA_REGONLY, SF_SSE41 } },
    { 3, 0x21, 0x66, { "insertps", "Vx,Md,I", SA_MEMONLY, SF_SSE41 } },
    { 3, 0x22, 0x66, { "pinsrd", "Vx,Ed,I", 0, SF_SSE41 } },
    { 3, 0x40, 0x66, { "dpps", "Vx,Wx,I", 0, SF_SSE41 } },
    { 3, 0x41, 0x66, { "dppd", "Vx,Wx,I", 0, SF_SSE41 } },
    { 3, 0x42, 0x66, { "mpsadbw", "Vx,Wx,I", 0, SF_SSE41 } },
    { 3, 0x44, 0x66, { "pclmulqdq", "Vx,Wx,I", 0, SF_PCLMUL } },
    { 3, 0x60, 0x66, { "pcmpestrm", "Vx,Wx,I", 0, SF_SSE42 } },
    { 3, 0x61, 0x66, { "pcmpestri", "Vx,Wx,I", 0, SF_SSE42 } },
    { 3, 0x62, 0x66, { "pcmpistrm", "Vx,Wx,I", 0, SF_SSE42 } },
    { 3, 0x63, 0x66, { "pcmpistri", "Vx,Wx,I", 0, SF_SSE42 } },
    { 3, 0xdf, 0x66, { "aeskeygenassist", "Vx,Wx,I", 0, SF_AES } },
};

const struct simd_op_info *opcode_map23_lookup(uint8_t map, uint8_t opcode, uint8_t prefix, bool mem)
{
    for (unsigned k = 0; k < sizeof(map23_rows) / sizeof(map23_rows[0]); k++) {
        const struct map23_row *r = &map23_rows[k];
        if (r->map != map || r->opcode != opcode || r->prefix != prefix)
            continue;
        if (((r->info.attr & SA_MEMONLY) && !mem) || ((r->info.attr & SA_REGONLY) && mem))
            continue;
        return &r->info;
    }
    return NULL;
}

bool opcode_map23_exists(uint8_t map, uint8_t opcode)
{
    for (unsigned k = 0; k < sizeof(map23_rows) / sizeof(map23_rows[0]); k++)
        if (map23_rows[k].map == map && map23_rows[k].opcode == opcode)
            return true;
    return false;
}

/* VEX-encoded BMI1/BMI2 (SDM vol. 2 table A-4 with VEX); the F3 group by ModRM.reg. */
struct vex_row { uint8_t map, opcode, prefix; int8_t reg; struct opcode_info info; };
#define VX_FLAGS(set, undef, ext) (set), (undef), LVL_P6, -1, (ext)
static const struct vex_row vex_rows[] = {
    { 2, 0xf2, 0x00, -1, { "andn", "Gd,Bd,Ed", OA_MODRM, VX_FLAGS(OSZAPC, FLAG_AF | FLAG_PF, OX_BMI1) } },
    { 2, 0xf3, 0x00, 1, { "blsr", "Bd,Ed", OA_MODRM, VX_FLAGS(OSZAPC, FLAG_AF | FLAG_PF, OX_BMI1) } },
    { 2, 0xf3, 0x00, 2, { "blsmsk", "Bd,Ed", OA_MODRM, VX_FLAGS(OSZAPC, FLAG_AF | FLAG_PF, OX_BMI1) } },
    { 2, 0xf3, 0x00, 3, { "blsi", "Bd,Ed", OA_MODRM, VX_FLAGS(OSZAPC, FLAG_AF | FLAG_PF, OX_BMI1) } },
    { 2, 0xf5, 0x00, -1, { "bzhi", "Gd,Ed,Bd", OA_MODRM, VX_FLAGS(OSZAPC, FLAG_AF | FLAG_PF, OX_BMI2) } },
    { 2, 0xf5, 0xf3, -1, { "pext", "Gd,Bd,Ed", OA_MODRM, VX_FLAGS(0, 0, OX_BMI2) } },
    { 2, 0xf5, 0xf2, -1, { "pdep", "Gd,Bd,Ed", OA_MODRM, VX_FLAGS(0, 0, OX_BMI2) } },
    { 2, 0xf6, 0xf2, -1, { "mulx", "Gd,Bd,Ed", OA_MODRM, VX_FLAGS(0, 0, OX_BMI2) } },
    { 2, 0xf7, 0x00, -1, { "bextr", "Gd,Ed,Bd", OA_MODRM, VX_FLAGS(OSZAPC, FLAG_AF | FLAG_SF | FLAG_PF, OX_BMI1) } },
    { 2, 0xf7, 0x66, -1, { "shlx", "Gd,Ed,Bd", OA_MODRM, VX_FLAGS(0, 0, OX_BMI2) } },
    { 2, 0xf7, 0xf3, -1, { "sarx", "Gd,Ed,Bd", OA_MODRM, VX_FLAGS(0, 0, OX_BMI2) } },
    { 2, 0xf7, 0xf2, -1, { "shrx", "Gd,Ed,Bd", OA_MODRM, VX_FLAGS(0, 0, OX_BMI2) } },
    { 3, 0xf0, 0xf2, -1, { "rorx", "Gd,Ed,Ib", OA_MODRM | OA_IB, VX_FLAGS(0, 0, OX_BMI2) } },
};

const struct opcode_info *opcode_vex_lookup(uint8_t map, uint8_t opcode, uint8_t prefix, int reg)
{
    for (unsigned k = 0; k < sizeof(vex_rows) / sizeof(vex_rows[0]); k++) {
        const struct vex_row *r = &vex_rows[k];
        if (r->map == map && r->opcode == opcode && r->prefix == prefix &&
            (r->reg < 0 || r->reg == (reg & 7)))
            return &r->info;
    }
    return NULL;
}
