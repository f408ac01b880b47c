/* What a walk reconstructs: interpreters, their threads, each thread's frames.
 * Built by ps_walk() (walker.h), read by the renderers. All strings are owned by the model
 * and freed by ps_model_free(). */
#ifndef PYSNAP_MODEL_H
#define PYSNAP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "pysnap/tasks.h"

enum ps_frame_kind { PS_FRAME_PYTHON = 1, PS_FRAME_NATIVE = 2 };

enum ps_local_kind { PS_LOCAL_ARG = 1, PS_LOCAL_LOCAL, PS_LOCAL_CELL, PS_LOCAL_FREE };

/* A rendered Python value: a local variable, or (one level down) an attribute of one. */
struct ps_value {
    char *name;
    char *type;          /* tp_name; NULL when unbound or redacted */
    char *repr;          /* as repr() prints it; a cut repr ends in "..." */
    char *value;         /* a structured form where one helps (datetime ISO string, Decimal
                            and UUID strings), else NULL */
    uint8_t kind;        /* enum ps_local_kind (locals only) */
    uint8_t truncated;   /* repr was cut by a capture limit */
    uint8_t unbound;     /* no value (not yet assigned, or deleted) */
    uint8_t redacted;    /* name looked like a secret: the value was never read */
    struct ps_value *attrs; /* instance attributes, depth 1 */
    size_t nattrs;
};

/* The HTTP request a thread or task is serving, as a server or framework keeps it in a
 * frame's locals (request.c's table says which). Every string may be NULL (not there). */
struct ps_request {
    const char *source;  /* the table row that found it: "gunicorn", "django", "asgi", ... */
    const char *local;   /* how: "environ", "request.environ", "self.scope", ... */
    char *function;      /* the frame it was found in */
    char *method;        /* "GET"; an ASGI websocket: "WEBSOCKET" */
    char *path;          /* SCRIPT_NAME + PATH_INFO (WSGI), root_path + path (ASGI) */
    char *query;         /* the query string, secret-named parameters' values redacted */
    char *protocol;      /* "HTTP/1.1" */
    char *remote_addr;   /* the client's address */
    char *host;          /* the Host header */
    uint8_t query_redacted; /* a parameter's value was redacted */
};

struct ps_frame {
    uint8_t kind;
    char *function;  /* co_name, or the native symbol */
    char *qualname;  /* co_qualname where the version has one, else NULL */
    char *file;      /* co_filename (python) or module path (native) */
    int line;        /* -1 when unknown */
    uint64_t offset; /* native: offset from the symbol (or module when no symbol) */
    uint64_t addr;   /* python, 3.11+: the _PyInterpreterFrame's address, else 0 */
    struct ps_value *locals; /* python: in co_localsplusnames order */
    size_t nlocals;
    uint8_t locals_truncated; /* more locals than the capture limit */
};

enum ps_thread_state {
    PS_TSTATE_UNKNOWN = 0,
    PS_TSTATE_RUNNING,
    PS_TSTATE_SLEEPING,
    PS_TSTATE_WAITING_FOR_GIL,
    PS_TSTATE_IDLE,
    PS_TSTATE_SUSPENDED,     /* 3.13+: parked by a stop-the-world pause (free-threaded GC) */
};

struct ps_thread {
    uint32_t tid;            /* kernel thread id as the capture saw it, 0 when not known */
    uint32_t ns_tid;         /* its id in the target's own pid namespace where that differs
                                (a container seen from the host), else 0 */
    uint64_t thread_id;      /* PyThreadState.thread_id (pthread_t), 0 if not Python */
    uint64_t tstate;         /* PyThreadState address, 0 if not Python */
    uint64_t cstack_addr;    /* an address on the C stack of the OS thread running this
                                thread state (3.11/3.12: tstate->cframe), 0 when unknown */
    char *name;              /* threading's name, else the OS name (comm), else NULL */
    uint8_t name_from_os;    /* NAME is the OS thread name: threading does not know it */
    uint8_t daemon_known;    /* threading knows the thread: DAEMON is its daemon flag */
    uint8_t daemon;
    char os_state;           /* /proc state letter at capture (R, S, D, ...), 0 unknown */
    uint8_t holds_gil;
    uint8_t state;           /* enum ps_thread_state */
    uint8_t py_state;        /* 3.13+: 1 + PyThreadState.state (enum ps_py_tstate_state:
                                detached, attached, suspended); 0 unknown (before 3.13) */
    uint8_t frames_truncated;/* the frame walk hit its limit */
    int walk_status;         /* PS_OK, or why the frame walk stopped early */
    struct ps_frame *frames; /* innermost first */
    size_t nframes, frames_cap;
    /* Filled by ps_native_attach() (native.h) when the snapshot has native stacks; then
     * FRAMES holds native and Python frames merged, innermost first. */
    char syscall[32];        /* system call the thread is in ("futex"), "" when none */
    char pc_instruction[64]; /* the instruction at its PC, as capstone prints it, or "" */
    uint8_t native_flags;    /* PS_NATIVE_* of native.h */
    struct ps_request *request; /* the HTTP request it serves, or NULL */
    /* The exception the thread is handling (sys.exc_info()[1] in it), read with the locals;
     * NULL when none. Its traceback's frames, outermost first (as Python prints them). */
    struct ps_value *handling;
    struct ps_frame *handling_tb;
    size_t nhandling_tb;
};

struct ps_interp {
    int64_t id;
    uint64_t addr;
    int gil_known, gil_locked;
    int free_threaded;       /* a free-threaded build with its GIL disabled: there is none */
    int gil_shared;          /* another interpreter uses the same GIL (before 3.12 all do;
                                3.12+ only those created without their own GIL) */
    uint64_t gil_addr;       /* the _gil_runtime_state this interpreter uses, 0 unknown */
    uint64_t gil_holder;     /* its last_holder PyThreadState, possibly of another interp */
    uint32_t gil_holder_tid;
    int gc_known, gc_collecting;
    uint32_t gc_collector_tid;  /* the thread running the collection, 0 when not known */
    struct ps_thread *threads;
    size_t nthreads, threads_cap;
    /* asyncio tasks (tasks.h); tasks_status is PS_OK, or why the task walk stopped early */
    struct ps_task *tasks;
    size_t ntasks, tasks_cap;
    int tasks_status;
    uint8_t tasks_debug_offsets; /* 3.14+: read with the interpreter's asyncio debug offsets */
};

struct ps_model {
    struct ps_interp *interps;
    size_t ninterps, interps_cap;
    int walk_status; /* PS_OK, or the first error that cut the walk short */
    uint32_t hexversion; /* the main interpreter's sys.hexversion, 0 when unread */
};

struct ps_interp *ps_model_add_interp(struct ps_model *m);
struct ps_thread *ps_model_add_thread(struct ps_interp *in);
struct ps_frame *ps_thread_add_frame(struct ps_thread *t);
/* A GIL may be shared (every interpreter before 3.12; 3.12+ those created without their
 * own): its holder is then a thread state of any interpreter using it. Set each
 * interpreter's gil_holder_tid from gil_holder and its gil_shared. Run again after tids
 * change. */
void ps_model_resolve_gil(struct ps_model *m);
/* A thread's id as the capture saw it and in the target's own pid namespace. */
struct ps_tid_pair {
    uint32_t tid, ns_tid;
};
/* The walk reads the ids the target knows its threads by (native_thread_id: its own pid
 * namespace's). Where PAIRS say the capture saw them under other ids (a container seen from
 * the host), give every thread, task and GC collector the capture's id (TID) and keep the
 * target's in NS_TID; then resolve the GIL holder again. Ids PAIRS do not know are kept. */
void ps_model_map_tids(struct ps_model *m, const struct ps_tid_pair *pairs, size_t n);
void ps_value_free(struct ps_value *v);
void ps_request_free(struct ps_request *r);
void ps_model_free(struct ps_model *m);

#endif
