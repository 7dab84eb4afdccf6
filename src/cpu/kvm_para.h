/* KVM's paravirtual interface as a KVM host offers it, for guests that look for it (Linux's
 * kvm-clock): CPUID leaves 0x40000000 ("KVMKVMKVM\0\0\0", highest leaf 0x40000001) and
 * 0x40000001 (features), and the kvmclock MSRs, new (0x4b564d00 wall clock, 0x4b564d01 system
 * time) and old (0x11, 0x12). Only features pcvm implements are advertised: the two clock
 * sources, their stable bit, and the no-I/O-delay hint (a hint, nothing to implement); none
 * that needs a hypercall. On unless -cpu ...,kvm=off; -cpu ...,-kvmclock drops the clock. */
#ifndef PCVM_CPU_KVM_PARA_H
#define PCVM_CPU_KVM_PARA_H

#include <stdbool.h>
#include <stdint.h>

struct cpu;

#define KVM_CPUID_SIGNATURE 0x40000000u
#define KVM_CPUID_FEATURES  0x40000001u
#define MSR_KVM_WALL_CLOCK     0x11u
#define MSR_KVM_SYSTEM_TIME    0x12u
#define MSR_KVM_WALL_CLOCK_NEW  0x4b564d00u
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u
/* Leaf 0x40000001 EAX bits. */
#define KVM_FEATURE_CLOCKSOURCE   (1u << 0)
#define KVM_FEATURE_NOP_IO_DELAY  (1u << 1)
#define KVM_FEATURE_CLOCKSOURCE2  (1u << 3)
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT (1u << 24)
#define PVCLOCK_TSC_STABLE_BIT 1u

/* Answer CPUID leaf in the hypervisor range; false when the interface is off (the caller
 * answers as a CPU without it). */
bool kvm_para_cpuid(struct cpu *cpu, uint32_t leaf, uint32_t out[4]);
/* RDMSR/WRMSR of a kvmclock MSR: true when handled (false: not ours, or the clock is off). */
bool kvm_para_rdmsr(struct cpu *cpu, uint32_t index, uint64_t *value);
bool kvm_para_wrmsr(struct cpu *cpu, uint32_t index, uint64_t value);
/* The TSC was written: refresh this vCPU's pvclock structure. */
void kvm_para_tsc_changed(struct cpu *cpu);
/* tsc_to_system_mul and tsc_shift for a TSC of mhz MHz (exported for tests). */
void kvm_para_time_scale(uint32_t mhz, uint32_t *mul, int8_t *shift);

#endif
