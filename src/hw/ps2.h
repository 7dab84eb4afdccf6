/* PS/2 keyboard and mouse, the devices behind the i8042 controller.
 *
 * Each device keeps a byte queue toward the controller and calls notify() when it queued
 * something; the controller takes bytes with ps2_queue_pop() when its output buffer is free and
 * sends the guest's bytes with ps2_kbd_write() / ps2_mouse_write(). */
#ifndef PCVM_HW_PS2_H
#define PCVM_HW_PS2_H

#include "hw/devmodel.h"

#include <stdbool.h>
#include <stdint.h>

#define PS2_QUEUE_SIZE 256

struct ps2_queue {
    uint8_t data[PS2_QUEUE_SIZE];
    uint16_t head;   /* oldest byte */
    uint16_t count;
};

/* Called when a device queued bytes for the controller. */
typedef void (*ps2_notify_fn)(void *opaque);

struct ps2_kbd {
    struct ps2_queue q;
    uint8_t pending_cmd;   /* command awaiting its argument byte (0xED, 0xF0, 0xF3), or 0 */
    uint8_t scancode_set;  /* 1, 2 or 3 */
    uint8_t leds;          /* bit 0 scroll, 1 num, 2 caps lock */
    uint8_t typematic;
    bool scanning;         /* F4 enable / F5 disable */
    uint8_t last_sent;     /* for FE resend */

    /* ---- host side (not guest state) ---- */
    ps2_notify_fn notify;
    void *opaque;
};

struct ps2_mouse {
    struct ps2_queue q;
    uint8_t pending_cmd;   /* 0xF3 or 0xE8 awaiting an argument, or 0 */
    uint8_t sample_rate;
    uint8_t resolution;
    bool scaling_2to1;
    bool reporting;        /* F4 enable data reporting */
    bool remote;           /* remote mode (F0) instead of stream mode */
    bool wrap;             /* echo mode (EE) */
    uint8_t id;            /* 0 standard, 3 IntelliMouse (after rates 200, 100, 80) */
    uint8_t rate_hist[3];  /* last three sample rates, for the IntelliMouse knock */
    uint8_t buttons;       /* bit 0 left, 1 right, 2 middle */
    int dx, dy, dz;        /* movement not yet reported */

    /* ---- host side (not guest state) ---- */
    ps2_notify_fn notify;
    void *opaque;
};

/* Bytes waiting in a device queue. */
static inline unsigned ps2_queue_count(const struct ps2_queue *q) { return q->count; }
/* Take the oldest byte (0 if empty). */
uint8_t ps2_queue_pop(struct ps2_queue *q);

/* Power-on keyboard: scan code set 2, scanning enabled, empty queue. */
void ps2_kbd_init(struct ps2_kbd *k, ps2_notify_fn notify, void *opaque);
/* Reset as the 0xFF command does, without the BAT reply. */
void ps2_kbd_reset(struct ps2_kbd *k);
/* A byte from the host (port 0x60): commands and their arguments. */
void ps2_kbd_write(struct ps2_kbd *k, uint8_t b);
/* Key press/release given as a set-1 make code (0xE0xx for extended keys); the keyboard sends it
 * in its current scan code set. Dropped while scanning is disabled. */
void ps2_kbd_key(struct ps2_kbd *k, uint16_t set1_code, bool down);
/* Set-2 code of a set-1 make code (low byte, without 0xE0), or 0 if unknown. */
uint8_t ps2_set1_to_set2(uint8_t set1);
/* The i8042 translation of a set-2 byte to set 1 (without the break bit). */
uint8_t ps2_set2_to_set1(uint8_t set2);

/* Power-on mouse: stream mode, reporting disabled, 100 samples/s, 4 counts/mm. */
void ps2_mouse_init(struct ps2_mouse *m, ps2_notify_fn notify, void *opaque);
/* Reset as the 0xFF command does, without the reply. */
void ps2_mouse_reset(struct ps2_mouse *m);
/* A byte from the host (controller command 0xD4 then port 0x60). */
void ps2_mouse_write(struct ps2_mouse *m, uint8_t b);
/* Movement (dx right, dy up, dz wheel) and button state; queues a packet when reporting. */
void ps2_mouse_event(struct ps2_mouse *m, int dx, int dy, int dz, uint8_t buttons);

/* Saved state (device model): sub-descriptions embedded by the i8042. */
extern const struct vmstate_desc ps2_kbd_vmstate, ps2_mouse_vmstate;
#endif
