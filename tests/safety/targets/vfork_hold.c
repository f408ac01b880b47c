/* Test helper loaded by counter_target.py (vfork-hold=LIB.so) through ctypes: a native
 * thread vforks a child that stops itself before it would exec. Until someone sends the
 * child SIGCONT, the parent thread waits for it in the kernel in uninterruptible sleep
 * (state D), where PTRACE_INTERRUPT cannot stop it: the freeze has to give up on it.
 * The child only makes raw system calls (it shares the parent's memory and stack). */
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int vfork_hold_start(void);

static void *hold(void *arg)
{
    (void)arg;
    pid_t child = vfork();
    if (child == 0) {
        syscall(SYS_kill, (pid_t)syscall(SYS_getpid), SIGSTOP);
        syscall(SYS_exit_group, 0);
    }
    if (child > 0)
        waitpid(child, NULL, 0);
    return NULL;
}

int vfork_hold_start(void)
{
    pthread_t t;
    return pthread_create(&t, NULL, hold, NULL);
}
