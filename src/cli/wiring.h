/* From a parsed vm_config to open character devices: COM1..COM4, monitors, debugcon, with
 * mon:stdio / -nographic muxes and -chardev ids resolved. */
#ifndef PCVM_CLI_WIRING_H
#define PCVM_CLI_WIRING_H

#include "chardev/chardev.h"
#include "cli/config.h"

struct vm_chardevs {
    struct chardev *serial[VM_MAX_SERIALS];   /* front end for COMn (NULL: no port) */
    unsigned n_serial;
    struct chardev *monitor[VM_MAX_MONITORS + VM_MAX_SERIALS];  /* one per monitor */
    unsigned n_monitors;
    bool monitor_control[VM_MAX_MONITORS + VM_MAX_SERIALS];   /* QMP rather than HMP */
    bool monitor_pretty[VM_MAX_MONITORS + VM_MAX_SERIALS];    /* QMP: indented replies */
    struct chardev *debugcon;                 /* port 0xe9 (NULL: none) */
    struct chardev *gdb;                      /* the gdb stub's connection (NULL: none) */
    struct chardev *device[VM_MAX_DEVICES];   /* chardev= of -device virtconsole/virtserialport,
                                                 parallel to cfg->devices (NULL: none) */

    /* Owned back ends, closed by vm_chardevs_close(). */
    struct chardev *owned[VM_MAX_SERIALS + VM_MAX_MONITORS + VM_MAX_CHARDEVS + 3];
    unsigned n_owned;
    struct chardev *by_id[VM_MAX_CHARDEVS];   /* parallel to cfg->chardevs */
    bool id_used[VM_MAX_CHARDEVS];
};

/* Open everything cfg names (prints "char device redirected to ..." for ptys). Returns 0, or
 * -1 with one line in err ("pcvm: -serial file:/x/y: cannot open ..."); on failure what was
 * opened is closed again. */
int vm_chardevs_open(struct vm_chardevs *cd, const struct vm_config *cfg, struct mainloop *ml,
                     char *err, size_t errlen);
/* Flush and close all (restores the terminal). */
void vm_chardevs_close(struct vm_chardevs *cd);

#endif
