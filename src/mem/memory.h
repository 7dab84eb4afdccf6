/* Physical address space (RAM, ROM, MMIO) and the port I/O bus.
 *
 * The physical map is a flat table of 4 KiB pages over the 32-bit address
 * space: each entry is either a host pointer (RAM, ROM) or an MMIO region
 * index, so a lookup is O(1).  The CPU's software TLB caches host pointers
 * from here; device DMA goes through phys_read/phys_write so that writes to
 * pages holding translated code reach the CPU's invalidation hook.
 */
#ifndef PCVM_MEM_MEMORY_H
#define PCVM_MEM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PHYS_PAGE_SHIFT 12
#define PHYS_PAGE_SIZE  (1u << PHYS_PAGE_SHIFT)
#define PHYS_PAGE_COUNT (1u << (32 - PHYS_PAGE_SHIFT))

/* MMIO callbacks: offset is relative to the region base; size is 1, 2 or 4. */
typedef uint32_t (*mmio_read_fn)(void *opaque, uint32_t offset, unsigned size);
typedef void (*mmio_write_fn)(void *opaque, uint32_t offset, uint32_t value, unsigned size);

struct mmio_region {
    uint32_t base;
    uint32_t len;
    void *opaque;
    mmio_read_fn read;
    mmio_write_fn write;
    const char *name;
    bool active;
};

/* Page table entry flags (low bits of phys_mem.pages[]; host pointers are
 * page aligned so the low 12 bits are free). */
enum {
    PHYS_DIRECT_READ  = 1u << 0, /* host pointer valid for reads */
    PHYS_DIRECT_WRITE = 1u << 1, /* host pointer valid for writes */
    PHYS_MMIO         = 1u << 2, /* bits 4..11 hold the MMIO region index */
    PHYS_FLAG_MASK    = 0xfffu,
};
#define PHYS_MMIO_INDEX_SHIFT 4
#define PHYS_MAX_MMIO 255

/* Called when a write lands on a page marked as holding translated code. */
typedef void (*code_write_fn)(void *opaque, uint32_t paddr, unsigned len);

struct phys_mem {
    uint8_t *ram;            /* guest RAM, one host mapping */
    uint64_t ram_size;       /* bytes of RAM in total */
    uint32_t ram_below_4g;   /* RAM mapped at [0, ram_below_4g) */
    uintptr_t *pages;        /* PHYS_PAGE_COUNT entries: host page | flags */
    uint8_t *code_pages;     /* per RAM page below 4G: nonzero = holds code */
    uint32_t *code_cpus;     /* per RAM page below 4G: vCPUs (bit = index) that may hold its traces */
    uint32_t code_pages_count;
    code_write_fn code_write;
    void *code_write_opaque;
    struct mmio_region mmio[PHYS_MAX_MMIO + 1];
    unsigned mmio_count;
    /* Called on reads/writes that hit nothing (logged as guest_errors). */
    void (*unassigned)(void *opaque, uint32_t paddr, bool is_write, unsigned size);
    void *unassigned_opaque;
    /* A page became code (exec marks it): the board has every vCPU stop writing it directly. */
    void (*code_marked)(void *opaque, uint32_t paddr);
    /* thread=multi: taken (held=true) around MMIO and unassigned accesses, the board lock. */
    void (*lock)(void *opaque, bool held);
    void *lock_opaque;
};

/* Allocate RAM of ram_size bytes and an empty map; maps RAM at 0..ram_below_4g. Returns 0 or -1. */
int phys_mem_init(struct phys_mem *pm, uint64_t ram_size, uint32_t ram_below_4g);
/* Free RAM and tables. */
void phys_mem_destroy(struct phys_mem *pm);
/* Map host memory (RAM or ROM, page aligned) at paddr; writable=false makes guest writes no-ops. */
void phys_map_host(struct phys_mem *pm, uint32_t paddr, uint32_t len, uint8_t *host, bool writable);
/* Map [paddr, paddr+len) to nothing. */
void phys_unmap(struct phys_mem *pm, uint32_t paddr, uint32_t len);
/* Register an MMIO region (page-granular ranges); returns its index or -1. */
int phys_map_mmio(struct phys_mem *pm, uint32_t paddr, uint32_t len, void *opaque,
                  mmio_read_fn read, mmio_write_fn write, const char *name);
/* Move or disable (len 0) an MMIO region, e.g. when a PCI BAR is reprogrammed. */
void phys_remap_mmio(struct phys_mem *pm, int index, uint32_t paddr, uint32_t len);

/* Host pointer for a direct read (write=false) or write access to paddr's page, or NULL. */
static inline uint8_t *phys_direct(const struct phys_mem *pm, uint32_t paddr, bool write)
{
    uintptr_t e = pm->pages[paddr >> PHYS_PAGE_SHIFT];
    if (!(e & (write ? PHYS_DIRECT_WRITE : PHYS_DIRECT_READ)))
        return NULL;
    return (uint8_t *)(e & ~(uintptr_t)PHYS_FLAG_MASK) + (paddr & (PHYS_PAGE_SIZE - 1));
}

/* True when the RAM page at paddr is marked as holding translated code. */
static inline bool phys_is_code_page(const struct phys_mem *pm, uint32_t paddr)
{
    uint32_t pn = paddr >> PHYS_PAGE_SHIFT;
    return pn < pm->code_pages_count && __atomic_load_n(&pm->code_pages[pn], __ATOMIC_RELAXED);
}

/* vCPU index may (on) or no longer (off) hold traces of RAM page pn.  A vCPU sets its bit
 * before it reads the page's code, sequentially consistent: a writer that stores into the
 * page, fences and reads phys_code_cpus either sees the bit or the vCPU sees the store. */
static inline void phys_code_cpu_set(struct phys_mem *pm, uint32_t pn, unsigned index, bool on)
{
    uint32_t bit = 1u << (index & 31);
    if (pn >= pm->code_pages_count)
        return;
    if (on && !(__atomic_load_n(&pm->code_cpus[pn], __ATOMIC_RELAXED) & bit))
        __atomic_fetch_or(&pm->code_cpus[pn], bit, __ATOMIC_SEQ_CST);
    else if (!on)
        __atomic_fetch_and(&pm->code_cpus[pn], ~bit, __ATOMIC_SEQ_CST);
}

/* The vCPUs that may hold traces of RAM page pn (after a full fence, for a writer). */
static inline uint32_t phys_code_cpus(const struct phys_mem *pm, uint32_t pn)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return pn < pm->code_pages_count ? __atomic_load_n(&pm->code_cpus[pn], __ATOMIC_RELAXED) : ~0u;
}

/* Read size (1, 2, 4) bytes at paddr through RAM/ROM/MMIO; unassigned reads return all ones. */
uint32_t phys_read(struct phys_mem *pm, uint32_t paddr, unsigned size);
/* Write size (1, 2, 4) bytes at paddr; honours ROM and code-page invalidation. */
void phys_write(struct phys_mem *pm, uint32_t paddr, uint32_t value, unsigned size);
/* Copy len bytes from guest physical memory (for DMA and loaders). */
void phys_read_block(struct phys_mem *pm, uint32_t paddr, void *buf, size_t len);
/* Copy len bytes into guest physical memory (for DMA and loaders), invalidating code. */
void phys_write_block(struct phys_mem *pm, uint32_t paddr, const void *buf, size_t len);

/* ---- Port I/O ---- */

typedef uint32_t (*io_read_fn)(void *opaque, uint16_t port, unsigned size);
typedef void (*io_write_fn)(void *opaque, uint16_t port, uint32_t value, unsigned size);

/* Bit mask of access sizes a handler accepts. */
enum { IO_SIZE_1 = 1, IO_SIZE_2 = 2, IO_SIZE_4 = 4, IO_SIZE_ALL = 7 };

struct io_handler {
    uint16_t base;
    uint32_t len;
    void *opaque;
    io_read_fn read;
    io_write_fn write;
    unsigned sizes;
    const char *name;
};

#define IO_MAX_HANDLERS 255

struct io_bus {
    uint8_t index[65536]; /* 0 = nothing, else handler index + 1 */
    struct io_handler handlers[IO_MAX_HANDLERS];
    unsigned count;
    /* Called for accesses to unclaimed ports (logged as guest_errors/unimp). */
    void (*unassigned)(void *opaque, uint16_t port, bool is_write, unsigned size);
    void *unassigned_opaque;
    /* thread=multi: taken (held=true) around every access, the board lock. */
    void (*lock)(void *opaque, bool held);
    void *lock_opaque;
};

/* Empty the bus. */
void io_bus_init(struct io_bus *bus);
/* Claim ports [base, base+len); sizes is an IO_SIZE_* mask, other sizes are split into
 * smaller accesses. Returns a handle (>= 0) or -1 when the table is full. */
int io_register(struct io_bus *bus, uint16_t base, uint32_t len, void *opaque,
                io_read_fn read, io_write_fn write, unsigned sizes, const char *name);
/* Move (len > 0) or release (len 0) a registration, e.g. for a PCI I/O BAR. */
void io_remap(struct io_bus *bus, int handle, uint16_t base, uint32_t len);
/* Read size bytes from port; unclaimed ports read as all ones. */
uint32_t io_read(struct io_bus *bus, uint16_t port, unsigned size);
/* Write size bytes to port; unclaimed ports ignore writes. */
void io_write(struct io_bus *bus, uint16_t port, uint32_t value, unsigned size);

#endif
