/*
 * engine-drive.c - drive a real sv_engine from the integration tests and
 *	benchmarks: load a config, start the engine (snapshot, workers,
 *	warm-up), submit domains, wait for their answers, print them and the
 *	counters, and free the engine (which saves the snapshot).
 *
 * Usage: engine-drive -c CONF [-f FILE] [-t WAIT_MS] [-r ROUNDS] [-i PAUSE_MS]
 *			[-F] [-S] [-q] [DOMAIN...]
 *	-f FILE   more domains, one per line
 *	-t MS     how long to wait for each answer (default 10000)
 *	-r N      rounds: after the first, pause, look everything up again and
 *		  wait until no refresh is pending (measures re-checks)
 *	-i MS     pause between rounds (default 1100)
 *	-F        force: sv_engine_refresh each domain first (API call)
 *	-S        print every counter as "stat NAME VALUE"
 *	-q        no per-domain lines, only "count STATE N"
 *	-G N      instead: write a snapshot of N fresh verified records
 *		  gNNNNNN.test to the config's CacheFile and exit
 * Output: "DOMAIN STATE stale=0|1 code=CODE fail=TYPE:NAME", "elapsed SECONDS".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "sesverify.h"
#include "snapshot.h"

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void print_stat(const char *name, uint64_t value, void *arg)
{
	(void)arg;
	printf("stat %s %llu\n", name, (unsigned long long)value);
}

static void report(const char *message, void *arg)
{
	(void)arg;
	fprintf(stderr, "engine-drive: %s\n", message);
}

static void log_fn(int level, const char *message, void *arg)
{
	(void)arg;
	fprintf(stderr, "engine-drive[%d]: %s\n", level, message);
}

/* add - append a domain to the list */
static void add(char ***v, size_t *n, size_t *cap, const char *d)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		if ((*v = realloc(*v, *cap * sizeof(**v))) == NULL)
			exit(2);
	}
	if (((*v)[(*n)++] = strdup(d)) == NULL)
		exit(2);
}

/* generate - a snapshot of n fresh verified records */
static int generate(const sv_config *cfg, long n)
{
	char err[512], d[64];
	sv_cache *c;
	sv_cache_rec r = {0};
	int64_t now = sv_cache_now_ms();
	size_t saved = 0;
	int rc;

	if (!cfg->cache_file)
		return fprintf(stderr, "engine-drive: no CacheFile\n"), 2;
	if ((c = sv_cache_open(NULL, (size_t)n, err, sizeof(err))) == NULL)
		return fprintf(stderr, "engine-drive: %s\n", err), 3;
	r.state = SV_STATE_VERIFIED;
	r.fetched_at = r.api_checked_at = now;
	r.expires_at = now + 3600 * 1000;
	for (long i = 0; i < n; i++) {
		snprintf(d, sizeof(d), "g%06ld.test", i);
		snprintf(r.request_id, sizeof(r.request_id), "gen-%ld", i);
		sv_cache_put(c, d, &r);
	}
	rc = sv_snapshot_save(c, cfg->cache_file, now, &saved, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "engine-drive: %s\n", err);
	else
		printf("generated %zu\n", saved);
	sv_cache_close(c);
	return rc < 0 ? 3 : 0;
}

/* settle - wait until none of the domains has a refresh pending */
static void settle(sv_engine *e, char **v, size_t n, double until)
{
	sv_entry_view view;

	for (size_t i = 0; i < n && mono() < until; i++) {
		sv_engine_lookup(e, v[i], &view);
		while (view.refreshing && mono() < until) {
			usleep(20000);
			sv_engine_lookup(e, v[i], &view);
		}
	}
}

int main(int argc, char **argv)
{
	const char *conf = NULL, *file = NULL;
	long wait_ms = 10000, pause_ms = 1100;
	int rounds = 1, force = 0, stats = 0, quiet = 0, c;
	long gen = 0;
	char **v = NULL, err[512], line[512];
	size_t n = 0, cap = 0, count[SV_STATE_ERROR + 1] = {0};
	sv_config *cfg;
	sv_engine *e;
	sv_entry_view view;
	double t0;

	while ((c = getopt(argc, argv, "c:f:t:r:i:G:FSq")) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 't':
			wait_ms = atol(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'i':
			pause_ms = atol(optarg);
			break;
		case 'G':
			gen = atol(optarg);
			break;
		case 'F':
			force = 1;
			break;
		case 'S':
			stats = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			fprintf(stderr,
			        "usage: engine-drive -c CONF [-f FILE] [-t MS] [-r N] [-i MS] [-F] "
			        "[-S] [-q] [DOMAIN...]\n");
			return 2;
		}
	}
	if (!conf)
		return fprintf(stderr, "engine-drive: -c CONF is required\n"), 2;
	for (int i = optind; i < argc; i++)
		add(&v, &n, &cap, argv[i]);
	if (file) {
		FILE *f = fopen(file, "r");
		if (!f)
			return perror(file), 2;
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\r\n")] = 0;
			if (line[0])
				add(&v, &n, &cap, line);
		}
		fclose(f);
	}
	sv_library_init();
	sv_log_set_handler(log_fn, NULL, getenv("DRIVE_DEBUG") ? SV_LOG_DEBUG : SV_LOG_NOTICE);
	if (sv_config_load(conf, &cfg, report, NULL) != 0)
		return 2;
	if (gen > 0) {
		int rc = generate(cfg, gen);
		sv_config_free(cfg);
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		sv_library_cleanup();
		return rc;
	}
	if ((e = sv_engine_new(cfg, err, sizeof(err))) == NULL)
		return fprintf(stderr, "engine-drive: %s\n", err), 3;
	t0 = mono();
	if (sv_engine_start(e) < 0)
		return fprintf(stderr, "engine-drive: cannot start the engine\n"), 3;
	for (int r = 0; r < rounds; r++) {
		if (r > 0)
			usleep((useconds_t)pause_ms * 1000);
		for (size_t i = 0; i < n; i++) {
			if (force && r == 0)
				sv_engine_refresh(e, v[i]);
			sv_engine_lookup(e, v[i], &view);
		}
		for (size_t i = 0; i < n; i++)
			sv_engine_wait(e, v[i], wait_ms, &view);
		if (r > 0 || force)
			settle(e, v, n, mono() + wait_ms / 1000.0);
	}
	for (size_t i = 0; i < n; i++) {
		sv_engine_lookup(e, v[i], &view);
		count[view.state]++;
		if (!quiet)
			printf("%s %s stale=%d code=%s fail=%s:%s\n", v[i],
			       sv_state_name(view.state), view.stale ? 1 : 0,
			       view.error_code[0] ? view.error_code : "-",
			       view.fail_type[0] ? view.fail_type : "-",
			       view.fail_name[0] ? view.fail_name : "-");
	}
	for (int s = 0; s <= SV_STATE_ERROR; s++)
		printf("count %s %zu\n", sv_state_name((sv_state)s), count[s]);
	printf("elapsed %.2f\n", mono() - t0);
	if (stats)
		sv_engine_stats(e, print_stat, NULL);
	fflush(stdout);
	sv_engine_free(e);
	sv_config_free(cfg);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	sv_library_cleanup();
	return 0;
}
