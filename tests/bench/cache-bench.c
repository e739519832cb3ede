/*
 * cache-bench.c - cache lookup throughput and memory per entry.
 *	For 1k, 100k and 1M entries: bytes per entry beyond the strings
 *	(mallinfo2 before/after filling the in-memory backend), snapshot
 *	save and load times, and lookups per second with 1 and 2 threads,
 *	both at the backend (sv_cache_peek) and through the public hot path
 *	(sv_engine_lookup: normalisation, peek, refresh decision).
 *	The looked-up name is written into a local buffer from the random
 *	index, as the milter has it (MAIL FROM's domain, hot in L1); an
 *	array of 1M strdup'd names would add two cache misses per lookup
 *	(the pointer and the string) that are the bench's, not the cache's.
 *	"-a" keeps the old way (names[] array) for comparison.
 *	Not part of "make check"; build with "make tests/bench/cache-bench".
 *
 * Usage: cache-bench [-a] [SECONDS-PER-MEASUREMENT] [MAX-ENTRIES]
 */
#include "config.h"

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "sesverify.h"
#include "snapshot.h"

static double secs = 1.0;
static char **names;
static size_t nnames;
static sv_cache *cache;
static sv_engine *engine;
static volatile int stop;
static int from_array; /* -a: look names up through names[] */

/* name_of - "d%07zu.example.com" without printf (bench overhead) */
static const char *name_of(size_t i, char *buf)
{
	static const char tail[] = ".example.com";

	buf[0] = 'd';
	for (int k = 7; k >= 1; k--) {
		buf[k] = (char)('0' + i % 10);
		i /= 10;
	}
	memcpy(buf + 8, tail, sizeof(tail));
	return buf;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t heap(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

struct worker {
	pthread_t tid;
	unsigned long n;
	uint64_t rnd;
	int use_engine;
	double cpu; /* thread CPU seconds spent */
};

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	sv_entry_view v;
	char buf[32];
	int64_t now = sv_cache_now_ms();
	double c0 = cpu_now();

	while (!stop) {
		for (int k = 0; k < 256; k++) {
			w->rnd ^= w->rnd << 13;
			w->rnd ^= w->rnd >> 7;
			w->rnd ^= w->rnd << 17;
			size_t i = w->rnd % nnames;
			const char *d = from_array ? names[i] : name_of(i, buf);
			if (w->use_engine)
				sv_engine_lookup(engine, d, &v);
			else
				sv_cache_peek(cache, d, now, &v, NULL);
		}
		w->n += 256;
	}
	w->cpu = cpu_now() - c0;
	return NULL;
}

static double per_cpu; /* lookups per CPU-second of the last measure() */

/* measure - lookups per wall-clock second with t threads */
static double measure(int t, int use_engine)
{
	struct worker w[8];
	unsigned long total = 0;
	double t0, cpu = 0;

	stop = 0;
	for (int i = 0; i < t; i++) {
		w[i].n = 0;
		w[i].rnd = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1);
		w[i].use_engine = use_engine;
		pthread_create(&w[i].tid, NULL, run, &w[i]);
	}
	t0 = mono();
	usleep((useconds_t)(secs * 1e6));
	stop = 1;
	for (int i = 0; i < t; i++) {
		pthread_join(w[i].tid, NULL);
		total += w[i].n;
		cpu += w[i].cpu;
	}
	per_cpu = cpu > 0 ? total / cpu : 0;
	return total / (mono() - t0);
}

/* report - wall-clock and per-CPU-second rates, 1 and 2 threads */
static void report(size_t n, const char *what, int use_engine)
{
	double w1 = measure(1, use_engine), c1 = per_cpu;
	double w2 = measure(2, use_engine), c2 = per_cpu;

	printf("entries %zu: %s lookups/s: 1 thread %.2fM (%.2fM per CPU-s), 2 threads %.2fM "
	       "(%.2fM per CPU-s)\n",
	       n, what, w1 / 1e6, c1 / 1e6, w2 / 1e6, c2 / 1e6);
}

static void bench(size_t n)
{
	char err[256], path[] = "/tmp/sv-cache-bench-XXXXXX", file[300];
	size_t before, after, strings = 0, saved;
	sv_cache_rec r = {0};
	int64_t now = sv_cache_now_ms();
	double t0, tsave, tload;
	sv_config *cfg;

	names = calloc(n, sizeof(*names));
	nnames = n;
	for (size_t i = 0; i < n; i++) {
		char d[64];
		snprintf(d, sizeof(d), "d%07zu.example.com", i);
		names[i] = strdup(d);
	}
	r.state = SV_STATE_VERIFIED;
	r.fetched_at = r.api_checked_at = now;
	r.expires_at = now + 3600 * 1000;
	before = heap();
	cache = sv_cache_open(NULL, n, err, sizeof(err));
	for (size_t i = 0; i < n; i++) {
		snprintf(r.request_id, sizeof(r.request_id), "%08zx-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
		         i);
		sv_cache_put(cache, names[i], &r);
		strings += strlen(names[i]) + 1 + strlen(r.request_id) + 1;
	}
	after = heap();
	printf("entries %zu: %.0f bytes/entry in total, %.0f beyond the strings (domain+request id "
	       "%.0f)\n",
	       n, (double)(after - before) / n, (double)(after - before - strings) / n,
	       (double)strings / n);
	report(n, "backend sv_cache_peek", 0);

	mkdtemp(path);
	snprintf(file, sizeof(file), "%s/cache", path);
	t0 = mono();
	sv_snapshot_save(cache, file, now, &saved, err, sizeof(err));
	tsave = mono() - t0;
	sv_cache_close(cache);

	cfg = sv_config_defaults();
	free(cfg->cache_file);
	cfg->cache_file = strdup(file);
	cfg->warm_up = false;
	cfg->max_entries = n;
	engine = sv_engine_new(cfg, err, sizeof(err));
	t0 = mono();
	sv_engine_start(engine);
	tload = mono() - t0;
	printf("entries %zu: snapshot save %.2f s, load (engine start) %.2f s\n", n, tsave, tload);
	report(n, "sv_engine_lookup", 1);
	sv_engine_free(engine);
	sv_config_free(cfg);
	unlink(file);
	rmdir(path);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	size_t max = 1000000;

	if (argc > 1 && strcmp(argv[1], "-a") == 0) {
		from_array = 1;
		argc--;
		argv++;
	}
	if (argc > 1)
		secs = atof(argv[1]);
	if (argc > 2)
		max = (size_t)atol(argv[2]);
	sv_library_init();
	sv_log_set_handler(NULL, NULL, SV_LOG_WARNING);
	unsetenv("TENCENTCLOUD_SECRET_ID");
	printf("cpus %ld; names %s\n", sysconf(_SC_NPROCESSORS_ONLN),
	       from_array ? "from a strdup'd array (-a)" : "built in a local buffer");
	for (size_t n = 1000; n <= max; n = n == 1000 ? 100000 : n * 10)
		bench(n);
	sv_library_cleanup();
	return 0;
}
