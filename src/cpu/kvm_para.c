/* KVM paravirtual CPUID leaves and kvmclock (see kvm_para.h). */
#include "cpu/kvm_para.h"

#include <string.h>

#include "cpu/sysint.h"
#include "hw/dma.h"
#include "util/vclock.h"

static bool kvm_on(const struct cpu *cpu)
{
    return !cpu->model->kvm_off;
}

/* kvmclock needs RDMSR/WRMSR to register its structures and RDTSC to read it: a model
 * without them (the 486, even with +tsc) gets no clock, as its WRMSR raises #UD and Linux
 * would then divide by the zero scale of a structure never written. */
static bool clock_on(const struct cpu *cpu)
{
    uint32_t needs = CPUID_MSR | CPUID_TSC;
    return kvm_on(cpu) && !cpu->model->kvmclock_off && (cpu->model->features_edx & needs) == needs;
}

static uint32_t tsc_mhz(const struct cpu *cpu)
{
    return cpu->model->mhz ? cpu->model->mhz : 1000;   /* as cpu_read_tsc */
}

bool kvm_para_cpuid(struct cpu *cpu, uint32_t leaf, uint32_t out[4])
{
    if (!kvm_on(cpu) || leaf < KVM_CPUID_SIGNATURE || leaf > KVM_CPUID_SIGNATURE + 0xff)
        return false;
    memset(out, 0, 4 * sizeof(uint32_t));
    if (leaf == KVM_CPUID_SIGNATURE) {
        out[0] = KVM_CPUID_FEATURES;
        memcpy(&out[1], "KVMK", 4);
        memcpy(&out[2], "VMKV", 4);
        memcpy(&out[3], "M\0\0\0", 4);
    } else if (leaf == KVM_CPUID_FEATURES) {
        out[0] = KVM_FEATURE_NOP_IO_DELAY;
        if (clock_on(cpu))
            out[0] |= KVM_FEATURE_CLOCKSOURCE | KVM_FEATURE_CLOCKSOURCE2 | KVM_FEATURE_CLOCKSOURCE_STABLE_BIT;
    }
    return true;
}

void kvm_para_time_scale(uint32_t mhz, uint32_t *mul, int8_t *shift)
{
    /* ns per tick = 1000 / mhz = mul / 2^32 * 2^shift with mul / 2^32 in [0.5, 1). */
    uint64_t num = 1000, den = mhz ? mhz : 1;
    int s = 0;
    while (num >= den) {
        den <<= 1;
        s++;
    }
    while (num * 2 < den) {
        num <<= 1;
        s--;
    }
    *mul = (uint32_t)((num << 32) / den);
    *shift = (int8_t)s;
}

/* Write the pvclock structure (32 bytes) as KVM does: version odd while it changes, then
 * even; the TSC and the system time (virtual ns) of one instant; the scale; stable. */
static void update_system_time(struct cpu *cpu)
{
    uint64_t msr = cpu->sys.kvm_system_time;
    uint64_t gpa = msr & ~1ull;
    if (!(msr & 1) || !cpu->mem || !dma_in_ram(cpu->mem, gpa, 32))
        return;
    int64_t ns = cpu->clock ? vclock_now(cpu->clock) : 0;
    uint64_t u = ns > 0 ? (uint64_t)ns : 0, mhz = tsc_mhz(cpu);
    uint64_t tsc = (u / 1000) * mhz + (u % 1000) * mhz / 1000 + cpu->sys.tsc_offset;
    uint32_t mul;
    int8_t shift;
    kvm_para_time_scale((uint32_t)mhz, &mul, &shift);
    uint32_t version = phys_read(cpu->mem, (uint32_t)gpa, 4);
    version = (version + 1) | 1;
    phys_write(cpu->mem, (uint32_t)gpa, version, 4);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    uint8_t b[24];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(tsc >> (8 * i));           /* tsc_timestamp */
        b[8 + i] = (uint8_t)(u >> (8 * i));         /* system_time */
    }
    for (int i = 0; i < 4; i++)
        b[16 + i] = (uint8_t)(mul >> (8 * i));      /* tsc_to_system_mul */
    b[20] = (uint8_t)shift;
    b[21] = PVCLOCK_TSC_STABLE_BIT;                  /* flags */
    b[22] = b[23] = 0;
    phys_write_block(cpu->mem, (uint32_t)gpa + 8, b, sizeof(b));
    __atomic_thread_fence(__ATOMIC_RELEASE);
    phys_write(cpu->mem, (uint32_t)gpa, version + 1, 4);
}

/* The wall clock at system time 0: a fixed -rtc base= date, else (as KVM) host UTC now minus
 * the virtual time elapsed and the host time the clock still owes the guest (paid back later). */
static void write_wall_clock(struct cpu *cpu, uint64_t gpa)
{
    if (!cpu->mem || !dma_in_ram(cpu->mem, gpa, 12))
        return;
    int64_t boot = cpu->wall_clock_base_ns;
    if (boot == INT64_MIN)
        boot = host_realtime_ns() - (cpu->clock ? vclock_now(cpu->clock) + vclock_behind_ns(cpu->clock) : 0);
    if (boot < 0)
        boot = 0;
    uint32_t version = (phys_read(cpu->mem, (uint32_t)gpa, 4) + 1) | 1;
    phys_write(cpu->mem, (uint32_t)gpa, version, 4);
    phys_write(cpu->mem, (uint32_t)gpa + 4, (uint32_t)(boot / 1000000000), 4);
    phys_write(cpu->mem, (uint32_t)gpa + 8, (uint32_t)(boot % 1000000000), 4);
    phys_write(cpu->mem, (uint32_t)gpa, version + 1, 4);
}

static bool is_clock_msr(uint32_t index)
{
    return index == MSR_KVM_WALL_CLOCK || index == MSR_KVM_SYSTEM_TIME || index == MSR_KVM_WALL_CLOCK_NEW ||
           index == MSR_KVM_SYSTEM_TIME_NEW;
}

bool kvm_para_rdmsr(struct cpu *cpu, uint32_t index, uint64_t *value)
{
    if (!clock_on(cpu) || !is_clock_msr(index))
        return false;
    *value = (index == MSR_KVM_SYSTEM_TIME || index == MSR_KVM_SYSTEM_TIME_NEW) ? cpu->sys.kvm_system_time
                                                                               : cpu->sys.kvm_wall_clock;
    return true;
}

bool kvm_para_wrmsr(struct cpu *cpu, uint32_t index, uint64_t value)
{
    if (!clock_on(cpu) || !is_clock_msr(index))
        return false;
    if (index == MSR_KVM_SYSTEM_TIME || index == MSR_KVM_SYSTEM_TIME_NEW) {
        cpu->sys.kvm_system_time = value;
        update_system_time(cpu);
    } else {
        cpu->sys.kvm_wall_clock = value;
        write_wall_clock(cpu, value);
    }
    return true;
}

void kvm_para_tsc_changed(struct cpu *cpu)
{
    if (clock_on(cpu))
        update_system_time(cpu);
}
