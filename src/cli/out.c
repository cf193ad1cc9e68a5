/*
 * out.c - what the CLI prints: text tables for people (column widths from
 * the content) and the server's JSON, pretty-printed, for scripts; durations
 * and rates for progress lines.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc.h"
#include "util.h"
#include "cli.h"
#include "banned.h"

void cli_table_init(struct cli_table *t, size_t ncols, const char *const *headers)
{
    t->ncols = ncols;
    t->nrows = 0;
    t->cells = NULL;
    cli_table_add(t, headers);
    t->nrows = 0;
}

void cli_table_add(struct cli_table *t, const char *const *cells)
{
    size_t base = (t->cells ? t->nrows + 1 : 0) * t->ncols, i;
    t->cells = berth_xrealloc(t->cells, (base + t->ncols) * sizeof(char *));
    for (i = 0; i < t->ncols; i++) t->cells[base + i] = berth_xstrdup(cells[i] ? cells[i] : "-");
    if (base) t->nrows++;
}

void cli_table_render(const struct cli_table *t, struct berth_buf *out)
{
    size_t *w = berth_xcalloc(t->ncols ? t->ncols : 1, sizeof(size_t));
    size_t r, c;

    for (r = 0; r <= t->nrows; r++)
        for (c = 0; c < t->ncols; c++) {
            size_t n = strlen(t->cells[r * t->ncols + c]);
            if (n > w[c]) w[c] = n;
        }
    for (r = 0; r <= t->nrows; r++) {
        for (c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            if (c + 1 == t->ncols) berth_buf_puts(out, s);
            else berth_buf_printf(out, "%-*s  ", (int)w[c], s);
        }
        berth_buf_putc(out, '\n');
    }
    free(w);
}

void cli_table_release(struct cli_table *t)
{
    size_t i;
    if (!t->cells) return;
    for (i = 0; i < (t->nrows + 1) * t->ncols; i++) free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = 0;
}

/* One step of a path: an object member, or an array element by its decimal index. */
static const json_t *step(const json_t *v, const char *key, size_t len)
{
    char k[64];
    char *end;
    unsigned long i;

    snprintf(k, sizeof(k), "%.*s", (int)(len < sizeof(k) ? len : sizeof(k) - 1), key);
    if (json_is_object(v)) return json_object_get(v, k);
    if (!json_is_array(v) || !*k) return NULL;
    i = strtoul(k, &end, 10);
    return *end ? NULL : json_array_get(v, i);
}

/* The member at path "a.b" ("passwords.0.value") of obj, or NULL. */
static const json_t *member(const json_t *obj, const char *path)
{
    const char *dot;

    while (obj) {
        dot = strchr(path, '.');
        if (!dot) return step(obj, path, strlen(path));
        obj = step(obj, path, (size_t)(dot - path));
        path = dot + 1;
    }
    return NULL;
}

static void cell_text(const json_t *v, struct berth_buf *b)
{
    size_t i;
    char *s;

    if (!v || json_is_null(v)) {
        berth_buf_puts(b, "-");
    } else if (json_is_string(v)) {
        berth_buf_puts(b, json_string_value(v));
    } else if (json_is_integer(v)) {
        berth_buf_printf(b, "%lld", (long long)json_integer_value(v));
    } else if (json_is_true(v) || json_is_false(v)) {
        berth_buf_puts(b, json_is_true(v) ? "true" : "false");
    } else if (json_is_array(v)) {
        if (!json_array_size(v)) berth_buf_puts(b, "-");
        for (i = 0; i < json_array_size(v); i++) {
            const json_t *e = json_array_get(v, i);
            if (i) berth_buf_putc(b, ',');
            /* {"value": x} (ip rules) and {"name": x} (passwords) read best as the one word */
            if (json_is_object(e) && json_object_get(e, "value")) e = json_object_get(e, "value");
            else if (json_is_object(e) && json_object_get(e, "name")) e = json_object_get(e, "name");
            else if (json_is_object(e) && json_object_get(e, "id")) e = json_object_get(e, "id");
            cell_text(e, b);
        }
    } else {
        s = json_dumps(v, JSON_COMPACT);
        berth_buf_puts(b, s ? s : "?");
        free(s);
    }
}

char *cli_json_cell(const json_t *obj, const char *path)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    cell_text(member(obj, path), &b);
    return berth_buf_detach(&b, NULL);
}

void cli_out_table(FILE *out, const json_t *rows, const struct cli_col *cols, size_t ncols)
{
    struct cli_table t;
    struct berth_buf b = BERTH_BUF_INIT(0);
    const char **cells = berth_xcalloc(ncols, sizeof(char *));
    size_t i, c;

    for (c = 0; c < ncols; c++) cells[c] = cols[c].header;
    cli_table_init(&t, ncols, cells);
    for (i = 0; i < json_array_size(rows); i++) {
        char **own = berth_xcalloc(ncols, sizeof(char *));
        for (c = 0; c < ncols; c++) own[c] = cli_json_cell(json_array_get(rows, i), cols[c].path);
        cli_table_add(&t, (const char *const *)own);
        for (c = 0; c < ncols; c++) free(own[c]);
        free(own);
    }
    cli_table_render(&t, &b);
    fputs(berth_buf_str(&b), out);
    berth_buf_release(&b);
    cli_table_release(&t);
    free(cells);
}

void cli_out_fields(FILE *out, const json_t *obj, const struct cli_col *cols, size_t ncols)
{
    static const char *const hdr[2] = {"FIELD", "VALUE"};
    struct cli_table t;
    struct berth_buf b = BERTH_BUF_INIT(0);
    size_t c;

    cli_table_init(&t, 2, hdr);
    for (c = 0; c < ncols; c++) {
        char *v = cli_json_cell(obj, cols[c].path);
        const char *row[2] = {cols[c].header, v};
        cli_table_add(&t, row);
        free(v);
    }
    cli_table_render(&t, &b);
    /* the header row says nothing for a single object: skip it */
    fputs(strchr(berth_buf_str(&b), '\n') + 1, out);
    berth_buf_release(&b);
    cli_table_release(&t);
}

void cli_out_json(FILE *out, const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
    fprintf(out, "%s\n", s ? s : "null");
    free(s);
}

/* "2.5s", "45s", "2m03s", "1h02m" */
void cli_duration(int64_t us, char *out, size_t len)
{
    int64_t s = us / 1000000;

    if (us < 10000000) snprintf(out, len, "%.1fs", (double)us / 1e6);
    else if (s < 60) snprintf(out, len, "%llds", (long long)s);
    else if (s < 3600) snprintf(out, len, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else snprintf(out, len, "%lldh%02lldm", (long long)(s / 3600), (long long)(s / 60 % 60));
}

/* "85.3 MiB/s" for n bytes in us microseconds; "-" before there is anything to go by. */
void cli_rate(uint64_t n, int64_t us, char *out, size_t len)
{
    char h[32];

    if (us <= 0 || n == 0) {
        snprintf(out, len, "-");
        return;
    }
    berth_human_size((uint64_t)((double)n * 1e6 / (double)us), h, sizeof(h));
    snprintf(out, len, "%s/s", h);
}

#define PROGRESS_TTY_US 500000    /* a terminal's progress line is rewritten at most twice a second */
#define PROGRESS_LINES_US 5000000 /* elsewhere (a log), a line every five seconds */

void cli_progress_start(struct cli_progress *p, int on, int quiet_short)
{
    memset(p, 0, sizeof(*p));
    p->on = on;
    p->tty = isatty(STDERR_FILENO);
    p->quiet_short = quiet_short;
    if (quiet_short) p->shown_us = berth_mono_us(); /* a log's first line after five seconds */
}

int cli_progress_due(struct cli_progress *p, int final)
{
    if (!p->on) return 0;
    if (!final && berth_mono_us() - p->shown_us < (p->tty ? PROGRESS_TTY_US : PROGRESS_LINES_US)) return 0;
    return !(final && p->quiet_short && !p->tty && !p->any);
}

void cli_progress_show(struct cli_progress *p, const char *line, int final)
{
    size_t n = strlen(line);

    p->shown_us = berth_mono_us();
    p->any = 1;
    if (p->tty) fprintf(stderr, "\r%s%*s%s", line, p->width > n ? (int)(p->width - n) : 0, "", final ? "\n" : "");
    else fprintf(stderr, "%s\n", line);
    p->width = final ? 0 : n;
}
