/* Intel 8042 keyboard controller at ports 0x60 (data) and 0x64 (status/command), with a PS/2
 * keyboard (IRQ1) and mouse (IRQ12). Its output port drives A20 (bit 1) and the CPU reset line
 * (bit 0, active low): command 0xD1 writes it, command 0xFE pulses reset. */
#ifndef PCVM_HW_I8042_H
#define PCVM_HW_I8042_H

#include "hw/devmodel.h"

#include <stdbool.h>
#include <stdint.h>

#include "hw/irq.h"
#include "hw/ps2.h"
#include "mem/memory.h"
#include "util/log.h"

/* Board callbacks: A20 gate from the output port; a system reset request. */
typedef void (*i8042_a20_fn)(void *opaque, bool enabled);
typedef void (*i8042_reset_fn)(void *opaque);

enum i8042_source { I8042_SRC_CTRL, I8042_SRC_KBD, I8042_SRC_AUX };

struct i8042 {
    uint8_t ram[32];        /* controller RAM; ram[0] is the command byte (CCB) */
    uint8_t status;         /* status register bits kept here: SYS (2), A2 (3) */
    uint8_t outport;        /* output port: bit 0 reset (1 = run), bit 1 A20 */
    uint8_t pending_cmd;    /* controller command awaiting a data byte, or 0 */
    bool obf;               /* output buffer full */
    uint8_t obf_data;
    uint8_t obf_source;     /* enum i8042_source of obf_data */
    uint8_t ctrl_q[4];      /* controller replies waiting for the output buffer */
    uint8_t ctrl_q_count;
    bool xlat_break;        /* translation: an F0 prefix was swallowed */
    int irq1_level, irq12_level;
    struct ps2_kbd kbd;
    struct ps2_mouse mouse;

    /* ---- host side (not guest state) ---- */
    struct irq_line irq_kbd;   /* IRQ1 */
    struct irq_line irq_mouse; /* IRQ12 */
    i8042_a20_fn set_a20;
    i8042_reset_fn reset;
    void *opaque;              /* for set_a20 and reset */
    struct pcvm_log *log;      /* may be NULL */
};

/* Reset (calling set_a20(opaque, true)) and claim ports 0x60 and 0x64 (not 0x61: the PIT's). */
void i8042_init(struct i8042 *s, struct io_bus *io, struct irq_line irq_kbd,
                struct irq_line irq_mouse, i8042_a20_fn set_a20, i8042_reset_fn reset,
                void *opaque, struct pcvm_log *log);
/* Power-on state of controller, keyboard and mouse; calls set_a20(true) (A20 on at power-on). */
void i8042_reset(struct i8042 *s);
/* Host key event (set-1 make code, 0xE0xx for extended keys), e.g. from the monitor's sendkey. */
void i8042_key_event(struct i8042 *s, uint16_t set1_code, bool down);
/* Host mouse event: relative movement (dy up) and buttons (bit 0 left, 1 right, 2 middle). */
void i8042_mouse_event(struct i8042 *s, int dx, int dy, int dz, uint8_t buttons);

/* Saved state (device model). */
extern const struct vmstate_desc i8042_vmstate;
#endif
