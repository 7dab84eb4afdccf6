/* National Semiconductor 16550A UART (COM1 0x3F8/IRQ4, COM2 0x2F8/IRQ3, COM3 0x3E8/IRQ4,
 * COM4 0x2E8/IRQ3 on a PC) with 16-byte FIFOs, interrupts, modem lines and loopback.
 *
 * Transmission is instantaneous: a byte written to THR goes straight to the chardev (which
 * buffers) and THR is empty again at once, raising a fresh THRE interrupt. Input arrives from
 * the chardev's callbacks, which uart_init() attaches. The interrupt line is not gated by
 * MCR OUT2 (as in QEMU). */
#ifndef PCVM_HW_UART_H
#define PCVM_HW_UART_H

#include "hw/devmodel.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chardev/chardev.h"
#include "hw/irq.h"
#include "mem/memory.h"
#include "util/log.h"
#include "util/stamps.h"
#include "util/vclock.h"

#define UART_FIFO_SIZE 16
/* The UART's input clock divided by 16: divisor 1 = 115200 baud. */
#define UART_BASE_BAUD 115200

struct uart {
    uint8_t rx_fifo[UART_FIFO_SIZE];
    uint8_t rx_head;           /* index of the oldest byte */
    uint8_t rx_count;
    uint16_t divisor;          /* DLL | DLM << 8 */
    uint8_t ier, fcr, lcr, mcr, lsr, msr, scr;
    bool thr_ipending;         /* THRE interrupt pending (cleared by IIR read or THR write) */
    bool timeout_ipending;     /* character timeout interrupt pending */
    int irq_level;

    /* ---- host side (not guest state) ---- */
    struct chardev *chr;       /* may be NULL: output dropped, no input */
    struct vclock *clock;
    struct vtimer timeout_timer;
    struct irq_line irq;
    struct pcvm_log *log;      /* may be NULL */
    struct stamp_tap stamps;   /* -stamps: set by the board after uart_init (w NULL: off) */
};

/* Reset, claim ports base..base+7 and attach to chr's input. */
void uart_init(struct uart *s, struct io_bus *io, uint16_t base, struct irq_line irq,
               struct chardev *chr, struct vclock *clock, struct pcvm_log *log);
/* Power-on register values (FIFOs off, interrupts off); keeps wiring. */
void uart_reset(struct uart *s);
/* How many bytes the receiver can take now (the chardev can_read callback). */
size_t uart_can_receive(void *opaque);
/* Deliver received bytes (the chardev read callback); excess bytes set the overrun error. */
void uart_receive(void *opaque, const uint8_t *buf, size_t len);

/* Saved state (device model). */
extern const struct vmstate_desc uart_vmstate;
#endif
