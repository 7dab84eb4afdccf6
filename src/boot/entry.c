/* Apply a loader's entry state to the CPU (kept apart so the loaders need no CPU code). */
#include "boot/boot.h"

#include "cpu/cpu.h"

void boot_apply_entry_state(struct cpu *cpu, const struct boot_entry_state *st)
{
    for (int i = 0; i < 8; i++)
        cpu->regs[i] = st->regs[i];
    for (int i = 0; i < SEG_COUNT; i++) {
        cpu->seg[i].sel = st->seg[i].sel;
        cpu->seg[i].base = st->seg[i].base;
        cpu->seg[i].limit = st->seg[i].limit;
        cpu->seg[i].flags = st->seg[i].flags;
    }
    cpu->gdtr.base = st->gdt_base;
    cpu->gdtr.limit = st->gdt_limit;
    cpu->idtr.base = 0;
    cpu->idtr.limit = 0x3ff;
    cpu->cr0 = st->cr0;
    cpu->eip = st->eip;
    cpu_set_eflags(cpu, st->eflags, 0xffffffffu);
    cpu->halted = false;
    cpu_set_a20(cpu, true);        /* both protocols start with A20 enabled */
    cpu_update_mode(cpu);
    cpu_tlb_flush(cpu);
}
