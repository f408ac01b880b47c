/* pysnap top's screen: see top_screen.h. ncurses draws into its own copy of the screen and
 * sends only the difference at refresh(), so a redraw every second never flickers; erase()
 * (not clear()) keeps it that way. Every string from the target goes through ps_term_escape. */
#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "pysnap/error.h"
#include "pysnap/model.h"
#include "pysnap/report.h"
#include "top_screen.h"

#define PROC_LINES_MAX 8 /* --children: processes listed in the header (busiest first) */

static SCREEN *screen;
static int ascii_only; /* the locale is not UTF-8: show bytes past 0x7f as \xNN */

int top_screen_open(void)
{
    if (screen)
        return 0;
    /* The terminal's character set, for ncurses and for what we show; only LC_CTYPE: numbers
     * keep their C form ("1.5" everywhere). */
    setlocale(LC_CTYPE, "");
    const char *cs = nl_langinfo(CODESET);
    ascii_only = !cs || strcmp(cs, "UTF-8") != 0;
    screen = newterm(NULL, stdout, stdin); /* NULL, not exit(), when the terminal is unknown */
    if (!screen)
        return -1;
    set_term(screen);
    cbreak();      /* keys one by one; Ctrl-C still sends SIGINT */
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25); /* a lone Esc must not hold the sampling loop for ncurses' second */
    curs_set(0);
    return 0;
}

void top_screen_close(void)
{
    if (!screen)
        return;
    curs_set(1);
    endwin(); /* leaves the alternate screen, restores the modes it changed */
    delscreen(screen);
    screen = NULL;
}

/* Columns S takes on screen (S is escaped: printable only). */
static int width_of(const char *s, size_t len)
{
    if (ascii_only)
        return (int)len;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    int w = 0;
    while (len) {
        wchar_t wc;
        size_t n = mbrtowc(&wc, s, len, &st);
        if (n == 0 || n == (size_t)-1 || n == (size_t)-2) {
            n = 1;
            memset(&st, 0, sizeof st);
            w++;
        } else {
            int cw = wcwidth(wc);
            w += cw > 0 ? cw : 0;
        }
        s += n;
        len -= n;
    }
    return w;
}

/* Bytes of S that fit in COLS columns. */
static size_t fit(const char *s, int cols)
{
    size_t len = strlen(s), n = 0;
    while (n < len) {
        size_t next = n + 1;
        if (!ascii_only)
            while (next < len && ((unsigned char)s[next] & 0xc0) == 0x80)
                next++;
        if (width_of(s, next) > cols)
            break;
        n = next;
    }
    return n;
}

/* S at (Y, X), cut at the right edge. */
static void put(int y, int x, const char *s, attr_t attr)
{
    if (y < 0 || y >= LINES || x >= COLS)
        return;
    attron(attr);
    mvaddnstr(y, x, s, (int)fit(s, COLS - x));
    attroff(attr);
}

static char *esc(const char *s, char *buf, size_t size)
{
    return ps_term_escape(s, buf, size, ascii_only);
}

/* "function (file:line)" in at most COLS columns: the file is cut from the left ("...tail"). */
static void label(char *out, size_t size, const char *function, const char *file, int line,
                  int cols)
{
    char fn[512], f[1024], where[1100];
    esc(function, fn, sizeof fn);
    esc(file ? file : "?", f, sizeof f);
    if (line >= 0)
        snprintf(where, sizeof where, "%s:%d", f, line);
    else
        snprintf(where, sizeof where, "%s", f);
    snprintf(out, size, "%s (%s)", fn, where);
    int over = width_of(out, strlen(out)) - cols;
    if (over <= 0)
        return;
    size_t wl = strlen(where), cut = 0;
    while (cut < wl && width_of(where, cut) < over + 3)
        cut++;
    while (cut < wl && !ascii_only && ((unsigned char)where[cut] & 0xc0) == 0x80)
        cut++;
    if (cut < wl)
        snprintf(out, size, "%s (...%s)", fn, where + cut);
}

static int cmp_share(const void *pa, const void *pb)
{
    const struct ps_top_process *a = pa, *b = pb;
    if (a->samples != b->samples)
        return a->samples > b->samples ? -1 : 1;
    return (a->pid > b->pid) - (a->pid < b->pid);
}

/* The GIL share, PREFIX first ("GIL 97.0%"); where there is no GIL (a free-threaded build)
 * "no GIL", never a 0%. */
static const char *gil_cell(int no_gil, double pct_held, const char *prefix, char *buf,
                            size_t size)
{
    if (no_gil)
        snprintf(buf, size, "%s", *prefix ? "no GIL (free-threaded)" : "no GIL");
    else
        snprintf(buf, size, "%s%.1f%%", prefix, pct_held);
    return buf;
}

/* The header: the target, the sampling, (--children) the processes. Returns the next line. */
static int draw_header(struct ps_top *t, const struct top_view *v, const struct top_header *h)
{
    char buf[1024], cmd[600], py[64], gil[64];
    size_t np = ps_top_nprocesses(t);
    struct ps_top_process root = {0}, p;
    const char *python = NULL;
    for (size_t i = 0; i < np; i++) {
        ps_top_process_at(t, i, v->span, &p);
        if ((int64_t)p.pid == h->root_pid)
            root = p;
        if (!python && p.python)
            python = p.python;
    }
    snprintf(buf, sizeof buf, "pysnap top  pid %lld%s  Python %s  %s", (long long)h->root_pid,
             h->children ? " --children" : "", esc(python ? python : "?", py, sizeof py),
             esc(root.cmdline ? root.cmdline : "", cmd, 200));
    put(0, 0, buf, A_BOLD);
    struct ps_top_totals s;
    ps_top_totals(t, v->span, &s);
    snprintf(buf, sizeof buf, "%s%s  %s %.1f s ",
             v->paused ? "[PAUSED]  " : "", h->mode,
             v->span == PS_TOP_WINDOW ? "last" : "since start", s.seconds);
    int w = (int)strlen(buf);
    if (COLS - w > 60)
        put(0, COLS - w, buf, v->paused ? A_REVERSE : A_NORMAL);
    snprintf(buf, sizeof buf,
             "Rate %.1f/s (asked %u)  Samples %llu  Torn %llu (%.1f%%)  Late %llu  %s  "
             "Threads on CPU %u/%u",
             s.rate, h->rate, (unsigned long long)s.samples, (unsigned long long)s.torn,
             s.samples + s.torn ? 100.0 * (double)s.torn / (double)(s.samples + s.torn) : 0.0,
             (unsigned long long)s.late, gil_cell(s.no_gil, s.gil_pct, "GIL ", gil, sizeof gil),
             s.on_cpu, s.threads);
    int y = 1;
    char *below = strstr(buf, s.no_gil ? "  no GIL" : "  GIL ");
    if ((int)strlen(buf) > COLS && below) { /* a narrow terminal: the GIL and threads below */
        *below = 0;
        put(y++, 0, buf, A_NORMAL);
        put(y++, 0, below + 2, A_NORMAL);
    } else {
        put(y++, 0, buf, A_NORMAL);
    }
    if (!h->children && np <= 1)
        return y + 1;
    struct ps_top_process *ps = calloc(np ? np : 1, sizeof *ps);
    if (!ps)
        return y + 1;
    for (size_t i = 0; i < np; i++)
        ps_top_process_at(t, i, v->span, &ps[i]);
    qsort(ps, np, sizeof *ps, cmp_share);
    size_t show = np;
    int room = LINES / 3 - 1;
    if (show > PROC_LINES_MAX)
        show = PROC_LINES_MAX;
    if ((int)show > room)
        show = room > 1 ? (size_t)room : 1;
    put(y++, 0, "    PID   Share    GIL  Threads  Python   Command", A_UNDERLINE);
    for (size_t i = 0; i < show; i++) {
        snprintf(buf, sizeof buf, "%7llu  %5.1f%%  %6s  %3u/%-3u  %-7s  %s%s",
                 (unsigned long long)ps[i].pid, ps[i].share_pct,
                 gil_cell(ps[i].no_gil, ps[i].gil_pct, "", gil, sizeof gil), ps[i].on_cpu,
                 ps[i].threads, esc(ps[i].python ? ps[i].python : "?", py, sizeof py),
                 ps[i].exited ? "(exited) " : "", esc(ps[i].cmdline ? ps[i].cmdline : "", cmd, sizeof cmd));
        put(y++, 0, buf, i == 0 && ps[i].samples ? A_BOLD : A_NORMAL);
    }
    if (show < np) {
        snprintf(buf, sizeof buf, "    ... %zu more processes", np - show);
        put(y++, 0, buf, A_NORMAL);
    }
    free(ps);
    return y + 1;
}

/* The numeric columns, right-aligned over the row format of draw_table. */
static const char *const columns[] = {"   %Own", "   %Total", "   OwnTime", "  TotalTime"};

static void draw_table(struct ps_top *t, const struct top_view *v, const struct top_header *h,
                       int y, int bottom)
{
    int x = 0;
    for (int c = 0; c < 4; c++) {
        put(y, x, columns[c], v->sort == (enum ps_top_sort)c ? A_REVERSE : A_UNDERLINE);
        x += (int)strlen(columns[c]);
    }
    put(y, x, "  ", A_UNDERLINE);
    put(y, x + 2, "Function", v->sort == PS_TOP_SORT_FUNCTION ? A_REVERSE : A_UNDERLINE);
    put(y, x + 10, v->group == PS_TOP_LINE ? " (file:line)" : " (file:hottest line)",
        v->sort == PS_TOP_SORT_FILE ? A_REVERSE : A_UNDERLINE);
    y++;
    const struct ps_top_row *rows;
    size_t n;
    if (ps_top_rows(t, v->group, v->span, v->sort, &rows, &n) != PS_OK) {
        put(y, 0, "(out of memory)", A_BOLD);
        return;
    }
    struct ps_top_totals tot;
    ps_top_totals(t, v->span, &tot);
    if (n == 0 && tot.no_gil && h->mode && strcmp(h->mode, "--gil") == 0)
        put(y, 2, "(--gil: a free-threaded build has no GIL, so no thread holds it; run top without "
                  "--gil)", A_NORMAL);
    else if (n == 0)
        put(y, 2, "(no samples yet)", A_NORMAL);
    int lines = 0;
    for (size_t i = 0; i < n && !lines; i++)
        lines = rows[i].line >= 0;
    if (v->group == PS_TOP_LINE && n && !lines && bottom > y) /* say why the rows look alike */
        put(--bottom, 0, "(the samples carry no line numbers: one row per function)", A_DIM);
    char buf[2048], lab[1700];
    for (size_t i = (size_t)v->scroll; i < n && y < bottom; i++, y++) {
        const struct ps_top_row *r = &rows[i];
        int lw = COLS - 40;
        label(lab, sizeof lab, r->function, r->file, r->line, lw > 20 ? lw : 20);
        snprintf(buf, sizeof buf, "%6.1f%% %7.1f%% %8.2fs %9.2fs  %s", r->own_pct, r->total_pct,
                 r->own_time, r->total_time, lab);
        put(y, 0, buf, A_NORMAL);
    }
}

static const char *state_text(const struct ps_top_thread *th, char *buf, size_t size)
{
    /* The GIL holder runs; the sampler does not read its letter, so none is shown (it would
     * come and go between the refreshes). */
    char os = th->os_state >= 'A' && th->os_state <= 'Z' && !th->holds_gil ? th->os_state : 0;
    if (os)
        snprintf(buf, size, "%s (%c)", ps_thread_state_name(th->state), os);
    else
        snprintf(buf, size, "%s", ps_thread_state_name(th->state));
    return buf;
}

/* Each thread: a line with its state, then its stack, innermost first. When they do not all
 * fit, each stack is cut to its share of the screen so that every thread stays in view. */
static void draw_threads(struct ps_top *t, const struct top_view *v, int y, int bottom)
{
    put(y++, 0, "Threads: each one's latest stack (innermost first) and state", A_UNDERLINE);
    size_t n = ps_top_nthreads(t);
    if (n == 0)
        put(y, 2, "(no thread seen yet)", A_NORMAL);
    size_t lines = 0;
    for (size_t i = 0; i < n; i++) {
        struct ps_top_thread th;
        ps_top_thread_at(t, i, v->span, &th);
        lines += 1 + (th.nframes ? th.nframes : 1);
    }
    size_t room = bottom > y ? (size_t)(bottom - y) : 0, budget = SIZE_MAX;
    if (n && lines > room && v->scroll == 0) {
        budget = room > 2 * n ? room / n - 2 : 1; /* a line for the thread, one for "..." */
        if (budget < 3)
            budget = 3;
    }
    char buf[2048], name[256], st[64], lab[1700];
    int line = 0;
    for (size_t i = 0; i < n && y < bottom; i++) {
        struct ps_top_thread th;
        ps_top_thread_at(t, i, v->span, &th);
        if (line++ >= v->scroll) {
            snprintf(buf, sizeof buf, "pid %llu  thread %u%s%s%s  %s%s  %llu sample%s",
                     (unsigned long long)th.pid, th.tid, th.name ? " \"" : "",
                     th.name ? esc(th.name, name, sizeof name) : "", th.name ? "\"" : "",
                     state_text(&th, st, sizeof st), th.holds_gil ? ", holds the GIL" : "",
                     (unsigned long long)th.samples, th.samples == 1 ? "" : "s");
            put(y++, 0, buf, A_BOLD);
        }
        if (th.nframes == 0 && line++ >= v->scroll && y < bottom)
            put(y++, 4, "(no Python frames)", A_NORMAL);
        size_t shown = th.nframes < budget ? th.nframes : budget;
        for (size_t k = 0; k < shown && y < bottom; k++) {
            if (line++ < v->scroll)
                continue;
            label(lab, sizeof lab, th.frames[k].function, th.frames[k].file, th.frames[k].line,
                  COLS - 6);
            put(y++, 4, lab, A_NORMAL);
        }
        if (shown < th.nframes && y < bottom) {
            snprintf(buf, sizeof buf, "... %zu outer frames (scroll to see all)",
                     th.nframes - shown);
            put(y++, 4, buf, A_DIM);
        }
    }
}

static const char *const help_lines[] = {
    "pysnap top: keys",
    "",
    "  1 2 3 4   sort by %Own, %Total, OwnTime, TotalTime",
    "  5 6       sort by function name, by file",
    "  < >       sort by the column left / right",
    "  l         one row per line / per function",
    "  t         thread view: each thread's stack and state",
    "  w         percentages of the last window / since start",
    "  p, space  pause (sampling goes on; the numbers stay)",
    "  r         reset the counts",
    "  arrows, PgUp, PgDn, Home   scroll",
    "  ?         this help (any key closes it)",
    "  q         quit (Ctrl-C too)",
    "",
    "%Own: innermost frame; %Total: anywhere on the stack.",
    "100% = one thread there in every sampling round.",
    "OwnTime, TotalTime: seconds since start (or reset).",
};

static void draw_help(void)
{
    size_t n = sizeof help_lines / sizeof *help_lines;
    int y = (LINES - (int)n) / 2, x = COLS > 60 ? (COLS - 60) / 2 : 0;
    for (size_t i = 0; i < n; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, " %-58s ", help_lines[i]);
        put(y + (int)i, x, buf, i == 0 ? A_REVERSE | A_BOLD : A_REVERSE);
    }
}

void top_screen_draw(struct ps_top *t, const struct top_view *v, const struct top_header *h)
{
    if (!screen)
        return;
    erase();
    int y = draw_header(t, v, h);
    int bottom = LINES - 1;
    if (v->threads)
        draw_threads(t, v, y, bottom);
    else
        draw_table(t, v, h, y, bottom);
    char keys[256];
    snprintf(keys, sizeof keys,
             " 1-6 sort (%s)  l %s  t %s  w %s  p pause  r reset  ? help  q quit ",
             ps_top_sort_names[v->sort], v->group == PS_TOP_LINE ? "functions" : "lines",
             v->threads ? "table" : "threads", v->span == PS_TOP_WINDOW ? "since start" : "window");
    put(LINES - 1, 0, keys, A_REVERSE);
    if (v->help)
        draw_help();
    refresh();
}

static enum top_action stronger(enum top_action a, enum top_action b)
{
    return a > b ? a : b;
}

enum top_action top_screen_keys(struct top_view *v)
{
    if (!screen)
        return TOP_NONE;
    enum top_action act = TOP_NONE;
    int page = LINES > 10 ? LINES - 8 : 1;
    for (int ch; (ch = getch()) != ERR;) {
        if (v->help && ch != KEY_RESIZE) { /* any key closes the help */
            v->help = 0;
            act = stronger(act, TOP_REDRAW);
            if (ch != 'q' && ch != 'Q')
                continue;
        }
        switch (ch) {
        case 'q': case 'Q': return TOP_QUIT;
        case '1': case '2': case '3': case '4': case '5': case '6':
            v->sort = (enum ps_top_sort)(ch - '1');
            v->scroll = 0;
            break;
        case '<': v->sort = (enum ps_top_sort)((v->sort + PS_TOP_NSORT - 1) % PS_TOP_NSORT); break;
        case '>': v->sort = (enum ps_top_sort)((v->sort + 1) % PS_TOP_NSORT); break;
        case 'l': case 'L':
            v->group = v->group == PS_TOP_LINE ? PS_TOP_FUNCTION : PS_TOP_LINE;
            v->scroll = 0;
            break;
        case 't': case 'T': v->threads = !v->threads; v->scroll = 0; break;
        case 'w': case 'W':
            v->span = v->span == PS_TOP_WINDOW ? PS_TOP_SINCE_START : PS_TOP_WINDOW;
            break;
        case 'p': case 'P': case ' ': v->paused = !v->paused; break;
        case 'r': case 'R': act = stronger(act, TOP_RESET); v->scroll = 0; break;
        case '?': case 'h': case 'H': v->help = 1; break;
        case KEY_DOWN: case 'j': v->scroll++; break;
        case KEY_UP: case 'k': v->scroll = v->scroll > 0 ? v->scroll - 1 : 0; break;
        case KEY_NPAGE: v->scroll += page; break;
        case KEY_PPAGE: v->scroll = v->scroll > page ? v->scroll - page : 0; break;
        case KEY_HOME: v->scroll = 0; break;
        case 12: clearok(curscr, TRUE); break; /* Ctrl-L: repaint all */
        case KEY_RESIZE: break;
        default: continue;
        }
        act = stronger(act, TOP_REDRAW);
    }
    return act;
}
