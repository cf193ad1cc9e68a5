/*
 * runner.c - runs every registered unit test in a forked child with a
 * timeout and ends with "N passed, N failed". Arguments filter by substring.
 */
#include <signal.h>
#include "lazy_pq.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "alloc.h"
#include "test.h"
#include "banned.h"

#define MAX_TESTS 2048
#define TIMEOUT_S 60

struct test_row {
    const char *name;
    berth_test_fn fn;
    const char *file;
};

static struct test_row tests[MAX_TESTS];
static int ntests;
static char tmpdir[256];

void berth_test_register(const char *name, berth_test_fn fn, const char *file)
{
    if (ntests >= MAX_TESTS) abort();
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    tests[ntests].file = file;
    ntests++;
}

const char *berth_test_tmpdir(void)
{
    return tmpdir;
}

char *berth_test_pg_fresh(const char *name)
{
    const char *host = getenv("BERTH_TEST_PG_HOST");
    struct berth_err err = BERTH_ERR_INIT;
    char *admin, *sql;
    PGconn *c;
    PGresult *r;

    if (!host || !*host) return NULL;
    if (berth_lazy_load(BERTH_LIB_PQ, &err)) BERTH_TEST_FAIL("%s", berth_err_msg(&err));
    admin = berth_xasprintf("host=%s user=postgres dbname=postgres", host);
    c = PQconnectdb(admin);
    if (PQstatus(c) != CONNECTION_OK) BERTH_TEST_FAIL("postgres at %s: %s", host, PQerrorMessage(c));
    sql = berth_xasprintf("DROP DATABASE IF EXISTS \"t_%s\"", name);
    PQclear(PQexec(c, sql));
    free(sql);
    sql = berth_xasprintf("CREATE DATABASE \"t_%s\"", name);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) BERTH_TEST_FAIL("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    free(sql);
    PQfinish(c);
    free(admin);
    return berth_xasprintf("host=%s user=postgres dbname=t_%s", host, name);
}

static int selected(const struct test_row *t, int argc, char **argv)
{
    int i;
    if (argc < 2) return 1;
    for (i = 1; i < argc; i++)
        if (strstr(t->name, argv[i]) || strstr(t->file, argv[i])) return 1;
    return 0;
}

/* 1 passed, 0 failed, -1 skipped. */
static int run_one(const struct test_row *t)
{
    pid_t pid;
    int status = 0;
    char cmd[300];

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/berth-unit-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 0;
    }
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        alarm(TIMEOUT_S);
        t->fn();
        exit(0);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0) status = -1;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "  could not remove %s\n", tmpdir);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == BERTH_TEST_SKIPPED) return -1;
    if (WIFSIGNALED(status))
        fprintf(stderr, "  killed by signal %d%s\n", WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
    return 0;
}

int main(int argc, char **argv)
{
    int i, r, passed = 0, failed = 0, skipped = 0;

    for (i = 0; i < ntests; i++) {
        if (!selected(&tests[i], argc, argv)) continue;
        r = run_one(&tests[i]);
        if (r > 0) {
            passed++;
            printf("ok - %s\n", tests[i].name);
        } else if (r < 0) {
            skipped++;
            printf("skip - %s (%s)\n", tests[i].name, tests[i].file);
        } else {
            failed++;
            printf("not ok - %s (%s)\n", tests[i].name, tests[i].file);
        }
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
