/* Intel 8259A programmable interrupt controller pair (master at 0x20, slave at 0xA0, the slave
 * cascaded on the master's IR2) with the PIIX edge/level control registers (ELCR, 0x4D0/0x4D1).
 *
 * Wiring: pic_init() claims the ports; devices' IRQ lines connect to pic_set_irq (irq 0-15);
 * intr_out goes to the CPU's INTR pin; the CPU calls pic_intr_ack() on INTA to get the vector. */
#ifndef PCVM_HW_PIC_H
#define PCVM_HW_PIC_H

#include "hw/devmodel.h"

#include <stdbool.h>
#include <stdint.h>

#include "hw/irq.h"
#include "mem/memory.h"
#include "util/log.h"

/* One 8259A. */
struct pic_chip {
    uint8_t irr;          /* interrupt request register */
    uint8_t isr;          /* in-service register */
    uint8_t imr;          /* interrupt mask register */
    uint8_t elcr;         /* 1 = level-triggered input (PIIX ELCR) */
    uint8_t elcr_mask;    /* ELCR bits that exist */
    uint8_t input_level;  /* current level of each IR pin */
    uint8_t vector_base;  /* ICW2 & 0xF8 */
    uint8_t lowest_prio;  /* rotation: the IR with the lowest priority (7 after init) */
    uint8_t init_step;    /* 0 = ready; 2,3,4 = expecting ICW2/3/4 */
    uint8_t icw3;
    bool icw4_needed;
    bool single;          /* ICW1 SNGL: no cascade */
    bool level_icw1;      /* ICW1 LTIM (all inputs level) */
    bool aeoi;            /* ICW4 automatic EOI */
    bool sfnm;            /* ICW4 special fully nested mode */
    bool rotate_on_aeoi;
    bool special_mask;    /* OCW3 SMM */
    bool read_isr;        /* OCW3 RR/RIS: reads of port 0 return ISR */
    bool poll;            /* OCW3 P: the next read of port 0 is a poll */
};

struct pic {
    struct pic_chip chip[2];   /* [0] master, [1] slave */
    int intr_level;            /* current level driven on intr_out */

    /* ---- host side (not guest state) ---- */
    struct irq_line intr_out;  /* to the CPU's INTR */
    struct pcvm_log *log;      /* may be NULL */
};

/* Reset both chips and claim ports 0x20-0x21, 0xA0-0xA1 and 0x4D0-0x4D1. */
void pic_init(struct pic *s, struct io_bus *io, struct irq_line intr_out, struct pcvm_log *log);
/* Return both chips to their power-on state (keeps wiring). */
void pic_reset(struct pic *s);
/* irq_handler_fn: drive IRQ input irq (0-15) to level. opaque is the struct pic. */
void pic_set_irq(void *opaque, int irq, int level);
/* Interrupt acknowledge cycle: returns the vector (spurious IRQ7/IRQ15 vector when nothing is
 * pending) and updates ISR/IRR as the two INTA pulses do. */
int pic_intr_ack(struct pic *s);
/* True when the master asserts INTR (an unmasked request of high enough priority). */
bool pic_intr_pending(const struct pic *s);
/* IRQ number (0-15) that would be acknowledged now, or -1. */
int pic_pending_irq(const struct pic *s);

/* Saved state (device model). */
extern const struct vmstate_desc pic_vmstate;
#endif
