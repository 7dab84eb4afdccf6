/* pci-testdev (QEMU's "pci-testdev", 1b36:0005, class 00ff, no interrupt pin): a PCI function
 * for testing low-level I/O, as QEMU's docs/specs/pci-testdev.rst describes it.
 * BAR0 is 4 KiB of memory, BAR1 256 ports. Each BAR starts with a header:
 *   0  test        write N: select test N of this BAR (out of range: none)
 *   1  width       access width of the selected test (1; 0 when none is selected)
 *   4  offset      where the test's writes go, relative to the BAR
 *   8  data        the value they must carry (0xFA; 0xCE for the wildcard test)
 *   12 count       matching writes seen since the test was selected
 *   16 name        the test's name, NUL-terminated
 * Three tests per BAR as QEMU names them: "no-eventfd" counts byte writes of data at offset;
 * "wildcard-eventfd" and "datamatch-eventfd" keep count at 0, as in QEMU, where an eventfd
 * takes those writes (kvm-unit-tests accepts 0 or the number written). Like QEMU, the
 * registers are served one byte at a time (wider accesses are split), and the selected test
 * is the device's: either BAR's header shows it. */
#ifndef PCVM_HW_PCI_TESTDEV_H
#define PCVM_HW_PCI_TESTDEV_H

#include <stdint.h>

#include "hw/devmodel.h"
#include "hw/pci.h"

#define PCI_TESTDEV_TESTS 6        /* 3 on the memory BAR, 3 on the I/O BAR */

struct pci_testdev {
    struct pci_device pci;
    int8_t current;                /* selected test (0-5) or -1 */
    uint32_t count[PCI_TESTDEV_TESTS];
};

/* Saved state (config space, selected test, counters). */
extern const struct vmstate_desc pci_testdev_vmstate;

/* Register the function at devfn. Returns 0 or -1. */
int pci_testdev_init(struct pci_testdev *s, struct pci_bus *bus, uint8_t devfn);
/* Reset: no test selected, counters cleared. */
void pci_testdev_reset(void *opaque);

#endif
