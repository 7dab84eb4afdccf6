/* The pc board's gdb stub: -gdb / -s at start, the monitor's gdbserver later. */
#ifndef PCVM_MACHINE_PC_GDB_H
#define PCVM_MACHINE_PC_GDB_H

struct pc;

/* Add the gdbserver HMP command and start the stub on pc->chardevs->gdb when -gdb/-s asked
 * for one (after the monitors exist). 0, or -1 when out of memory. */
int pc_gdb_init(struct pc *pc);
/* Stop the stub (nothing stays inserted) and close a connection gdbserver opened. */
void pc_gdb_destroy(struct pc *pc);

#endif
