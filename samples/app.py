"""A small multi-threaded "service" to point pysnap at (standard library only).

usage: app.py --pidfile FILE [--workers N]

Threads:
  pool-worker-N   a pool consuming jobs from a queue.Queue (process_job)
  cpu-burner      burns CPU in cpu_intensive_task()
  lock-holder     holds resource_lock (hold_resource) and never lets go while running
  lock-waiter     stuck in wait_for_lock(), waiting for resource_lock
  MainThread      serve_forever(): a tiny loop that feeds the queue

Writes its pid to --pidfile once every thread runs, and runs until killed (SIGTERM and
SIGINT end it cleanly and remove the pidfile). Runs on Python 3.8 and newer.
"""

import argparse
import os
import queue
import signal
import sys
import threading
import time

jobs = queue.Queue()
resource_lock = threading.Lock()
lock_held = threading.Event()
stopping = threading.Event()
stats = {"done": 0, "checksum": 0}
stats_lock = threading.Lock()


def process_job(job):
    """A job: a little arithmetic and a little waiting, like a request to a backend."""
    value = sum(i * job for i in range(1000)) % 9973
    time.sleep(0.02)
    return value


def pool_worker():
    while not stopping.is_set():
        try:
            job = jobs.get(timeout=0.5)
        except queue.Empty:
            continue
        try:
            result = process_job(job)
            with stats_lock:
                stats["done"] += 1
                stats["checksum"] = (stats["checksum"] + result) % 1000003
        finally:
            jobs.task_done()


def cpu_intensive_task(n):
    """Pure-Python number crunching: count the primes below n."""
    count = 0
    for candidate in range(2, n):
        d = 2
        while d * d <= candidate:
            if candidate % d == 0:
                break
            d += 1
        else:
            count += 1
    return count


def cpu_burner():
    while not stopping.is_set():
        cpu_intensive_task(20000)


def hold_resource():
    """Takes resource_lock and keeps it until the service stops."""
    with resource_lock:
        lock_held.set()
        stopping.wait()


def wait_for_lock():
    """Needs resource_lock too: stuck here for as long as lock-holder has it."""
    lock_held.wait()
    with resource_lock:
        return True


def serve_forever(interval=0.1):
    """The main loop: feed the queue a job every INTERVAL seconds until stopped."""
    job = 0
    while not stopping.is_set():
        job += 1
        jobs.put(job)
        stopping.wait(interval)


def write_pidfile(path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, path)


def main(argv):
    parser = argparse.ArgumentParser(description="A small multi-threaded service for pysnap demos.")
    parser.add_argument("--pidfile", required=True, help="write the pid here once running")
    parser.add_argument("--workers", type=int, default=3, help="pool size (default 3)")
    args = parser.parse_args(argv)

    def on_signal(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    threads = [threading.Thread(target=pool_worker, name="pool-worker-%d" % (i + 1))
               for i in range(args.workers)]
    threads.append(threading.Thread(target=cpu_burner, name="cpu-burner"))
    threads.append(threading.Thread(target=hold_resource, name="lock-holder"))
    threads.append(threading.Thread(target=wait_for_lock, name="lock-waiter"))
    for t in threads:
        t.daemon = True
        t.start()
    lock_held.wait(10)

    write_pidfile(args.pidfile)
    try:
        serve_forever()
    finally:
        stopping.set()
        for t in threads:
            t.join(timeout=2)
        try:
            os.unlink(args.pidfile)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
