/* One x86-64 instruction as text, through capstone loaded on first use.
 *
 * capstone is dlopen()ed, not linked: its ~77,000 relocations cost every pysnap process about
 * 6 ms and 370 page faults at start-up on the project's machine, and only analysis
 * disassembles (capture, dump's capture half and record never do). If the library cannot be
 * loaded, ps_disasm_open fails and callers print no instruction, as for unreadable code.
 * The static build (-Dstatic=true) links capstone in instead: it loads nothing at run time. */
#ifndef PS_DISASM_H
#define PS_DISASM_H

#include <stddef.h>
#include <stdint.h>

struct ps_disasm;

/* A disassembler for x86-64, or NULL (capstone missing or failing; nothing else to report). */
struct ps_disasm *ps_disasm_open(void);
/* The instruction at the start of CODE[0..LEN) (located at PC) as "mnemonic operands" in
 * BUF (always NUL-terminated; "" when it does not decode). */
void ps_disasm_one(struct ps_disasm *d, const unsigned char *code, size_t len, uint64_t pc,
                   char *buf, size_t size);
void ps_disasm_close(struct ps_disasm *d);

#endif
