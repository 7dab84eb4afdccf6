/* Shared by the pc board's monitor files (pc_monitor.c, pc_monitor_hmp.c): drives as QEMU
 * names them, CD media changes, the chardev list, and the HMP table's registration. */
#ifndef PCVM_MACHINE_PC_MONITOR_H
#define PCVM_MACHINE_PC_MONITOR_H

#include <stdbool.h>
#include <stddef.h>

struct pc;

/* QEMU's name of IDE drive index 0-3 ("ide1-cd0", or its -drive id=); returns buf. */
const char *pc_drive_name(const struct pc *pc, int index, char *buf, size_t len);
/* True when IDE position index holds a disk or a CD-ROM drive (with or without medium). */
bool pc_drive_exists(const struct pc *pc, int index);
/* The index of the drive called name, or -1. */
int pc_drive_find(const struct pc *pc, const char *name);
/* True when drive index runs on a -snapshot overlay (its writes go to a temporary file). */
bool pc_drive_is_snapshot(const struct pc *pc, int index);
/* The image file of drive index (the user's file under -snapshot), NULL when empty. */
const char *pc_drive_file(const struct pc *pc, int index);
/* Eject the CD in device (DEVICE_TRAY_MOVED). Returns 0, -2 (no such device) or -1, with a
 * message in err. */
int pc_cd_eject(struct pc *pc, const char *device, bool force, char *err, size_t errlen);
/* Insert file (format NULL: probe) in CD drive device; the guest sees a media change.
 * Returns 0, -2 (no such device) or -1 with a message in err. */
int pc_cd_change(struct pc *pc, const char *device, const char *file, const char *format,
                 char *err, size_t errlen);

/* Commit drive index's top layer (-snapshot overlay, qcow2 over a backing file) into its
 * backing file. Returns 0 or -1 with a message in err. */
int pc_drive_commit(struct pc *pc, int index, char *err, size_t errlen);

struct pc_chardev_info {
    char label[64];
    char filename[1100];
};
/* The character devices as QEMU lists them (label, filename); returns how many (<= max). */
size_t pc_chardev_list(const struct pc *pc, struct pc_chardev_info *out, size_t max);
/* Add the board's HMP commands (info pci, x, xp, gva2gpa ...) to pc->monreg. */
void pc_monitor_hmp_register(struct pc *pc);

#endif
