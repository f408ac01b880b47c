/* A heartbeat inside the benchmark target that sees every pause, whoever causes it.
 *
 * hb_start(path) maps PATH (a small file, normally in /dev/shm, created by the driver) and
 * starts a pthread that never touches the GIL: it sleeps 1 ms with clock_nanosleep, and
 * records the largest gap between two wakeups since the last reset into the shared page.
 * When the whole process is stopped (ptrace, SIGSTOP, a debugger) the thread cannot wake,
 * so the gap it sees covers the pause. A Python heartbeat would be useless: under GIL
 * contention its own gaps reach hundreds of milliseconds with no tool attached.
 *
 * Shared layout (native-endian uint64, see struct hb_shared): the driver asks for a reset
 * by incrementing reset_req; the heartbeat zeroes max_gap_ns and copies reset_req into
 * reset_ack on its next wakeup, so a reset never races with an update. The last 16384
 * wakeup times are kept in a ring too, so the driver can also look at any time window.
 *
 * Built by bench/run.sh: cc -O2 -shared -fPIC -pthread heartbeat.c -o heartbeat.so */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define HB_MAGIC 0x7079736e61706862ull /* "pysnaphb" */
#define HB_RING 16384

struct hb_shared {
    uint64_t magic;
    uint64_t max_gap_ns;  /* largest gap between wakeups since the last reset */
    uint64_t wakeups;     /* total wakeups (index of the next ring slot) */
    uint64_t reset_req;   /* written by the driver */
    uint64_t reset_ack;   /* written by the heartbeat */
    uint64_t last_ns;     /* CLOCK_MONOTONIC of the last wakeup */
    uint64_t period_ns;
    uint64_t reserved;
    uint64_t ring[HB_RING]; /* CLOCK_MONOTONIC of wakeup i at ring[i % HB_RING] */
};

static struct hb_shared *shared;
static pthread_t thread;
static volatile int running;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *beat(void *arg)
{
    (void)arg;
    struct hb_shared *s = shared;
    uint64_t prev = now_ns();
    struct timespec period = {0, (long)s->period_ns};
    while (running) {
        clock_nanosleep(CLOCK_MONOTONIC, 0, &period, NULL);
        uint64_t t = now_ns();
        uint64_t gap = t - prev;
        prev = t;
        uint64_t req = __atomic_load_n(&s->reset_req, __ATOMIC_ACQUIRE);
        if (req != s->reset_ack) {
            /* The gap that straddles the reset belongs to the previous window. */
            s->max_gap_ns = 0;
            __atomic_store_n(&s->reset_ack, req, __ATOMIC_RELEASE);
        } else if (gap > s->max_gap_ns) {
            __atomic_store_n(&s->max_gap_ns, gap, __ATOMIC_RELEASE);
        }
        s->ring[s->wakeups % HB_RING] = t;
        __atomic_store_n(&s->last_ns, t, __ATOMIC_RELEASE);
        __atomic_store_n(&s->wakeups, s->wakeups + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

/* Returns 0 on success, -1 if PATH cannot be mapped or the thread cannot start. */
int hb_start(const char *path)
{
    if (shared)
        return 0;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, sizeof(struct hb_shared)) != 0) {
        close(fd);
        return -1;
    }
    void *p = mmap(NULL, sizeof(struct hb_shared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return -1;
    shared = p;
    shared->period_ns = 1000000;
    shared->magic = HB_MAGIC;
    running = 1;
    if (pthread_create(&thread, NULL, beat, NULL) != 0) {
        running = 0;
        return -1;
    }
    return 0;
}

void hb_stop(void)
{
    if (!running)
        return;
    running = 0;
    pthread_join(thread, NULL);
}
