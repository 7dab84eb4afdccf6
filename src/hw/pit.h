/* Intel 8254 programmable interval timer at ports 0x40-0x43, plus port 0x61 (NMI status and
 * control: channel 2 gate, speaker data enable, refresh toggle, OUT2).
 *
 * Counters are derived from virtual time (1.193182 MHz input clock); a vtimer is armed only for
 * channel 0's next output edge, which drives the IRQ0 line. Channels 1 and 2 are computed on
 * demand. */
#ifndef PCVM_HW_PIT_H
#define PCVM_HW_PIT_H

#include "hw/devmodel.h"

#include <stdbool.h>
#include <stdint.h>

#include "hw/irq.h"
#include "mem/memory.h"
#include "util/log.h"
#include "util/vclock.h"

#define PIT_FREQ_HZ 1193182

struct pit_channel {
    uint32_t count;         /* initial count in clocks: 1..65536 (binary) or 1..10000 (BCD) */
    uint8_t control;        /* bits 5-0 of the last control word (RW, mode, BCD) */
    uint8_t mode;           /* 0-5 (6 and 7 alias 2 and 3) */
    uint8_t rw;             /* 1 lsb, 2 msb, 3 lsb then msb */
    bool bcd;
    bool gate;
    bool loaded;            /* a count has been written since the control word */
    bool triggered;         /* modes 1 and 5: a gate trigger started the count */
    bool null_count;        /* status bit 6 */
    bool write_msb_next;    /* rw=3: the next write is the msb */
    bool read_msb_next;     /* rw=3: the next read is the msb */
    uint8_t write_lsb;      /* staged lsb for rw=3 */
    bool count_latched;
    bool latch_msb_next;
    uint16_t latched;       /* latched counter value (already BCD-encoded if bcd) */
    bool status_latched;
    uint8_t status;
    bool frozen;            /* gate low in modes 0/2/3/4: counting suspended */
    uint64_t frozen_ticks;  /* ticks elapsed when the gate fell (modes 0 and 4) */
    int64_t load_time;      /* virtual ns of tick 0 of the current count */
    int out_level;          /* channel 0: level last driven on IRQ0 */
};

struct pit {
    struct pit_channel ch[3];
    uint8_t port61;         /* bits 0-3 as written (gate2, speaker data, NMI enables) */

    /* ---- host side (not guest state) ---- */
    struct vclock *clock;
    struct vtimer timer;    /* channel 0's next output edge */
    struct irq_line irq0;
    struct pcvm_log *log;   /* may be NULL */
};

/* Reset and claim ports 0x40-0x43 and 0x61; irq0 follows channel 0's OUT. */
void pit_init(struct pit *s, struct io_bus *io, struct vclock *clock, struct irq_line irq0,
              struct pcvm_log *log);
/* Power-on state: all channels idle, gates of channels 0 and 1 high, channel 2 gate low. */
void pit_reset(struct pit *s);
/* OUT level (0/1) of channel ch at the current virtual time. */
int pit_get_out(struct pit *s, int ch);
/* Current counter value of channel ch (binary, as the guest would read it unlatched). */
uint32_t pit_get_count(struct pit *s, int ch);
/* Drive channel ch's GATE input (channel 2's is also port 0x61 bit 0). */
void pit_set_gate(struct pit *s, int ch, int level);
/* True when the speaker sounds: gate2 and speaker-data bits set and channel 2 in mode 3. */
bool pit_speaker_active(const struct pit *s);

/* Saved state (device model). */
extern const struct vmstate_desc pit_vmstate;
#endif
