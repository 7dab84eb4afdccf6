/* 16550A UART. Register semantics from the National Semiconductor PC16550D datasheet:
 * interrupt priorities (line status > received data / character timeout > THRE > modem
 * status), FIFO trigger levels 1/4/8/14, timeout after four character times. */
#include "hw/uart.h"

#include <string.h>

enum { IER_RDA = 1, IER_THRE = 2, IER_RLS = 4, IER_MS = 8 };
enum { IIR_NONE = 0x01, IIR_MS = 0x00, IIR_THRE = 0x02, IIR_RDA = 0x04, IIR_RLS = 0x06,
       IIR_TIMEOUT = 0x0c, IIR_FIFO = 0xc0 };
enum { FCR_ENABLE = 1, FCR_CLEAR_RX = 2, FCR_CLEAR_TX = 4 };
enum { LCR_DLAB = 0x80 };
enum { MCR_DTR = 1, MCR_RTS = 2, MCR_OUT1 = 4, MCR_OUT2 = 8, MCR_LOOP = 0x10 };
enum { LSR_DR = 1, LSR_OE = 2, LSR_PE = 4, LSR_FE = 8, LSR_BI = 0x10, LSR_THRE = 0x20,
       LSR_TEMT = 0x40, LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI };
enum { MSR_DCTS = 1, MSR_DDSR = 2, MSR_TERI = 4, MSR_DDCD = 8, MSR_CTS = 0x10, MSR_DSR = 0x20,
       MSR_RI = 0x40, MSR_DCD = 0x80, MSR_DELTAS = 0x0f };

static bool fifo_enabled(const struct uart *s)
{
    return s->fcr & FCR_ENABLE;
}

static unsigned rx_trigger(const struct uart *s)
{
    static const uint8_t levels[4] = { 1, 4, 8, 14 };
    return fifo_enabled(s) ? levels[s->fcr >> 6] : 1;
}

/* Interrupt identification by priority. */
static uint8_t uart_iir(const struct uart *s)
{
    uint8_t id = IIR_NONE;
    if ((s->ier & IER_RLS) && (s->lsr & LSR_ERRORS))
        id = IIR_RLS;
    else if ((s->ier & IER_RDA) && s->rx_count >= rx_trigger(s))
        id = IIR_RDA;
    else if ((s->ier & IER_RDA) && s->timeout_ipending)
        id = IIR_TIMEOUT;
    else if ((s->ier & IER_THRE) && s->thr_ipending)
        id = IIR_THRE;
    else if ((s->ier & IER_MS) && (s->msr & MSR_DELTAS))
        id = IIR_MS;
    return fifo_enabled(s) ? (uint8_t)(id | IIR_FIFO) : id;
}

static void uart_update_irq(struct uart *s)
{
    int level = !(uart_iir(s) & IIR_NONE);
    if (level != s->irq_level) {
        s->irq_level = level;
        irq_set(&s->irq, level);
    }
}

/* One character's time on the wire: start + data + parity + stop bits at the set rate. */
static int64_t char_time_ns(const struct uart *s)
{
    unsigned bits = 1 + 5 + (s->lcr & 3) + ((s->lcr & 8) ? 1 : 0) + ((s->lcr & 4) ? 2 : 1);
    unsigned div = s->divisor ? s->divisor : 1;
    return (int64_t)bits * NS_PER_SEC * div / UART_BASE_BAUD;
}

/* (Re)start the four-character timeout while the FIFO holds data. */
static void timeout_restart(struct uart *s)
{
    s->timeout_ipending = false;
    if (fifo_enabled(s) && s->rx_count > 0)
        vtimer_mod(&s->timeout_timer, vclock_now(s->clock) + 4 * char_time_ns(s));
    else
        vtimer_del(&s->timeout_timer);
}

static void timeout_cb(void *opaque)
{
    struct uart *s = opaque;
    if (fifo_enabled(s) && s->rx_count > 0) {
        s->timeout_ipending = true;
        uart_update_irq(s);
    }
}

static void rx_clear(struct uart *s)
{
    s->rx_head = 0;
    s->rx_count = 0;
    s->lsr &= ~LSR_DR;
    timeout_restart(s);
}

/* Put one received byte into RBR/the FIFO. */
static void rx_push(struct uart *s, uint8_t b)
{
    unsigned cap = fifo_enabled(s) ? UART_FIFO_SIZE : 1;
    if (s->rx_count >= cap) {
        s->lsr |= LSR_OE;
        if (!fifo_enabled(s)) /* 16450 mode: the new character overwrites RBR */
            s->rx_fifo[s->rx_head] = b;
    } else {
        s->rx_fifo[(s->rx_head + s->rx_count) % UART_FIFO_SIZE] = b;
        s->rx_count++;
    }
    s->lsr |= LSR_DR;
}

size_t uart_can_receive(void *opaque)
{
    struct uart *s = opaque;
    if (s->mcr & MCR_LOOP)
        return 0; /* the receiver is connected to the transmitter */
    unsigned cap = fifo_enabled(s) ? UART_FIFO_SIZE : 1;
    return cap - s->rx_count;
}

void uart_receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct uart *s = opaque;
    if (s->mcr & MCR_LOOP)
        return;
    for (size_t i = 0; i < len; i++)
        rx_push(s, buf[i]);
    if (len)
        timeout_restart(s);
    uart_update_irq(s);
}

static uint8_t loopback_msr(uint8_t mcr)
{
    return (uint8_t)(((mcr & MCR_RTS) ? MSR_CTS : 0) | ((mcr & MCR_DTR) ? MSR_DSR : 0) |
                     ((mcr & MCR_OUT1) ? MSR_RI : 0) | ((mcr & MCR_OUT2) ? MSR_DCD : 0));
}

/* New modem input lines: set the delta bits for what changed. */
static void msr_set_lines(struct uart *s, uint8_t lines)
{
    uint8_t old = s->msr;
    uint8_t changed = (old ^ lines) & 0xf0;
    uint8_t delta = s->msr & MSR_DELTAS;
    if (changed & MSR_CTS)
        delta |= MSR_DCTS;
    if (changed & MSR_DSR)
        delta |= MSR_DDSR;
    if (changed & MSR_DCD)
        delta |= MSR_DDCD;
    if ((old & MSR_RI) && !(lines & MSR_RI))
        delta |= MSR_TERI; /* trailing edge of ring indicator */
    s->msr = (uint8_t)(lines | delta);
}

static void uart_transmit(struct uart *s, uint8_t b)
{
    if (s->mcr & MCR_LOOP) {
        rx_push(s, b);
        timeout_restart(s);
    } else {
        stamp_tap_byte(&s->stamps, b);
        chardev_write(s->chr, &b, 1);
    }
    /* The byte left at once: THR and the shift register are empty again. */
    s->lsr |= LSR_THRE | LSR_TEMT;
    s->thr_ipending = true;
}

static uint32_t uart_io_read(void *opaque, uint16_t port, unsigned size)
{
    struct uart *s = opaque;
    (void)size;
    uint8_t v = 0;
    switch (port & 7) {
    case 0:
        if (s->lcr & LCR_DLAB) {
            v = (uint8_t)s->divisor;
        } else if (s->rx_count) {
            v = s->rx_fifo[s->rx_head];
            s->rx_head = (s->rx_head + 1) % UART_FIFO_SIZE;
            s->rx_count--;
            if (!s->rx_count)
                s->lsr &= ~LSR_DR;
            timeout_restart(s);
        } else {
            v = s->rx_fifo[(s->rx_head + UART_FIFO_SIZE - 1) % UART_FIFO_SIZE];
        }
        break;
    case 1:
        v = (s->lcr & LCR_DLAB) ? (uint8_t)(s->divisor >> 8) : s->ier;
        break;
    case 2:
        v = uart_iir(s);
        if ((v & 0x0f) == IIR_THRE)
            s->thr_ipending = false; /* reading IIR while it reports THRE clears it */
        break;
    case 3:
        v = s->lcr;
        break;
    case 4:
        v = s->mcr;
        break;
    case 5:
        v = s->lsr;
        s->lsr &= ~LSR_ERRORS;
        break;
    case 6:
        v = s->msr;
        s->msr &= ~MSR_DELTAS;
        break;
    default:
        v = s->scr;
        break;
    }
    uart_update_irq(s);
    return v;
}

static void uart_io_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct uart *s = opaque;
    (void)size;
    uint8_t v = (uint8_t)value;
    switch (port & 7) {
    case 0:
        if (s->lcr & LCR_DLAB) {
            s->divisor = (uint16_t)((s->divisor & 0xff00) | v);
        } else {
            s->thr_ipending = false;
            uart_transmit(s, v);
        }
        break;
    case 1:
        if (s->lcr & LCR_DLAB) {
            s->divisor = (uint16_t)((s->divisor & 0x00ff) | v << 8);
        } else {
            uint8_t old = s->ier;
            s->ier = v & 0x0f;
            /* Enabling the THRE interrupt while THR is empty raises it at once. */
            if (!(old & IER_THRE) && (s->ier & IER_THRE) && (s->lsr & LSR_THRE))
                s->thr_ipending = true;
        }
        break;
    case 2: {
        bool was = fifo_enabled(s);
        if ((v & FCR_ENABLE) != was) {
            s->fcr = v & (FCR_ENABLE | 0xc8);
            rx_clear(s); /* changing the FIFO mode resets both FIFOs */
        } else if (v & FCR_ENABLE) {
            s->fcr = v & (FCR_ENABLE | 0xc8);
            if (v & FCR_CLEAR_RX)
                rx_clear(s);
        }
        if (v & 0x30)
            log_printf(s->log, LOG_GUEST_ERRORS, "uart 0x%x: FCR reserved bits 0x%02x\n",
                       port & ~7u, v & 0x30);
        break;
    }
    case 3:
        s->lcr = v;
        break;
    case 4: {
        uint8_t old = s->mcr;
        s->mcr = v & 0x1f;
        if (s->mcr & MCR_LOOP)
            msr_set_lines(s, loopback_msr(s->mcr));
        else if (old & MCR_LOOP)
            msr_set_lines(s, MSR_DCD | MSR_DSR | MSR_CTS);
        break;
    }
    case 5:
        log_printf(s->log, LOG_GUEST_ERRORS, "uart 0x%x: write to LSR\n", port & ~7u);
        break;
    case 6:
        log_printf(s->log, LOG_GUEST_ERRORS, "uart 0x%x: write to MSR\n", port & ~7u);
        break;
    default:
        s->scr = v;
        break;
    }
    uart_update_irq(s);
}

void uart_reset(struct uart *s)
{
    memset(s->rx_fifo, 0, sizeof(s->rx_fifo));
    s->rx_head = 0;
    s->rx_count = 0;
    s->divisor = 12; /* 9600 baud, a common power-on assumption */
    s->ier = 0;
    s->fcr = 0;
    s->lcr = 0;
    s->mcr = 0;
    s->lsr = LSR_THRE | LSR_TEMT;
    s->msr = MSR_DCD | MSR_DSR | MSR_CTS; /* a back end is always "connected" */
    s->scr = 0;
    s->thr_ipending = false;
    s->timeout_ipending = false;
    vtimer_del(&s->timeout_timer);
    s->irq_level = 0;
    irq_set(&s->irq, 0);
}

void uart_init(struct uart *s, struct io_bus *io, uint16_t base, struct irq_line irq,
               struct chardev *chr, struct vclock *clock, struct pcvm_log *log)
{
    memset(s, 0, sizeof(*s));
    s->chr = chr;
    s->clock = clock;
    s->irq = irq;
    s->log = log;
    vtimer_init(&s->timeout_timer, clock, timeout_cb, s);
    uart_reset(s);
    io_register(io, base, 8, s, uart_io_read, uart_io_write, IO_SIZE_1, "uart");
    chardev_attach(chr, uart_can_receive, uart_receive, s);
}

/* ---- saved state ---- */

static const struct vmstate_field uart_fields[] = {
    VMF_ARRAY(struct uart, rx_fifo), VMF_MAX(struct uart, rx_head, UART_FIFO_SIZE - 1),
    VMF_MAX(struct uart, rx_count, UART_FIFO_SIZE), VMF(struct uart, divisor), VMF(struct uart, ier),
    VMF(struct uart, fcr), VMF(struct uart, lcr), VMF(struct uart, mcr), VMF(struct uart, lsr), VMF(struct uart, msr),
    VMF(struct uart, scr), VMF(struct uart, thr_ipending), VMF(struct uart, timeout_ipending),
    VMF_MAX(struct uart, irq_level, 1), VMF_TIMER(struct uart, timeout_timer),
    VMF_END_OF_LIST,
};
const struct vmstate_desc uart_vmstate = { .name = "isa-serial", .version = 1, .fields = uart_fields };
