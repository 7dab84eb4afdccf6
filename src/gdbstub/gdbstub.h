/* The GDB remote serial protocol stub (gdb's `target remote`), as gdb uses it with QEMU:
 * one thread per vCPU, all-stop, software and hardware breakpoints, watchpoints, single-step,
 * a target description with the i386 core, x87, SSE, segment-base and control registers, and
 * monitor commands through `monitor ...` (qRcmd).
 *
 * The stub knows the machine only through struct gdbstub_target; it talks over a chardev
 * (tcp, unix socket, stdio, pty, or a -chardev), whose input it takes as its front end. */
#ifndef PCVM_GDBSTUB_GDBSTUB_H
#define PCVM_GDBSTUB_GDBSTUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chardev;
struct cpu;
struct gdbstub;

/* Largest packet payload accepted and advertised (qSupported PacketSize). */
#define GDBSTUB_PACKET_MAX 16384

/* What the stub may ask of the machine. */
struct gdbstub_target {
    struct cpu **cpus;       /* the vCPUs; thread id n is cpus[n - 1] */
    unsigned ncpus;
    void *opaque;
    /* Stop (true) or resume (false) every vCPU and the virtual clock. */
    void (*set_paused)(void *opaque, bool paused);
    bool (*is_paused)(void *opaque);
    /* Run a monitor command line; its output (NUL-terminated, cut at outlen) into out. May be NULL. */
    void (*monitor_command)(void *opaque, const char *cmdline, char *out, size_t outlen);
    /* gdb's kill: pcvm exits (status 0). */
    void (*quit)(void *opaque);
    /* Freeze (false) the virtual clock while the vCPUs run: a single step with timers held
     * (qqemu.sstep NOTIMER). May be NULL. */
    void (*set_clock_running)(void *opaque, bool running);
};

/* Make a stub on chr (chr may be NULL for tests that call gdbstub_input directly).
 * NULL on allocation failure. */
struct gdbstub *gdbstub_new(const struct gdbstub_target *target, struct chardev *chr);
/* Detach from the chardev, remove every breakpoint and watchpoint, free. */
void gdbstub_free(struct gdbstub *gs);
/* Bytes from gdb (what the chardev delivers). */
void gdbstub_input(struct gdbstub *gs, const uint8_t *buf, size_t len);
/* cpu_run() returned CPU_EXIT_DEBUG on cpu: stop every vCPU and report it to gdb. */
void gdbstub_cpu_stopped(struct gdbstub *gs, struct cpu *cpu);
/* The chardev spec QEMU would open for -gdb SPEC ("tcp:..." becomes a server that does not
 * wait, without Nagle); into out. */
void gdbstub_chardev_spec(const char *spec, char *out, size_t outlen);

/* ---- Registers (gdbstub_regs.c) ---- */

/* Number of registers in the target description, in g-packet order. */
unsigned gdbstub_reg_count(void);
/* Register n of cpu in target byte order into buf (at least 16 bytes); its size, or -1. */
int gdbstub_reg_read(struct cpu *cpu, unsigned n, uint8_t *buf);
/* Write register n from buf (its size in bytes); 0, or -1 when the value cannot be set. */
int gdbstub_reg_write(struct cpu *cpu, unsigned n, const uint8_t *buf);
/* Size in bytes of register n (0 when out of range). */
unsigned gdbstub_reg_size(unsigned n);
/* The target description XML (qXfer:features:read:target.xml). */
const char *gdbstub_target_xml(void);

#endif
