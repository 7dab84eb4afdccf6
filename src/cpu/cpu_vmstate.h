/* Saved state of a vCPU for the device model (see hw/devmodel.h). */
#ifndef PCVM_CPU_CPU_VMSTATE_H
#define PCVM_CPU_CPU_VMSTATE_H

#include "cpu/cpu.h"
#include "hw/devmodel.h"

/* The description the board registers for each vCPU (opaque: struct cpu). */
extern const struct vmstate_desc cpu_vmstate;

#endif
