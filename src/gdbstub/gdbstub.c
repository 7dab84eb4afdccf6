/* GDB remote protocol: packet framing, commands, all-stop run control. */
#include "gdbstub/gdbstub.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chardev/chardev.h"
#include "cpu/cpu.h"
#include "cpu/debug.h"
#include "cpu/mmu.h"

/* qqemu.sstep bits, as QEMU defines them for gdb. */
enum { SSTEP_ENABLE = 1, SSTEP_NOIRQ = 2, SSTEP_NOTIMER = 4 };

enum rx_state { RX_IDLE, RX_DATA, RX_CHECK1, RX_CHECK2 };

/* Unix signal numbers in stop replies. */
enum { GDB_SIGINT = 2, GDB_SIGTRAP = 5 };

struct gdbstub {
    struct gdbstub_target t;
    struct chardev *chr;

    /* Receiving. */
    enum rx_state rx;
    uint8_t rx_buf[GDBSTUB_PACKET_MAX + 1];
    size_t rx_len;
    bool rx_overflow;
    uint8_t rx_sum;
    char rx_check[2];
    bool no_ack;              /* after QStartNoAckMode */

    /* Sending: the reply being built and the last packet sent (for a '-' retransmit). */
    char reply[2 * GDBSTUB_PACKET_MAX + 16];
    size_t reply_len;
    uint8_t last_tx[2 * GDBSTUB_PACKET_MAX + 32];
    size_t last_tx_len;

    /* Session. */
    bool running;             /* resumed by gdb: a stop reply is owed */
    unsigned g_cpu, c_cpu;    /* Hg / Hc thread (index into cpus) */
    bool phys_mode;           /* Qqemu.PhyMemMode:1: m/M/X take physical addresses */
    unsigned sstep_flags;
    char monitor_out[16384];  /* qRcmd output */
};

/* ---- Output ---- */

static const char hexdigits[] = "0123456789abcdef";

static void reply_reset(struct gdbstub *gs)
{
    gs->reply_len = 0;
}

static void reply_bytes(struct gdbstub *gs, const void *data, size_t len)
{
    size_t room = sizeof(gs->reply) - 1 - gs->reply_len;
    if (len > room)
        len = room;
    memcpy(gs->reply + gs->reply_len, data, len);
    gs->reply_len += len;
}

static void reply_str(struct gdbstub *gs, const char *s)
{
    reply_bytes(gs, s, strlen(s));
}

static void reply_fmt(struct gdbstub *gs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply_fmt(struct gdbstub *gs, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        reply_bytes(gs, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void reply_hex(struct gdbstub *gs, const uint8_t *data, size_t len)
{
    for (size_t k = 0; k < len && gs->reply_len + 2 < sizeof(gs->reply); k++) {
        gs->reply[gs->reply_len++] = hexdigits[data[k] >> 4];
        gs->reply[gs->reply_len++] = hexdigits[data[k] & 15];
    }
}

/* Binary data as gdb reads it: '#', '$', '}' and '*' escaped as '}' followed by c ^ 0x20. */
static void reply_binary(struct gdbstub *gs, const uint8_t *data, size_t len)
{
    for (size_t k = 0; k < len && gs->reply_len + 2 < sizeof(gs->reply); k++) {
        uint8_t c = data[k];
        if (c == '#' || c == '$' || c == '}' || c == '*') {
            gs->reply[gs->reply_len++] = '}';
            c ^= 0x20;
        }
        gs->reply[gs->reply_len++] = (char)c;
    }
}

static void write_raw(struct gdbstub *gs, const void *data, size_t len)
{
    chardev_write(gs->chr, data, len);
}

/* Frame the reply as $data#ck and send it. */
static void send_reply(struct gdbstub *gs)
{
    uint8_t sum = 0;
    size_t n = 0;
    gs->last_tx[n++] = '$';
    for (size_t k = 0; k < gs->reply_len; k++) {
        sum = (uint8_t)(sum + (uint8_t)gs->reply[k]);
        gs->last_tx[n++] = (uint8_t)gs->reply[k];
    }
    gs->last_tx[n++] = '#';
    gs->last_tx[n++] = (uint8_t)hexdigits[sum >> 4];
    gs->last_tx[n++] = (uint8_t)hexdigits[sum & 15];
    gs->last_tx_len = n;
    write_raw(gs, gs->last_tx, n);
    reply_reset(gs);
}

static void send_str(struct gdbstub *gs, const char *s)
{
    reply_reset(gs);
    reply_str(gs, s);
    send_reply(gs);
}

/* ---- Parsing helpers ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A hex number at *p (at least one digit, at most 16); advances *p. */
static bool parse_hex(const char **p, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;
    while (hexval(**p) >= 0) {
        if (++n > 16)
            return false;
        v = (v << 4) | (uint64_t)hexval(**p);
        (*p)++;
    }
    *out = v;
    return n > 0;
}

static bool parse_hex32(const char **p, uint32_t *out)
{
    uint64_t v;
    if (!parse_hex(p, &v) || v > 0xffffffffu)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* len bytes from 2*len hex digits; false when a digit is bad or missing. */
static bool hex_to_bytes(const char *s, size_t slen, uint8_t *out, size_t len)
{
    if (slen < 2 * len)
        return false;
    for (size_t k = 0; k < len; k++) {
        int hi = hexval(s[2 * k]), lo = hexval(s[2 * k + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[k] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* A thread id: "-1" (all), "0" (any), a hex number, or multiprocess "pPID.TID". Returns the
 * cpu index, -1 for all/any, or -2 when invalid or not a vCPU. */
static int parse_thread(struct gdbstub *gs, const char **p)
{
    if (**p == 'p') {
        (*p)++;
        uint64_t pid;
        if (**p == '-' && (*p)[1] == '1')
            *p += 2;
        else if (!parse_hex(p, &pid))
            return -2;
        if (**p != '.')
            return -1;
        (*p)++;
    }
    if (**p == '-' && (*p)[1] == '1') {
        *p += 2;
        return -1;
    }
    uint64_t tid;
    if (!parse_hex(p, &tid))
        return -2;
    if (tid == 0)
        return -1;
    if (tid > gs->t.ncpus)
        return -2;
    return (int)(tid - 1);
}

static struct cpu *cpu_at(struct gdbstub *gs, unsigned index)
{
    return gs->t.cpus[index < gs->t.ncpus ? index : 0];
}

/* ---- Run control ---- */

static bool vm_paused(struct gdbstub *gs)
{
    return gs->t.is_paused ? gs->t.is_paused(gs->t.opaque) : true;
}

/* All-stop: every vCPU stops; stepping and holding end. */
static void stop_all(struct gdbstub *gs)
{
    if (gs->t.set_paused && !vm_paused(gs))
        gs->t.set_paused(gs->t.opaque, true);
    for (unsigned k = 0; k < gs->t.ncpus; k++) {
        cpu_debug_set_step(gs->t.cpus[k], false, false);
        gs->t.cpus[k]->dbg.hold = false;
    }
}

/* Resume: step_cpu >= 0 runs that vCPU alone for one instruction; else every vCPU runs. */
static void resume(struct gdbstub *gs, int step_cpu)
{
    for (unsigned k = 0; k < gs->t.ncpus; k++) {
        struct cpu *cpu = gs->t.cpus[k];
        bool step = (int)k == step_cpu;
        cpu_debug_set_step(cpu, step, (gs->sstep_flags & SSTEP_NOIRQ) != 0);
        cpu->dbg.hold = step_cpu >= 0 && !step;
        cpu->dbg.stop = CPU_STOP_NONE;
    }
    gs->running = true;
    if (gs->t.set_paused)
        gs->t.set_paused(gs->t.opaque, false);
    /* Timers wait during the step, unless the vCPU sleeps in HLT: only a timer can end that. */
    if (step_cpu >= 0 && (gs->sstep_flags & SSTEP_NOTIMER) && gs->t.set_clock_running &&
        !gs->t.cpus[step_cpu]->halted)
        gs->t.set_clock_running(gs->t.opaque, false);
}

static void remove_all_points(struct gdbstub *gs)
{
    for (unsigned k = 0; k < gs->t.ncpus; k++)
        cpu_debug_clear(gs->t.cpus[k]);
}

/* T-packet stop reply for cpu. */
static void send_stop_reply(struct gdbstub *gs, struct cpu *cpu, int sig)
{
    reply_reset(gs);
    reply_fmt(gs, "T%02xthread:%02x;", sig, cpu->index + 1);
    if (sig == GDB_SIGTRAP) {
        switch (cpu->dbg.stop) {
        case CPU_STOP_SW_BREAK: reply_str(gs, "swbreak:;"); break;
        case CPU_STOP_HW_BREAK: reply_str(gs, "hwbreak:;"); break;
        case CPU_STOP_WATCH: {
            static const char *const kinds[4] = { "", "watch", "rwatch", "awatch" };
            reply_fmt(gs, "%s:%08x;", kinds[cpu->dbg.stop_watch_kind & 3], cpu->dbg.stop_addr);
            break;
        }
        default: break;
        }
    }
    send_reply(gs);
}

void gdbstub_cpu_stopped(struct gdbstub *gs, struct cpu *cpu)
{
    stop_all(gs);
    gs->g_cpu = gs->c_cpu = (unsigned)cpu->index < gs->t.ncpus ? (unsigned)cpu->index : 0;
    if (gs->running) {
        gs->running = false;
        send_stop_reply(gs, cpu, GDB_SIGTRAP);
    }
}

/* ---- Memory ---- */

/* Copy len bytes between buf and guest memory at addr (linear through the selected vCPU's
 * paging, or physical in PhyMemMode). False when a page is not mapped. */
static bool access_memory(struct gdbstub *gs, uint32_t addr, uint8_t *buf, size_t len, bool write)
{
    struct cpu *cpu = cpu_at(gs, gs->g_cpu);
    while (len) {
        size_t chunk = 4096 - (addr & 4095);
        if (chunk > len)
            chunk = len;
        uint32_t phys = addr;
        if (!gs->phys_mode && !cpu_probe(cpu, addr, &phys))
            return false;
        for (size_t k = 0; k < chunk; k++) {
            if (write)
                phys_write(cpu->mem, phys + (uint32_t)k, buf[k], 1);
            else
                buf[k] = (uint8_t)phys_read(cpu->mem, phys + (uint32_t)k, 1);
        }
        buf += chunk;
        addr += (uint32_t)chunk;
        len -= chunk;
    }
    return true;
}

static void cmd_read_memory(struct gdbstub *gs, const char *p)
{
    uint32_t addr, len;
    if (!parse_hex32(&p, &addr) || *p++ != ',' || !parse_hex32(&p, &len) || *p) {
        send_str(gs, "E22");
        return;
    }
    if (len > GDBSTUB_PACKET_MAX / 2 - 8)
        len = GDBSTUB_PACKET_MAX / 2 - 8;
    uint8_t buf[GDBSTUB_PACKET_MAX / 2];
    if (!access_memory(gs, addr, buf, len, false)) {
        send_str(gs, "E14");
        return;
    }
    reply_reset(gs);
    reply_hex(gs, buf, len);
    send_reply(gs);
}

/* M addr,len:hex and X addr,len:binary (data already unescaped, of size datalen). */
static void cmd_write_memory(struct gdbstub *gs, const char *p, size_t plen, bool binary)
{
    const char *start = p;
    uint32_t addr, len;
    if (!parse_hex32(&p, &addr) || *p++ != ',' || !parse_hex32(&p, &len) || *p++ != ':' ||
        len > GDBSTUB_PACKET_MAX) {
        send_str(gs, "E22");
        return;
    }
    size_t have = plen - (size_t)(p - start);
    uint8_t buf[GDBSTUB_PACKET_MAX];
    if (binary) {
        if (have != len) {
            send_str(gs, "E22");
            return;
        }
        memcpy(buf, p, len);
    } else if (have != 2 * (size_t)len || !hex_to_bytes(p, have, buf, len)) {
        send_str(gs, "E22");
        return;
    }
    send_str(gs, access_memory(gs, addr, buf, len, true) ? "OK" : "E14");
}

/* ---- Registers ---- */

static void cmd_read_registers(struct gdbstub *gs)
{
    struct cpu *cpu = cpu_at(gs, gs->g_cpu);
    reply_reset(gs);
    for (unsigned n = 0; n < gdbstub_reg_count(); n++) {
        uint8_t buf[16];
        int size = gdbstub_reg_read(cpu, n, buf);
        if (size > 0)
            reply_hex(gs, buf, (size_t)size);
    }
    send_reply(gs);
}

static void cmd_write_registers(struct gdbstub *gs, const char *p, size_t plen)
{
    struct cpu *cpu = cpu_at(gs, gs->g_cpu);
    size_t off = 0;
    bool ok = true;
    for (unsigned n = 0; n < gdbstub_reg_count() && off < plen; n++) {
        unsigned size = gdbstub_reg_size(n);
        uint8_t buf[16], cur[16];
        if (!hex_to_bytes(p + off, plen - off, buf, size)) {
            send_str(gs, "E22");
            return;
        }
        off += 2 * size;
        /* Only what changed: registers that cannot be set may come back unchanged. */
        if (gdbstub_reg_read(cpu, n, cur) == (int)size && !memcmp(cur, buf, size))
            continue;
        if (gdbstub_reg_write(cpu, n, buf) < 0)
            ok = false;
    }
    send_str(gs, ok ? "OK" : "E22");
}

static void cmd_read_register(struct gdbstub *gs, const char *p)
{
    uint32_t n;
    uint8_t buf[16];
    int size;
    if (!parse_hex32(&p, &n) || *p || (size = gdbstub_reg_read(cpu_at(gs, gs->g_cpu), n, buf)) < 0) {
        send_str(gs, "E00");
        return;
    }
    reply_reset(gs);
    reply_hex(gs, buf, (size_t)size);
    send_reply(gs);
}

static void cmd_write_register(struct gdbstub *gs, const char *p, size_t plen)
{
    const char *start = p;
    uint32_t n;
    uint8_t buf[16];
    if (!parse_hex32(&p, &n) || *p++ != '=' || !gdbstub_reg_size(n)) {
        send_str(gs, "E22");
        return;
    }
    size_t have = plen - (size_t)(p - start);
    unsigned size = gdbstub_reg_size(n);
    if (have != 2 * size || !hex_to_bytes(p, have, buf, size) ||
        gdbstub_reg_write(cpu_at(gs, gs->g_cpu), n, buf) < 0) {
        send_str(gs, "E22");
        return;
    }
    send_str(gs, "OK");
}

/* ---- Breakpoints and watchpoints ---- */

static void cmd_breakpoint(struct gdbstub *gs, const char *p, bool insert)
{
    uint32_t type, addr, kind;
    if (!parse_hex32(&p, &type) || *p++ != ',' || !parse_hex32(&p, &addr) || *p++ != ',' ||
        !parse_hex32(&p, &kind) || (*p && *p != ';')) {
        send_str(gs, "E22");
        return;
    }
    if (type > 4) {
        send_str(gs, "");      /* not supported: gdb falls back or says so */
        return;
    }
    static const enum cpu_watch_kind watch_kinds[5] = { 0, 0, CPU_WATCH_WRITE, CPU_WATCH_READ,
                                                        CPU_WATCH_ACCESS };
    unsigned done = 0;
    int r = 0;
    for (unsigned k = 0; k < gs->t.ncpus && r == 0; k++, done++) {
        struct cpu *cpu = gs->t.cpus[k];
        if (type <= 1)
            r = insert ? cpu_debug_insert_break(cpu, addr, type == 1)
                       : cpu_debug_remove_break(cpu, addr, type == 1);
        else
            r = insert ? cpu_debug_insert_watch(cpu, addr, kind, watch_kinds[type])
                       : cpu_debug_remove_watch(cpu, addr, kind, watch_kinds[type]);
    }
    if (r < 0 && insert) {
        /* Roll back the vCPUs that took it: all or none. */
        for (unsigned k = 0; k + 1 < done; k++) {
            if (type <= 1)
                cpu_debug_remove_break(gs->t.cpus[k], addr, type == 1);
            else
                cpu_debug_remove_watch(gs->t.cpus[k], addr, kind, watch_kinds[type]);
        }
    }
    send_str(gs, r < 0 ? "E22" : "OK");
}

/* ---- Queries ---- */

static void send_thread_extra(struct gdbstub *gs, const char *p)
{
    int idx = parse_thread(gs, &p);
    if (idx < 0) {
        send_str(gs, "E22");
        return;
    }
    struct cpu *cpu = gs->t.cpus[idx];
    char text[64];
    bool halted = cpu->halted || cpu->sys.wait_for_sipi;
    snprintf(text, sizeof(text), "CPU#%d [%s]", cpu->index, halted ? "halted" : "running");
    reply_reset(gs);
    reply_hex(gs, (const uint8_t *)text, strlen(text));
    send_reply(gs);
}

static void cmd_monitor(struct gdbstub *gs, const char *hex)
{
    size_t hlen = strlen(hex);
    char cmd[1024];
    if (hlen % 2 || hlen / 2 >= sizeof(cmd) || !hex_to_bytes(hex, hlen, (uint8_t *)cmd, hlen / 2)) {
        send_str(gs, "E22");
        return;
    }
    cmd[hlen / 2] = '\0';
    if (memchr(cmd, '\0', hlen / 2)) {
        send_str(gs, "E22");
        return;
    }
    if (!gs->t.monitor_command) {
        send_str(gs, "E01");
        return;
    }
    char *out = gs->monitor_out;
    out[0] = '\0';
    gs->t.monitor_command(gs->t.opaque, cmd, out, sizeof(gs->monitor_out));
    /* Console output packets: 'O' + hex, in pieces; the monitor's "\r\n" becomes "\n". */
    size_t len = strlen(out), k = 0;
    while (k < len) {
        reply_reset(gs);
        reply_str(gs, "O");
        size_t n = 0;
        while (k < len && n < 2048) {
            if (out[k] != '\r') {
                reply_hex(gs, (const uint8_t *)&out[k], 1);
                n++;
            }
            k++;
        }
        if (n)
            send_reply(gs);
        else
            reply_reset(gs);
    }
    send_str(gs, "OK");
}

static void cmd_xfer_features(struct gdbstub *gs, const char *p)
{
    /* qXfer:features:read:ANNEX:OFFSET,LENGTH */
    const char *colon = strchr(p, ':');
    uint32_t off, len;
    if (!colon || (size_t)(colon - p) != strlen("target.xml") || strncmp(p, "target.xml", 10)) {
        send_str(gs, "E00");
        return;
    }
    p = colon + 1;
    if (!parse_hex32(&p, &off) || *p++ != ',' || !parse_hex32(&p, &len) || *p) {
        send_str(gs, "E22");
        return;
    }
    const char *xml = gdbstub_target_xml();
    size_t total = strlen(xml);
    if (len > GDBSTUB_PACKET_MAX / 2)
        len = GDBSTUB_PACKET_MAX / 2;
    reply_reset(gs);
    if (off >= total) {
        reply_str(gs, "l");
    } else {
        size_t n = total - off < len ? total - off : len;
        reply_str(gs, off + n < total ? "m" : "l");
        reply_binary(gs, (const uint8_t *)xml + off, n);
    }
    send_reply(gs);
}

static bool starts(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

static void cmd_query(struct gdbstub *gs, const char *p)
{
    if (starts(p, "qSupported")) {
        /* A new session: nothing of an earlier one stays inserted. */
        remove_all_points(gs);
        gs->phys_mode = false;
        reply_reset(gs);
        reply_fmt(gs, "PacketSize=%x;qXfer:features:read+;swbreak+;hwbreak+;vContSupported+;"
                      "QStartNoAckMode+", GDBSTUB_PACKET_MAX);
        send_reply(gs);
    } else if (starts(p, "qXfer:features:read:")) {
        cmd_xfer_features(gs, p + strlen("qXfer:features:read:"));
    } else if (!strcmp(p, "qC")) {
        reply_reset(gs);
        reply_fmt(gs, "QC%x", gs->g_cpu + 1);
        send_reply(gs);
    } else if (!strcmp(p, "qfThreadInfo")) {
        reply_reset(gs);
        reply_str(gs, "m");
        for (unsigned k = 0; k < gs->t.ncpus; k++)
            reply_fmt(gs, k ? ",%x" : "%x", k + 1);
        send_reply(gs);
    } else if (!strcmp(p, "qsThreadInfo")) {
        send_str(gs, "l");
    } else if (starts(p, "qThreadExtraInfo,")) {
        send_thread_extra(gs, p + strlen("qThreadExtraInfo,"));
    } else if (starts(p, "qAttached")) {
        send_str(gs, "1");
    } else if (starts(p, "qRcmd,")) {
        cmd_monitor(gs, p + strlen("qRcmd,"));
    } else if (!strcmp(p, "qqemu.sstepbits")) {
        send_str(gs, "ENABLE=1,NOIRQ=2,NOTIMER=4");
    } else if (!strcmp(p, "qqemu.sstep")) {
        reply_reset(gs);
        reply_fmt(gs, "0x%x", gs->sstep_flags);
        send_reply(gs);
    } else if (!strcmp(p, "qqemu.PhyMemMode")) {
        send_str(gs, gs->phys_mode ? "1" : "0");
    } else if (starts(p, "qSymbol")) {
        send_str(gs, "OK");
    } else {
        send_str(gs, "");
    }
}

static void cmd_set(struct gdbstub *gs, const char *p)
{
    uint64_t v;
    if (!strcmp(p, "QStartNoAckMode")) {
        send_str(gs, "OK");
        gs->no_ack = true;
    } else if (starts(p, "Qqemu.sstep=")) {
        p += strlen("Qqemu.sstep=");
        if (!parse_hex(&p, &v) || *p || v > 7) {
            send_str(gs, "E22");
            return;
        }
        gs->sstep_flags = (unsigned)v;
        send_str(gs, "OK");
    } else if (starts(p, "Qqemu.PhyMemMode:")) {
        p += strlen("Qqemu.PhyMemMode:");
        if ((*p != '0' && *p != '1') || p[1]) {
            send_str(gs, "E22");
            return;
        }
        gs->phys_mode = *p == '1';
        send_str(gs, "OK");
    } else {
        send_str(gs, "");
    }
}

/* ---- Resuming ---- */

/* c [addr], s [addr], C sig[;addr], S sig[;addr]: the Hc thread (or the last stopped). */
static void cmd_resume(struct gdbstub *gs, char op, const char *p)
{
    uint32_t addr;
    if (op == 'C' || op == 'S') {
        uint32_t sig;
        if (!parse_hex32(&p, &sig)) {
            send_str(gs, "E22");
            return;
        }
        if (*p == ';')
            p++;
    }
    if (*p) {
        if (!parse_hex32(&p, &addr) || *p) {
            send_str(gs, "E22");
            return;
        }
        cpu_at(gs, gs->c_cpu)->eip = addr;
    }
    bool step = op == 's' || op == 'S';
    resume(gs, step ? (int)gs->c_cpu : -1);
}

/* vCont;ACTION[:THREAD]...: a step action for a thread steps that vCPU alone (all-stop, the
 * others wait); otherwise every vCPU continues. */
static void cmd_vcont(struct gdbstub *gs, const char *p)
{
    int step_cpu = -1;
    bool any = false;
    while (*p == ';') {
        p++;
        char act = *p++;
        if (act == 'C' || act == 'S') {
            uint64_t sig;
            if (!parse_hex(&p, &sig)) {
                send_str(gs, "E22");
                return;
            }
        } else if (act != 'c' && act != 's') {
            send_str(gs, "E22");     /* t, r: not in all-stop pcvm */
            return;
        }
        int thread = -1;
        if (*p == ':') {
            p++;
            thread = parse_thread(gs, &p);
            if (thread == -2) {
                send_str(gs, "E22");
                return;
            }
        }
        if ((act == 's' || act == 'S') && step_cpu < 0)
            step_cpu = thread >= 0 ? thread : (int)gs->c_cpu;
        any = true;
    }
    if (!any || *p) {
        send_str(gs, "E22");
        return;
    }
    resume(gs, step_cpu);
}

static void cmd_v(struct gdbstub *gs, const char *p)
{
    if (!strcmp(p, "vCont?")) {
        send_str(gs, "vCont;c;C;s;S");
    } else if (starts(p, "vCont;")) {
        cmd_vcont(gs, p + 5);
    } else if (starts(p, "vKill")) {
        send_str(gs, "OK");
        if (gs->t.quit)
            gs->t.quit(gs->t.opaque);
    } else {
        send_str(gs, "");
    }
}

/* ---- Dispatch ---- */

static void handle_packet(struct gdbstub *gs, const char *p, size_t len)
{
    /* gdb talks to a stopped target: a packet while the guest runs (a new connection, or the
     * monitor's cont) stops it first. */
    if (!vm_paused(gs) || gs->running) {
        stop_all(gs);
        gs->running = false;
    }
    const char *arg = p + 1;
    switch (p[0]) {
    case '?': {
        struct cpu *cpu = cpu_at(gs, gs->c_cpu);
        send_stop_reply(gs, cpu, GDB_SIGTRAP);
        break;
    }
    case 'g': if (len == 1) cmd_read_registers(gs); else send_str(gs, "E22"); break;
    case 'G': cmd_write_registers(gs, arg, len - 1); break;
    case 'p': cmd_read_register(gs, arg); break;
    case 'P': cmd_write_register(gs, arg, len - 1); break;
    case 'm': cmd_read_memory(gs, arg); break;
    case 'M': cmd_write_memory(gs, arg, len - 1, false); break;
    case 'X': cmd_write_memory(gs, arg, len - 1, true); break;
    case 'Z': cmd_breakpoint(gs, arg, true); break;
    case 'z': cmd_breakpoint(gs, arg, false); break;
    case 'c': case 's': case 'C': case 'S': cmd_resume(gs, p[0], arg); break;
    case 'H': {
        if (len < 2) {
            send_str(gs, "E22");
            break;
        }
        char op = *arg++;
        int t = parse_thread(gs, &arg);
        if ((op != 'g' && op != 'c') || t == -2 || *arg) {
            send_str(gs, "E22");
            break;
        }
        if (t >= 0) {
            if (op == 'g')
                gs->g_cpu = (unsigned)t;
            else
                gs->c_cpu = (unsigned)t;
        }
        send_str(gs, "OK");
        break;
    }
    case 'T': {
        int t = parse_thread(gs, &arg);
        send_str(gs, t >= 0 && !*arg ? "OK" : "E22");
        break;
    }
    case 'q': cmd_query(gs, p); break;
    case 'Q': cmd_set(gs, p); break;
    case 'v': cmd_v(gs, p); break;
    case 'D':
        /* Detach: nothing stays inserted, the guest runs on. */
        remove_all_points(gs);
        send_str(gs, "OK");
        resume(gs, -1);
        gs->running = false;
        break;
    case 'k':
        remove_all_points(gs);
        if (gs->t.quit)
            gs->t.quit(gs->t.opaque);
        break;
    default:
        send_str(gs, "");     /* unknown: the protocol's "not supported" */
        break;
    }
}

/* Ctrl-C from gdb: stop and report SIGINT. */
static void handle_interrupt(struct gdbstub *gs)
{
    if (!gs->running)
        return;
    stop_all(gs);
    gs->running = false;
    send_stop_reply(gs, cpu_at(gs, gs->c_cpu), GDB_SIGINT);
}

/* A complete frame arrived: check it, acknowledge, unescape and run it. */
static void frame_done(struct gdbstub *gs)
{
    int hi = hexval(gs->rx_check[0]), lo = hexval(gs->rx_check[1]);
    if (hi < 0 || lo < 0 || (uint8_t)(hi << 4 | lo) != gs->rx_sum) {
        write_raw(gs, "-", 1);      /* gdb sends it again */
        return;
    }
    if (!gs->no_ack)
        write_raw(gs, "+", 1);
    if (gs->rx_overflow || gs->rx_len == 0) {
        send_str(gs, "E01");
        return;
    }
    /* Undo the '}' escapes (binary data of X packets). */
    size_t out = 0;
    for (size_t k = 0; k < gs->rx_len; k++) {
        uint8_t c = gs->rx_buf[k];
        if (c == '}') {
            if (++k >= gs->rx_len) {
                send_str(gs, "E01");
                return;
            }
            c = gs->rx_buf[k] ^ 0x20;
        }
        gs->rx_buf[out++] = c;
    }
    gs->rx_buf[out] = '\0';
    /* Text packets stop at a NUL; X carries binary after its ':' (length checked there). */
    if (gs->rx_buf[0] != 'X' && memchr(gs->rx_buf, '\0', out)) {
        send_str(gs, "E01");
        return;
    }
    handle_packet(gs, (const char *)gs->rx_buf, out);
}

void gdbstub_input(struct gdbstub *gs, const uint8_t *buf, size_t len)
{
    for (size_t k = 0; k < len; k++) {
        uint8_t c = buf[k];
        switch (gs->rx) {
        case RX_IDLE:
            if (c == '$') {
                gs->rx = RX_DATA;
                gs->rx_len = 0;
                gs->rx_sum = 0;
                gs->rx_overflow = false;
            } else if (c == 0x03) {
                handle_interrupt(gs);
            } else if (c == '-' && !gs->no_ack && gs->last_tx_len) {
                write_raw(gs, gs->last_tx, gs->last_tx_len);
            }
            break;              /* '+' and noise between packets are ignored */
        case RX_DATA:
            if (c == '#') {
                gs->rx = RX_CHECK1;
            } else if (c == '$') {
                gs->rx_len = 0;  /* a new packet starts: the partial one is dropped */
                gs->rx_sum = 0;
                gs->rx_overflow = false;
            } else {
                gs->rx_sum = (uint8_t)(gs->rx_sum + c);
                if (gs->rx_len < GDBSTUB_PACKET_MAX)
                    gs->rx_buf[gs->rx_len++] = c;
                else
                    gs->rx_overflow = true;
            }
            break;
        case RX_CHECK1:
            gs->rx_check[0] = (char)c;
            gs->rx = RX_CHECK2;
            break;
        case RX_CHECK2:
            gs->rx_check[1] = (char)c;
            gs->rx = RX_IDLE;
            frame_done(gs);
            break;
        }
    }
}

/* ---- Chardev glue ---- */

static size_t chr_can_read(void *opaque)
{
    (void)opaque;
    return 4096;
}

static void chr_read(void *opaque, const uint8_t *buf, size_t len)
{
    gdbstub_input(opaque, buf, len);
}

struct gdbstub *gdbstub_new(const struct gdbstub_target *target, struct chardev *chr)
{
    struct gdbstub *gs = calloc(1, sizeof(*gs));
    if (!gs)
        return NULL;
    gs->t = *target;
    gs->chr = chr;
    gs->sstep_flags = SSTEP_ENABLE | SSTEP_NOIRQ | SSTEP_NOTIMER;
    chardev_attach(chr, chr_can_read, chr_read, gs);
    return gs;
}

void gdbstub_free(struct gdbstub *gs)
{
    if (!gs)
        return;
    chardev_attach(gs->chr, NULL, NULL, NULL);
    remove_all_points(gs);
    for (unsigned k = 0; k < gs->t.ncpus; k++)
        gs->t.cpus[k]->dbg.hold = false;
    free(gs);
}

void gdbstub_chardev_spec(const char *spec, char *out, size_t outlen)
{
    /* As QEMU: a tcp stub always listens, never holds the start, and sends without delay. */
    if (!strncmp(spec, "tcp:", 4))
        snprintf(out, outlen, "%s,server=on,wait=off,nodelay=on", spec);
    else
        snprintf(out, outlen, "%s", spec);
}
