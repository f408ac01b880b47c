/* The clocks capture, sampling and top read (snap/clock.c). */
#ifndef PYSNAP_CLOCK_H
#define PYSNAP_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds: intervals, deadlines, rates. */
int64_t ps_mono_ns(void);
/* CLOCK_REALTIME in nanoseconds since the epoch: the time shown to the user. */
int64_t ps_wall_ns(void);

#endif
