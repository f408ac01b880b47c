/* Test helper loaded by counter_target.py (native-churn=LIB.so) through ctypes: four relay
 * chains of short-lived native threads. Each thread waits 0.2 ms, creates its successor and
 * ends, so a thread is nearly always being born, and the thread being born is the one that
 * carries its chain on. A freeze that trusts a listing of /proc/PID/task made while some
 * interrupted thread was still inside clone() misses the newborn, whose chain then runs on
 * during the whole freeze: every birth adds one to a counter written (fixed width, at
 * offset 0) to the file given to thread_churn_start, so a test sees the chain move while
 * the process should be frozen. No Python, no GIL: only raw pthreads. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define CHAINS 4

int thread_churn_start(const char *births_path);

static int births_fd = -1;
static unsigned long births;
static pthread_mutex_t births_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_attr_t attr;

static void *link_thread(void *arg)
{
    char buf[32];
    pthread_mutex_lock(&births_lock);
    int n = snprintf(buf, sizeof buf, "%020lu\n", ++births);
    ssize_t w = pwrite(births_fd, buf, (size_t)n, 0); /* a failed write: a still counter */
    (void)w;
    pthread_mutex_unlock(&births_lock);
    struct timespec gap = {0, 200 * 1000};
    nanosleep(&gap, NULL);
    pthread_t next;
    while (pthread_create(&next, &attr, link_thread, arg) != 0) {
        struct timespec later = {0, 1000000}; /* at a thread limit: try again */
        nanosleep(&later, NULL);
    }
    return NULL;
}

int thread_churn_start(const char *births_path)
{
    births_fd = open(births_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (births_fd < 0)
        return -1;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    for (int i = 0; i < CHAINS; i++) {
        pthread_t t;
        if (pthread_create(&t, &attr, link_thread, NULL) != 0)
            return -1;
    }
    return 0;
}
