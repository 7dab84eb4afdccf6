/* Whole-machine snapshots: the machine state (RAM, every vCPU, every device, the user
 * networks) built and loaded in pcvm's format (migration/mstate.h), stored in the VM-state
 * area of qcow2 internal snapshots (savevm/loadvm/delvm/info snapshots, QMP snapshot-save/
 * -load/-delete jobs, -loadvm) or in files and streams (migrate, -incoming: migration/migrate.c). */
#ifndef PCVM_MACHINE_SNAPSHOT_H
#define PCVM_MACHINE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/devmodel.h"
#include "migration/mstate.h"

struct pc;

/* A built machine state: the header and meta in memory (padded to the RAM offset), the RAM
 * pages still in guest memory (written out run by run). */
struct pc_state {
    struct vmbuf head;              /* header + meta + padding: h.ram_off bytes */
    struct mstate_header h;
    uint8_t *bitmap;                /* non-zero pages (owned copy) */
    uint64_t pages;
    const uint8_t *ram;
};

/* Build the state of a stopped machine (raw_ram: RAM as a page-aligned image, else packed);
 * 0 or -1 with one line in err (a device that cannot be saved ...). */
int pc_state_build(struct pc *pc, bool raw_ram, struct pc_state *st, char *err, size_t errlen);
/* Total bytes of the state. */
uint64_t pc_state_size(const struct pc_state *st);
/* The next run of non-zero pages at or after page *pos (advanced past it); false at the end. */
bool pc_state_next_run(const struct pc_state *st, uint64_t *pos, uint64_t *packed, struct mstate_run *run);
/* Free what pc_state_build made. */
void pc_state_free(struct pc_state *st);

/* Load a state into a stopped machine: everything is checked before anything changes; 0, or
 * -1 with one line in err (*changed tells whether the machine was touched already). */
int pc_state_load(struct pc *pc, const struct mstate_source *src, bool *changed, char *err, size_t errlen);

/* Save a snapshot NAME of every writable qcow2 drive with the machine state (HMP savevm:
 * overwrite replaces one of that name); 0 or -1 with err. vmstate/devices (QMP) choose the
 * drives by name (NULL: all, the first takes the state). */
int pc_snapshot_save(struct pc *pc, const char *name, bool overwrite, const char *vmstate,
                     const char *const *devices, unsigned ndevices, char *err, size_t errlen);
/* Revert every such drive to snapshot NAME and load its machine state; 0 or -1 with err. */
int pc_snapshot_load(struct pc *pc, const char *name, const char *vmstate, const char *const *devices,
                     unsigned ndevices, char *err, size_t errlen);
/* Delete snapshot NAME from every drive that has it; 0 or -1 with err. */
int pc_snapshot_delete(struct pc *pc, const char *name, const char *const *devices, unsigned ndevices,
                       char *err, size_t errlen);
/* Add savevm, loadvm, delvm, info snapshots and the QMP snapshot jobs to the monitor. */
void pc_snapshot_register(struct pc *pc);
/* Free the snapshot code's state (pc_destroy). */
void pc_snapshot_destroy(struct pc *pc);
/* -loadvm and -incoming at start (before the run); 0 or -1 with err. */
int pc_snapshot_startup(struct pc *pc, char *err, size_t errlen);

#endif
