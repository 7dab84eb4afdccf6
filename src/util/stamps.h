/* Time stamps of guest output (-stamps FILE).
 *
 * Every byte the guest sends through a serial port or a debug console port is recorded with
 * the virtual clock, the host clock and the retired-instruction count at the moment of the
 * OUT, so a tool can time boot phases exactly instead of reading a pipe.  The file is text,
 * one line per byte (docs/OPTIONS.md, "-stamps"):
 *
 *     # pcvm-stamps 1
 *     # clock=host|icount shift=N host_start_realtime_ns=N
 *     # virt_ns host_ns insns source byte
 *     52130045 52131870 4127763 serial0 4c
 *
 * Writes are buffered and may come from several threads (a mutex guards the buffer); the
 * run loop calls stamps_flush_due() so a reader following the file sees bytes within ~20 ms.
 */
#ifndef PCVM_UTIL_STAMPS_H
#define PCVM_UTIL_STAMPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/vclock.h"

#define STAMPS_MAX_SOURCES 16

struct stamp_writer;

/* What a device keeps: the writer (NULL = stamping off, the usual case) and its source id. */
struct stamp_tap {
    struct stamp_writer *w;
    uint8_t source;
};

/* Retired instructions so far, summed over every vCPU (supplied by the board). */
typedef uint64_t (*stamps_insns_fn)(void *opaque);

/* Create path (truncating it) and write the header; NULL with a message in err on failure.
 * clock gives virtual time; host time counts from clock->host_base. */
struct stamp_writer *stamps_open(const char *path, const struct vclock *clock, stamps_insns_fn insns,
                                 void *insns_opaque, char *err, size_t errlen);
/* A tap for the named source ("serial0", "debugcon"...); a tap with w == NULL if w is NULL. */
struct stamp_tap stamps_tap(struct stamp_writer *w, const char *source);
/* Record one byte written by the guest now (thread-safe). */
void stamps_record(struct stamp_writer *w, uint8_t source, uint8_t byte);
/* Write buffered stamps to the file now (thread-safe). */
void stamps_flush(struct stamp_writer *w);
/* Flush if stamps have waited in the buffer for more than ~20 ms of host time (cheap). */
void stamps_flush_due(struct stamp_writer *w);
/* Flush, close the file and free w (NULL: nothing); returns -1 if a write ever failed. */
int stamps_close(struct stamp_writer *w);

/* Record byte through tap if stamping is on: the whole cost when it is off is one test. */
static inline void stamp_tap_byte(const struct stamp_tap *tap, uint8_t byte)
{
    if (tap->w)
        stamps_record(tap->w, tap->source, byte);
}

#endif
