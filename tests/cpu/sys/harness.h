/* Shared set-up for sys's unit tests: a CPU on 16 MiB of flat RAM, descriptor builders and a
 * TRY() that catches cpu_exception's longjmp. */
#ifndef PCVM_TESTS_SYS_HARNESS_H
#define PCVM_TESTS_SYS_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cpu/cpu.h"
#include "cpu/mmu.h"

struct fx {
    struct phys_mem mem;
    struct io_bus io;
    struct cpu cpu;
};

#define RAM_SIZE (16u << 20)

static inline struct fx *fx_new(const char *model)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(phys_mem_init(&f->mem, RAM_SIZE, RAM_SIZE), 0);
    io_bus_init(&f->io);
    cpu_init(&f->cpu, 0, cpu_model_find(model ? model : "pentium3"), &f->mem, &f->io, NULL, NULL,
             NULL);
    return f;
}

static inline void fx_free(struct fx *f)
{
    cpu_destroy(&f->cpu);
    phys_mem_destroy(&f->mem);
    free(f);
}

/* Run stmt; evaluates to -1 when it did not fault, else the exception vector. */
#define TRY(cpu, stmt)                                                    \
    __extension__({                                                       \
        volatile int try_v_ = -1;                                              \
        if (setjmp((cpu)->fault_env) == 0) {                              \
            stmt;                                                         \
        } else {                                                          \
            try_v_ = (cpu)->sys.pending_vector;                           \
            (cpu)->sys.pending_vector = -1;                               \
        }                                                                 \
        try_v_;                                                           \
    })
#define ERR(cpu) ((cpu)->sys.pending_error)

static inline void put32(struct fx *f, uint32_t pa, uint32_t v) { memcpy(f->mem.ram + pa, &v, 4); }
static inline void put16(struct fx *f, uint32_t pa, uint16_t v) { memcpy(f->mem.ram + pa, &v, 2); }
static inline uint32_t get32(struct fx *f, uint32_t pa) { uint32_t v; memcpy(&v, f->mem.ram + pa, 4); return v; }
static inline uint16_t get16(struct fx *f, uint32_t pa) { uint16_t v; memcpy(&v, f->mem.ram + pa, 2); return v; }

/* Segment descriptor: access = P|DPL|S|type byte (0x9a code, 0x92 data ...), gran = G|D nibble. */
static inline void put_desc(struct fx *f, uint32_t pa, uint32_t base, uint32_t limit,
                            unsigned access, unsigned gran)
{
    put32(f, pa, (limit & 0xffff) | (base << 16));
    put32(f, pa + 4, ((base >> 16) & 0xff) | (access << 8) | (limit & 0xf0000) | (gran << 20) |
                         (base & 0xff000000u));
}

/* Gate descriptor (call/int/trap/task): access byte e.g. 0x8e 386 interrupt gate DPL 0. */
static inline void put_gate(struct fx *f, uint32_t pa, uint16_t sel, uint32_t off,
                            unsigned access, unsigned params)
{
    put32(f, pa, (off & 0xffff) | ((uint32_t)sel << 16));
    put32(f, pa + 4, (off & 0xffff0000u) | (access << 8) | params);
}

#define GDT_BASE 0x1000u
#define IDT_BASE 0x2000u
#define TSS_BASE 0x3000u
enum { SEL_CODE0 = 0x08, SEL_DATA0 = 0x10, SEL_CODE3 = 0x1b, SEL_DATA3 = 0x23, SEL_TSS = 0x28 };

/* Flat protected mode at CPL 0 with a GDT (ring 0/3 code and data, a 386 TSS) and an IDT. */
static inline void fx_protected(struct fx *f)
{
    struct cpu *cpu = &f->cpu;
    put_desc(f, GDT_BASE + 0x08, 0, 0xfffff, 0x9a, 0xc);
    put_desc(f, GDT_BASE + 0x10, 0, 0xfffff, 0x92, 0xc);
    put_desc(f, GDT_BASE + 0x18, 0, 0xfffff, 0xfa, 0xc);
    put_desc(f, GDT_BASE + 0x20, 0, 0xfffff, 0xf2, 0xc);
    put_desc(f, GDT_BASE + 0x28, TSS_BASE, 0x67, 0x89, 0);
    cpu->gdtr = (struct dtr){ GDT_BASE, 0xff };
    cpu->idtr = (struct dtr){ IDT_BASE, 0x7ff };
    int v = TRY(cpu, {
        cpu_write_cr(cpu, 0, cpu->cr0 | CR0_PE);
        cpu_far_jmp(cpu, SEL_CODE0, 0x100000, 0);
        cpu_load_seg(cpu, SEG_SS, SEL_DATA0);
        cpu_load_seg(cpu, SEG_DS, SEL_DATA0);
        cpu_load_seg(cpu, SEG_ES, SEL_DATA0);
        cpu_ltr(cpu, SEL_TSS);
    });
    assert_int_equal(v, -1);
    cpu->regs[R_ESP] = 0x80000;
}

#endif
