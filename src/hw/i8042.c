/* 8042 keyboard controller (IBM PC/AT and PS/2 command set). */
#include "hw/i8042.h"

#include <string.h>

enum { ST_OBF = 0x01, ST_IBF = 0x02, ST_SYS = 0x04, ST_CMD = 0x08, ST_UNLOCKED = 0x10,
       ST_AUX_OBF = 0x20 };
enum { CCB_KBD_INT = 0x01, CCB_AUX_INT = 0x02, CCB_SYS = 0x04, CCB_KBD_DISABLE = 0x10,
       CCB_AUX_DISABLE = 0x20, CCB_XLATE = 0x40 };
enum { OUT_RESET = 0x01, OUT_A20 = 0x02, OUT_KBD_OBF = 0x10, OUT_AUX_OBF = 0x20 };

static void update_irqs(struct i8042 *s)
{
    uint8_t ccb = s->ram[0];
    int kbd = s->obf && s->obf_source != I8042_SRC_AUX && (ccb & CCB_KBD_INT);
    int aux = s->obf && s->obf_source == I8042_SRC_AUX && (ccb & CCB_AUX_INT);
    if (kbd != s->irq1_level) {
        s->irq1_level = kbd;
        irq_set(&s->irq_kbd, kbd);
    }
    if (aux != s->irq12_level) {
        s->irq12_level = aux;
        irq_set(&s->irq_mouse, aux);
    }
}

/* Fill the output buffer from the controller, keyboard or mouse, in that order. */
static void refill(struct i8042 *s)
{
    while (!s->obf) {
        if (s->ctrl_q_count) {
            s->obf_data = s->ctrl_q[0];
            memmove(s->ctrl_q, s->ctrl_q + 1, --s->ctrl_q_count);
            s->obf_source = I8042_SRC_CTRL;
            s->obf = true;
        } else if (!(s->ram[0] & CCB_KBD_DISABLE) && ps2_queue_count(&s->kbd.q)) {
            uint8_t b = ps2_queue_pop(&s->kbd.q);
            if (s->ram[0] & CCB_XLATE) {
                if (b == 0xf0) {
                    s->xlat_break = true;
                    continue; /* the break prefix becomes bit 7 of the next code */
                }
                b = ps2_set2_to_set1(b);
                if (s->xlat_break)
                    b |= 0x80;
                s->xlat_break = false;
            }
            s->obf_data = b;
            s->obf_source = I8042_SRC_KBD;
            s->obf = true;
        } else if (!(s->ram[0] & CCB_AUX_DISABLE) && ps2_queue_count(&s->mouse.q)) {
            s->obf_data = ps2_queue_pop(&s->mouse.q);
            s->obf_source = I8042_SRC_AUX;
            s->obf = true;
        } else {
            break;
        }
    }
    update_irqs(s);
}

static void device_notify(void *opaque)
{
    refill(opaque);
}

static void ctrl_reply(struct i8042 *s, uint8_t b)
{
    if (s->ctrl_q_count < sizeof(s->ctrl_q))
        s->ctrl_q[s->ctrl_q_count++] = b;
    refill(s);
}

/* Force a byte into the output buffer as if it came from a device (D2/D3). */
static void inject(struct i8042 *s, uint8_t b, enum i8042_source src)
{
    s->obf_data = b;
    s->obf_source = (uint8_t)src;
    s->obf = true;
    update_irqs(s);
}

static void write_outport(struct i8042 *s, uint8_t v)
{
    uint8_t old = s->outport;
    s->outport = v;
    if (((old ^ v) & OUT_A20) && s->set_a20)
        s->set_a20(s->opaque, (v & OUT_A20) != 0);
    if (!(v & OUT_RESET)) {
        s->outport |= OUT_RESET; /* the reset line is released again after the pulse */
        if (s->reset)
            s->reset(s->opaque);
    }
}

static uint8_t read_outport(const struct i8042 *s)
{
    uint8_t v = s->outport & (OUT_RESET | OUT_A20 | 0xc0 | 0x0c);
    if (s->obf && s->obf_source != I8042_SRC_AUX)
        v |= OUT_KBD_OBF;
    if (s->obf && s->obf_source == I8042_SRC_AUX)
        v |= OUT_AUX_OBF;
    return v;
}

static void write_command(struct i8042 *s, uint8_t cmd)
{
    if (cmd >= 0x20 && cmd <= 0x3f) {
        ctrl_reply(s, s->ram[cmd & 0x1f]);
        return;
    }
    if (cmd >= 0x60 && cmd <= 0x7f) {
        s->pending_cmd = cmd;
        return;
    }
    if (cmd >= 0xf0) {
        /* Pulse output port bits whose mask bit is 0; bit 0 is the CPU reset. */
        if (!(cmd & 1) && s->reset)
            s->reset(s->opaque);
        return;
    }
    switch (cmd) {
    case 0xa7:
        s->ram[0] |= CCB_AUX_DISABLE;
        break;
    case 0xa8:
        s->ram[0] &= ~CCB_AUX_DISABLE;
        refill(s);
        break;
    case 0xa9: /* aux interface test: 0 = no error */
    case 0xab: /* keyboard interface test */
        ctrl_reply(s, 0x00);
        break;
    case 0xaa: /* self test */
        s->status |= ST_SYS;
        ctrl_reply(s, 0x55);
        break;
    case 0xad:
        s->ram[0] |= CCB_KBD_DISABLE;
        break;
    case 0xae:
        s->ram[0] &= ~CCB_KBD_DISABLE;
        refill(s);
        break;
    case 0xc0: /* input port: keyboard not inhibited, color display */
        ctrl_reply(s, 0x80);
        break;
    case 0xd0:
        ctrl_reply(s, read_outport(s));
        break;
    case 0xd1:
    case 0xd2:
    case 0xd3:
    case 0xd4:
        s->pending_cmd = cmd;
        break;
    case 0xdd:
        write_outport(s, s->outport & ~OUT_A20);
        break;
    case 0xdf:
        write_outport(s, s->outport | OUT_A20);
        break;
    case 0xe0: /* test inputs */
        ctrl_reply(s, 0x00);
        break;
    default:
        log_printf(s->log, LOG_UNIMP, "i8042: unknown command 0x%02x\n", cmd);
        break;
    }
}

static void write_data(struct i8042 *s, uint8_t v)
{
    uint8_t cmd = s->pending_cmd;
    s->pending_cmd = 0;
    if (cmd >= 0x60 && cmd <= 0x7f) {
        s->ram[cmd & 0x1f] = v;
        if (cmd == 0x60) {
            if (v & CCB_SYS)
                s->status |= ST_SYS;
            else
                s->status &= ~ST_SYS;
            refill(s);
        }
        return;
    }
    switch (cmd) {
    case 0xd1:
        write_outport(s, v);
        break;
    case 0xd2:
        inject(s, v, I8042_SRC_KBD);
        break;
    case 0xd3:
        inject(s, v, I8042_SRC_AUX);
        break;
    case 0xd4:
        ps2_mouse_write(&s->mouse, v);
        break;
    default:
        /* No controller command pending: the byte goes to the keyboard. */
        ps2_kbd_write(&s->kbd, v);
        break;
    }
}

static uint32_t i8042_io_read(void *opaque, uint16_t port, unsigned size)
{
    struct i8042 *s = opaque;
    (void)size;
    if (port == 0x64) {
        uint8_t st = (uint8_t)((s->status & (ST_SYS | ST_CMD)) | ST_UNLOCKED);
        if (s->obf) {
            st |= ST_OBF;
            if (s->obf_source == I8042_SRC_AUX)
                st |= ST_AUX_OBF;
        }
        return st;
    }
    uint8_t v = s->obf_data; /* reading an empty buffer returns the last byte again */
    s->obf = false;
    update_irqs(s);
    refill(s);
    return v;
}

static void i8042_io_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct i8042 *s = opaque;
    (void)size;
    if (port == 0x64) {
        s->status |= ST_CMD;
        s->pending_cmd = 0;
        write_command(s, (uint8_t)value);
    } else {
        s->status &= ~ST_CMD;
        write_data(s, (uint8_t)value);
    }
}

void i8042_key_event(struct i8042 *s, uint16_t set1_code, bool down)
{
    ps2_kbd_key(&s->kbd, set1_code, down);
}

void i8042_mouse_event(struct i8042 *s, int dx, int dy, int dz, uint8_t buttons)
{
    ps2_mouse_event(&s->mouse, dx, dy, dz, buttons);
}

void i8042_reset(struct i8042 *s)
{
    memset(s->ram, 0, sizeof(s->ram));
    s->ram[0] = CCB_KBD_INT | CCB_AUX_INT | CCB_XLATE;
    s->status = 0;
    s->pending_cmd = 0;
    s->obf = false;
    s->obf_data = 0;
    s->ctrl_q_count = 0;
    s->xlat_break = false;
    s->outport = OUT_RESET | OUT_A20; /* A20 enabled at power-on, as on QEMU's pc */
    if (s->set_a20)
        s->set_a20(s->opaque, true);
    ps2_kbd_reset(&s->kbd);
    ps2_mouse_reset(&s->mouse);
    update_irqs(s);
}

void i8042_init(struct i8042 *s, struct io_bus *io, struct irq_line irq_kbd,
                struct irq_line irq_mouse, i8042_a20_fn set_a20, i8042_reset_fn reset,
                void *opaque, struct pcvm_log *log)
{
    memset(s, 0, sizeof(*s));
    s->irq_kbd = irq_kbd;
    s->irq_mouse = irq_mouse;
    s->set_a20 = set_a20;
    s->reset = reset;
    s->opaque = opaque;
    s->log = log;
    ps2_kbd_init(&s->kbd, device_notify, s);
    ps2_mouse_init(&s->mouse, device_notify, s);
    i8042_reset(s);
    io_register(io, 0x60, 1, s, i8042_io_read, i8042_io_write, IO_SIZE_1, "i8042-data");
    io_register(io, 0x64, 1, s, i8042_io_read, i8042_io_write, IO_SIZE_1, "i8042-cmd");
}

/* ---- saved state ---- */

static const struct vmstate_field i8042_fields[] = {
    VMF_ARRAY(struct i8042, ram), VMF(struct i8042, status), VMF(struct i8042, outport),
    VMF(struct i8042, pending_cmd), VMF(struct i8042, obf), VMF(struct i8042, obf_data),
    VMF_MAX(struct i8042, obf_source, I8042_SRC_AUX), VMF_ARRAY(struct i8042, ctrl_q),
    VMF_MAX(struct i8042, ctrl_q_count, 4), VMF(struct i8042, xlat_break),
    VMF_MAX(struct i8042, irq1_level, 1), VMF_MAX(struct i8042, irq12_level, 1),
    VMF_STRUCT(struct i8042, kbd, ps2_kbd_vmstate), VMF_STRUCT(struct i8042, mouse, ps2_mouse_vmstate),
    VMF_END_OF_LIST,
};
const struct vmstate_desc i8042_vmstate = { .name = "i8042", .version = 1, .fields = i8042_fields };
