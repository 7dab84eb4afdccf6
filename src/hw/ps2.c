/* PS/2 keyboard (IBM PS/2 Technical Reference command set) and mouse (standard and
 * IntelliMouse wheel protocol). */
#include "hw/ps2.h"

#include <string.h>

/* ---- scan codes ---- */

/* Set-1 make code -> set-2 make code for the keys a PC keyboard has; extended keys (0xE0
 * prefix) use the same byte mapping. Zero where no key exists. */
static const uint8_t set1_to_set2_table[128] = {
    [0x01] = 0x76, [0x02] = 0x16, [0x03] = 0x1e, [0x04] = 0x26, [0x05] = 0x25, [0x06] = 0x2e,
    [0x07] = 0x36, [0x08] = 0x3d, [0x09] = 0x3e, [0x0a] = 0x46, [0x0b] = 0x45, [0x0c] = 0x4e,
    [0x0d] = 0x55, [0x0e] = 0x66, [0x0f] = 0x0d, [0x10] = 0x15, [0x11] = 0x1d, [0x12] = 0x24,
    [0x13] = 0x2d, [0x14] = 0x2c, [0x15] = 0x35, [0x16] = 0x3c, [0x17] = 0x43, [0x18] = 0x44,
    [0x19] = 0x4d, [0x1a] = 0x54, [0x1b] = 0x5b, [0x1c] = 0x5a, [0x1d] = 0x14, [0x1e] = 0x1c,
    [0x1f] = 0x1b, [0x20] = 0x23, [0x21] = 0x2b, [0x22] = 0x34, [0x23] = 0x33, [0x24] = 0x3b,
    [0x25] = 0x42, [0x26] = 0x4b, [0x27] = 0x4c, [0x28] = 0x52, [0x29] = 0x0e, [0x2a] = 0x12,
    [0x2b] = 0x5d, [0x2c] = 0x1a, [0x2d] = 0x22, [0x2e] = 0x21, [0x2f] = 0x2a, [0x30] = 0x32,
    [0x31] = 0x31, [0x32] = 0x3a, [0x33] = 0x41, [0x34] = 0x49, [0x35] = 0x4a, [0x36] = 0x59,
    [0x37] = 0x7c, [0x38] = 0x11, [0x39] = 0x29, [0x3a] = 0x58, [0x3b] = 0x05, [0x3c] = 0x06,
    [0x3d] = 0x04, [0x3e] = 0x0c, [0x3f] = 0x03, [0x40] = 0x0b, [0x41] = 0x83, [0x42] = 0x0a,
    [0x43] = 0x01, [0x44] = 0x09, [0x45] = 0x77, [0x46] = 0x7e, [0x47] = 0x6c, [0x48] = 0x75,
    [0x49] = 0x7d, [0x4a] = 0x7b, [0x4b] = 0x6b, [0x4c] = 0x73, [0x4d] = 0x74, [0x4e] = 0x79,
    [0x4f] = 0x69, [0x50] = 0x72, [0x51] = 0x7a, [0x52] = 0x70, [0x53] = 0x71, [0x54] = 0x84,
    [0x56] = 0x61, [0x57] = 0x78, [0x58] = 0x07,
    /* keys that exist only with the 0xE0 prefix: left/right Windows, menu */
    [0x5b] = 0x1f, [0x5c] = 0x27, [0x5d] = 0x2f,
};

uint8_t ps2_set1_to_set2(uint8_t set1)
{
    return set1 < 128 ? set1_to_set2_table[set1] : 0;
}

uint8_t ps2_set2_to_set1(uint8_t set2)
{
    if (set2 == 0x00)
        return 0xff; /* keyboard error/overrun */
    if (set2 == 0x02)
        return 0x41; /* shares F7's code (0x83) translation */
    for (unsigned i = 1; i < 128; i++)
        if (set1_to_set2_table[i] == set2)
            return (uint8_t)i;
    return set2; /* replies (FA, AA, EE, FE, AB ...) and unmapped codes pass unchanged */
}

/* ---- queue ---- */

static void queue_clear(struct ps2_queue *q)
{
    q->head = 0;
    q->count = 0;
}

static void queue_push(struct ps2_queue *q, uint8_t b)
{
    if (q->count >= PS2_QUEUE_SIZE)
        return; /* a real device's buffer overflows too; drop */
    q->data[(q->head + q->count) % PS2_QUEUE_SIZE] = b;
    q->count++;
}

uint8_t ps2_queue_pop(struct ps2_queue *q)
{
    if (!q->count)
        return 0;
    uint8_t b = q->data[q->head];
    q->head = (q->head + 1) % PS2_QUEUE_SIZE;
    q->count--;
    return b;
}

/* ---- keyboard ---- */

static void kbd_send(struct ps2_kbd *k, uint8_t b)
{
    queue_push(&k->q, b);
    k->last_sent = b;
}

static void kbd_done(struct ps2_kbd *k)
{
    if (k->notify)
        k->notify(k->opaque);
}

static void kbd_defaults(struct ps2_kbd *k)
{
    k->scancode_set = 2;
    k->typematic = 0x2b; /* 10.9 characters/s, 500 ms delay */
    k->pending_cmd = 0;
}

void ps2_kbd_reset(struct ps2_kbd *k)
{
    queue_clear(&k->q);
    kbd_defaults(k);
    k->leds = 0;
    k->scanning = true;
}

void ps2_kbd_init(struct ps2_kbd *k, ps2_notify_fn notify, void *opaque)
{
    memset(k, 0, sizeof(*k));
    k->notify = notify;
    k->opaque = opaque;
    ps2_kbd_reset(k);
}

static void kbd_argument(struct ps2_kbd *k, uint8_t cmd, uint8_t b)
{
    switch (cmd) {
    case 0xed:
        k->leds = b & 7;
        kbd_send(k, 0xfa);
        break;
    case 0xf3:
        k->typematic = b & 0x7f;
        kbd_send(k, 0xfa);
        break;
    case 0xf0:
        if (b == 0) {
            kbd_send(k, 0xfa);
            kbd_send(k, k->scancode_set);
        } else if (b <= 3) {
            k->scancode_set = b;
            kbd_send(k, 0xfa);
        } else {
            kbd_send(k, 0xfe);
        }
        break;
    default:
        break;
    }
}

void ps2_kbd_write(struct ps2_kbd *k, uint8_t b)
{
    if (k->pending_cmd && b < 0xed) {
        uint8_t cmd = k->pending_cmd;
        k->pending_cmd = 0;
        kbd_argument(k, cmd, b);
        kbd_done(k);
        return;
    }
    k->pending_cmd = 0; /* a command byte cancels a pending argument */
    switch (b) {
    case 0xed:
    case 0xf0:
    case 0xf3:
        k->pending_cmd = b;
        kbd_send(k, 0xfa);
        break;
    case 0xee:
        kbd_send(k, 0xee);
        break;
    case 0xf2:
        kbd_send(k, 0xfa);
        kbd_send(k, 0xab);
        kbd_send(k, 0x83);
        break;
    case 0xf4:
        queue_clear(&k->q);
        k->scanning = true;
        kbd_send(k, 0xfa);
        break;
    case 0xf5:
        queue_clear(&k->q);
        kbd_defaults(k);
        k->scanning = false;
        kbd_send(k, 0xfa);
        break;
    case 0xf6:
        queue_clear(&k->q);
        kbd_defaults(k);
        kbd_send(k, 0xfa);
        break;
    case 0xf7: case 0xf8: case 0xf9: case 0xfa: case 0xfb: case 0xfc: case 0xfd:
        kbd_send(k, 0xfa); /* set-3 key type settings: accepted, no effect */
        break;
    case 0xfe:
        queue_push(&k->q, k->last_sent);
        break;
    case 0xff:
        ps2_kbd_reset(k);
        kbd_send(k, 0xfa);
        kbd_send(k, 0xaa); /* basic assurance test passed */
        break;
    default:
        kbd_send(k, 0xfe);
        break;
    }
    kbd_done(k);
}

void ps2_kbd_key(struct ps2_kbd *k, uint16_t set1_code, bool down)
{
    if (!k->scanning)
        return;
    bool ext = (set1_code >> 8) == 0xe0;
    uint8_t code = set1_code & 0x7f;
    if (k->scancode_set == 1) {
        if (ext)
            kbd_send(k, 0xe0);
        kbd_send(k, (uint8_t)(code | (down ? 0 : 0x80)));
    } else {
        uint8_t s2 = ps2_set1_to_set2(code);
        if (!s2)
            return;
        if (ext)
            kbd_send(k, 0xe0);
        if (!down)
            kbd_send(k, 0xf0);
        kbd_send(k, s2);
    }
    kbd_done(k);
}

/* ---- mouse ---- */

static void mouse_send(struct ps2_mouse *m, uint8_t b)
{
    queue_push(&m->q, b);
}

static void mouse_done(struct ps2_mouse *m)
{
    if (m->notify)
        m->notify(m->opaque);
}

static void mouse_defaults(struct ps2_mouse *m)
{
    m->sample_rate = 100;
    m->resolution = 2;
    m->scaling_2to1 = false;
    m->reporting = false;
    m->pending_cmd = 0;
}

void ps2_mouse_reset(struct ps2_mouse *m)
{
    queue_clear(&m->q);
    mouse_defaults(m);
    m->remote = false;
    m->wrap = false;
    m->id = 0;
    memset(m->rate_hist, 0, sizeof(m->rate_hist));
    m->dx = m->dy = m->dz = 0;
}

void ps2_mouse_init(struct ps2_mouse *m, ps2_notify_fn notify, void *opaque)
{
    memset(m, 0, sizeof(*m));
    m->notify = notify;
    m->opaque = opaque;
    ps2_mouse_reset(m);
}

static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Queue one movement packet with what is accumulated (the remainder waits). */
static void mouse_packet(struct ps2_mouse *m)
{
    int dx = clamp(m->dx, -256, 255), dy = clamp(m->dy, -256, 255), dz = clamp(m->dz, -8, 7);
    uint8_t b0 = (uint8_t)(0x08 | (m->buttons & 7) | (dx < 0 ? 0x10 : 0) | (dy < 0 ? 0x20 : 0));
    if (m->dx != dx)
        b0 |= 0x40;
    if (m->dy != dy)
        b0 |= 0x80;
    mouse_send(m, b0);
    mouse_send(m, (uint8_t)dx);
    mouse_send(m, (uint8_t)dy);
    if (m->id == 3)
        mouse_send(m, (uint8_t)dz);
    m->dx -= dx;
    m->dy -= dy;
    m->dz -= dz;
}

static void mouse_argument(struct ps2_mouse *m, uint8_t cmd, uint8_t b)
{
    if (cmd == 0xf3) {
        m->sample_rate = b;
        m->rate_hist[0] = m->rate_hist[1];
        m->rate_hist[1] = m->rate_hist[2];
        m->rate_hist[2] = b;
        if (m->rate_hist[0] == 200 && m->rate_hist[1] == 100 && m->rate_hist[2] == 80)
            m->id = 3; /* IntelliMouse: wheel reports enabled */
    } else {
        m->resolution = b & 3;
    }
    mouse_send(m, 0xfa);
}

void ps2_mouse_write(struct ps2_mouse *m, uint8_t b)
{
    if (m->wrap && b != 0xec && b != 0xff) {
        mouse_send(m, b);
        mouse_done(m);
        return;
    }
    if (m->pending_cmd) {
        uint8_t cmd = m->pending_cmd;
        m->pending_cmd = 0;
        mouse_argument(m, cmd, b);
        mouse_done(m);
        return;
    }
    if (b != 0xe9 && b != 0xf2 && b != 0xeb)
        m->dx = m->dy = m->dz = 0; /* commands reset the movement counters */
    switch (b) {
    case 0xe6:
    case 0xe7:
        m->scaling_2to1 = b == 0xe7;
        mouse_send(m, 0xfa);
        break;
    case 0xe8:
    case 0xf3:
        m->pending_cmd = b;
        mouse_send(m, 0xfa);
        break;
    case 0xe9: {
        uint8_t st = (uint8_t)((m->remote ? 0x40 : 0) | (m->reporting ? 0x20 : 0) |
                               (m->scaling_2to1 ? 0x10 : 0) | ((m->buttons & 1) ? 0x04 : 0) |
                               ((m->buttons & 4) ? 0x02 : 0) | ((m->buttons & 2) ? 0x01 : 0));
        mouse_send(m, 0xfa);
        mouse_send(m, st);
        mouse_send(m, m->resolution);
        mouse_send(m, m->sample_rate);
        break;
    }
    case 0xea:
        m->remote = false;
        mouse_send(m, 0xfa);
        break;
    case 0xeb:
        mouse_send(m, 0xfa);
        mouse_packet(m);
        m->dx = m->dy = m->dz = 0;
        break;
    case 0xec:
        m->wrap = false;
        mouse_send(m, 0xfa);
        break;
    case 0xee:
        m->wrap = true;
        mouse_send(m, 0xfa);
        break;
    case 0xf0:
        m->remote = true;
        mouse_send(m, 0xfa);
        break;
    case 0xf2:
        mouse_send(m, 0xfa);
        mouse_send(m, m->id);
        break;
    case 0xf4:
        m->reporting = true;
        mouse_send(m, 0xfa);
        break;
    case 0xf5:
        m->reporting = false;
        mouse_send(m, 0xfa);
        break;
    case 0xf6:
        mouse_defaults(m);
        mouse_send(m, 0xfa);
        break;
    case 0xff:
        ps2_mouse_reset(m);
        mouse_send(m, 0xfa);
        mouse_send(m, 0xaa);
        mouse_send(m, 0x00);
        break;
    default:
        mouse_send(m, 0xfe);
        break;
    }
    mouse_done(m);
}

void ps2_mouse_event(struct ps2_mouse *m, int dx, int dy, int dz, uint8_t buttons)
{
    m->dx = clamp(m->dx + dx, -4096, 4096);
    m->dy = clamp(m->dy + dy, -4096, 4096);
    m->dz = clamp(m->dz + dz, -64, 64);
    m->buttons = buttons & 7;
    if (m->reporting && !m->remote && !m->wrap && m->q.count + 4 <= PS2_QUEUE_SIZE) {
        mouse_packet(m);
        mouse_done(m);
    }
}

/* ---- saved state ---- */

static const struct vmstate_field ps2_queue_fields[] = {
    VMF_ARRAY(struct ps2_queue, data), VMF_MAX(struct ps2_queue, head, PS2_QUEUE_SIZE - 1),
    VMF_MAX(struct ps2_queue, count, PS2_QUEUE_SIZE),
    VMF_END_OF_LIST,
};
static const struct vmstate_desc ps2_queue_vmstate = { .name = "ps2-queue", .version = 1, .fields = ps2_queue_fields };
static const struct vmstate_field ps2_kbd_fields[] = {
    VMF_STRUCT(struct ps2_kbd, q, ps2_queue_vmstate), VMF(struct ps2_kbd, pending_cmd),
    VMF_MAX(struct ps2_kbd, scancode_set, 3), VMF(struct ps2_kbd, leds), VMF(struct ps2_kbd, typematic),
    VMF(struct ps2_kbd, scanning), VMF(struct ps2_kbd, last_sent),
    VMF_END_OF_LIST,
};
const struct vmstate_desc ps2_kbd_vmstate = { .name = "ps2-kbd", .version = 1, .fields = ps2_kbd_fields };
static const struct vmstate_field ps2_mouse_fields[] = {
    VMF_STRUCT(struct ps2_mouse, q, ps2_queue_vmstate), VMF(struct ps2_mouse, pending_cmd),
    VMF(struct ps2_mouse, sample_rate), VMF(struct ps2_mouse, resolution), VMF(struct ps2_mouse, scaling_2to1),
    VMF(struct ps2_mouse, reporting), VMF(struct ps2_mouse, remote), VMF(struct ps2_mouse, wrap),
    VMF(struct ps2_mouse, id), VMF_ARRAY(struct ps2_mouse, rate_hist), VMF(struct ps2_mouse, buttons),
    VMF(struct ps2_mouse, dx), VMF(struct ps2_mouse, dy), VMF(struct ps2_mouse, dz),
    VMF_END_OF_LIST,
};
const struct vmstate_desc ps2_mouse_vmstate = { .name = "ps2-mouse", .version = 1, .fields = ps2_mouse_fields };
