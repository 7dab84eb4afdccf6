/* Interrupt lines: a device raises or lowers a line; the board decides where it goes
 * (PIC, I/O APIC, or both through a fan-out), so devices never know their sink. */
#ifndef PCVM_HW_IRQ_H
#define PCVM_HW_IRQ_H

typedef void (*irq_handler_fn)(void *opaque, int n, int level);

struct irq_line {
    irq_handler_fn handler; /* NULL: the line goes nowhere */
    void *opaque;
    int n;                  /* input number at the sink */
};

/* Connect line to input n of a sink. */
static inline void irq_connect(struct irq_line *line, irq_handler_fn handler, void *opaque, int n)
{
    line->handler = handler;
    line->opaque = opaque;
    line->n = n;
}

/* Drive the line to level (0 or 1). */
static inline void irq_set(const struct irq_line *line, int level)
{
    if (line && line->handler)
        line->handler(line->opaque, line->n, level);
}

/* Raise then lower the line (an edge for edge-triggered sinks). */
static inline void irq_pulse(const struct irq_line *line)
{
    irq_set(line, 1);
    irq_set(line, 0);
}

#endif
