/* e2e target for pysnap: a C program embedding libpython, so /proc/PID/exe is not a python.
 *
 * usage: embed_host SCRIPT [ARG...]
 *
 * Initializes the interpreter with sys.argv = [SCRIPT, ARG...], puts SCRIPT's directory first
 * on sys.path (as python would), runs SCRIPT with PyRun_SimpleFileExFlags and exits with 3 if
 * it raised. Built by tests/e2e/test_embed.py against an installed libpython (3.8+ API). */
#include <Python.h>

#include <libgen.h>
#include <stdio.h>
#include <string.h>

/* Not inlined: the e2e test finds it on the main thread's native stack. */
__attribute__((noinline)) static int run_script(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        perror(path);
        return 3;
    }
    return PyRun_SimpleFileExFlags(fp, path, 1, NULL) == 0 ? 0 : 3;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s SCRIPT [ARG...]\n", argv[0]);
        return 2;
    }
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.parse_argv = 0;
    PyStatus st = PyConfig_SetBytesArgv(&config, argc - 1, argv + 1);
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        fprintf(stderr, "embed_host: %s\n", st.err_msg ? st.err_msg : "cannot initialize");
        return 3;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", argv[1]);
    PyObject *path = PySys_GetObject("path"); /* borrowed */
    PyObject *d = PyUnicode_DecodeFSDefault(dirname(dir));
    if (!path || !d || PyList_Insert(path, 0, d) != 0) {
        PyErr_Print();
        return 3;
    }
    Py_DECREF(d);
    int rc = run_script(argv[1]);
    if (Py_FinalizeEx() < 0)
        rc = 3;
    return rc;
}
