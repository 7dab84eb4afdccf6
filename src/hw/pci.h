/* PCI bus 0 with configuration mechanism #1 (ports 0xCF8/0xCFC), owned by the board-pci part.
 * A PCI function embeds struct pci_device, fills its config header and registers BARs; the
 * bus maps BARs into the port and memory spaces when the guest programs them. */
#ifndef PCVM_HW_PCI_H
#define PCVM_HW_PCI_H

#include "hw/devmodel.h"

#include <stdbool.h>
#include <stdint.h>

#include "mem/memory.h"

struct pci_bus;
struct pci_device;

/* Config-space hooks; NULL means plain config[] storage masked by wmask[]. */
typedef uint32_t (*pci_config_read_fn)(struct pci_device *dev, unsigned offset, unsigned size);
typedef void (*pci_config_write_fn)(struct pci_device *dev, unsigned offset, uint32_t value, unsigned size);

struct pci_bar {
    uint32_t size;       /* power of two; 0 = unused */
    bool is_io;
    bool prefetchable;
    void *opaque;
    io_read_fn io_read;  /* is_io: called with the absolute port */
    io_write_fn io_write;
    mmio_read_fn mmio_read;   /* !is_io: offset within the BAR */
    mmio_write_fn mmio_write;
    unsigned io_sizes;   /* IO_SIZE_* mask for is_io */
    int handle;          /* io_bus handle or phys_mem MMIO index once mapped, -1 before */
    uint32_t mapped_addr;/* current address, 0 = unmapped */
};

struct pci_device {
    uint8_t config[256];
    uint8_t wmask[256];  /* bits the guest may write */
    uint8_t devfn;       /* device << 3 | function */
    const char *name;
    struct pci_bus *bus;
    struct pci_bar bars[6];
    pci_config_read_fn config_read;
    pci_config_write_fn config_write;
    int irq_level;       /* current level of the function's INTx pin */
    void *opaque;        /* the device model's own state */
};

/* How the bus raises INTx: the board maps (devfn, pin) to a PIRQ and an IRQ. */
typedef void (*pci_set_irq_fn)(void *opaque, struct pci_device *dev, int pin, int level);

struct pci_bus {
    struct pci_device *devices[256];
    struct phys_mem *mem;
    struct io_bus *io;
    uint32_t config_address; /* 0xCF8 latch */
    pci_set_irq_fn set_irq;
    void *set_irq_opaque;
    /* Where message-signalled interrupts go (the board's local APICs); NULL: the board has
     * none, devices offer no MSI/MSI-X. */
    void (*msi_send)(void *opaque, uint32_t address, uint32_t data);
    void *msi_opaque;
};

/* Prepare bus 0 and claim ports 0xCF8-0xCFF. */
void pci_bus_init(struct pci_bus *bus, struct phys_mem *mem, struct io_bus *io,
                  pci_set_irq_fn set_irq, void *set_irq_opaque);
/* Put dev at devfn with its IDs; fills the header basics and default write masks. Returns 0 or -1. */
int pci_register_device(struct pci_bus *bus, struct pci_device *dev, uint8_t devfn, const char *name,
                        uint16_t vendor, uint16_t device, uint8_t revision, uint32_t class_code,
                        uint8_t header_type, uint8_t irq_pin);
/* Describe BAR n (size a power of two); it is mapped when the guest programs it. */
void pci_register_bar(struct pci_device *dev, int n, const struct pci_bar *bar);
/* Drive the function's INTx pin. */
void pci_set_irq(struct pci_device *dev, int level);
/* Config space access by bus-0 devfn (used by mechanism #1, fw tables and tests). */
uint32_t pci_config_read(struct pci_bus *bus, uint8_t devfn, unsigned offset, unsigned size);
void pci_config_write(struct pci_bus *bus, uint8_t devfn, unsigned offset, uint32_t value, unsigned size);
/* Plain little-endian helpers for config[]. */
static inline void pci_set_word(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void pci_set_long(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline uint16_t pci_get_word(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t pci_get_long(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* Saved state of a function's configuration space (embedded by PCI devices), and what
 * their post_load calls: re-run the config hooks and remap the BARs as the registers say. */
extern const struct vmstate_desc pci_device_vmstate;
/* Saved state of the bus itself (the 0xCF8 address latch); reset clears the latch. */
extern const struct vmstate_desc pci_bus_vmstate;
void pci_bus_reset(struct pci_bus *bus);
void pci_device_post_load(struct pci_device *dev);
#endif
