/*
 * precheck-latency.c - latency of sv_precheck() against a DNS server.
 *
 *	Owns: a measurement loop only.  Runs N pre-checks round-robin over
 *	the given domains (expected attributes from an expected.tsv-style
 *	file, so each pre-check does the real 4 lookups: SOA, SPF TXT, DKIM
 *	TXT, MX), with THREADS threads each owning a resolver, and prints
 *	median, p90, p99, max and throughput.
 *
 *	precheck-latency -n NAMESERVERS -x TSV [-N COUNT] [-T THREADS]
 *		[-t TIMEOUT_MS] DOMAIN...
 *	tests/bench/precheck-latency.sh starts the test DNS and runs it.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sesverify.h"

#define MAX_DOMAINS 32
#define MAX_ATTRS   16
#define MAX_THREADS 64

struct domain {
	const char *name;
	sv_attr attrs[MAX_ATTRS];
	size_t n;
};

static sv_config *cfg;
static struct domain domains[MAX_DOMAINS];
static size_t ndomains;

struct worker {
	pthread_t tid;
	size_t first, count; /* global sample indexes [first, first+count) */
	int64_t *samples;
	unsigned failures;
};

/* load_tsv - the expected rows of every domain */
static int load_tsv(const char *path)
{
	char line[4096];
	FILE *fp = fopen(path, "r");

	if (!fp) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		char *f[4], *p = line;
		size_t n = 0;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#')
			continue;
		while (n < 4 && (f[n] = strsep(&p, "\t")) != NULL)
			n++;
		for (size_t d = 0; n == 4 && d < ndomains; d++) {
			struct domain *dm = &domains[d];
			if (strcmp(f[0], dm->name) != 0 || dm->n == MAX_ATTRS)
				continue;
			snprintf(dm->attrs[dm->n].type, sizeof(dm->attrs[dm->n].type), "%s", f[1]);
			dm->attrs[dm->n].send_domain = strdup(f[2]);
			dm->attrs[dm->n].expected = strdup(f[3]);
			dm->n++;
		}
	}
	fclose(fp);
	return 0;
}

/* run - one thread's share of the pre-checks */
static void *run(void *arg)
{
	struct worker *w = arg;
	char err[256];
	sv_resolver *res = sv_resolver_new(cfg, err, sizeof(err));

	if (!res) {
		fprintf(stderr, "resolver: %s\n", err);
		w->failures = (unsigned)w->count;
		return NULL;
	}
	for (size_t i = w->first; i < w->first + w->count; i++) {
		struct domain *d = &domains[i % ndomains];
		sv_precheck_result r;

		sv_precheck(res, d->name, d->attrs, d->n, &r);
		w->samples[i] = r.elapsed_us;
		if (r.verdict == SV_PRECHECK_UNAVAILABLE)
			w->failures++;
		sv_precheck_result_clear(&r);
	}
	sv_resolver_free(res);
	return NULL;
}

/* cmp64 - qsort order */
static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* pct - the p-th percentile of sorted samples (nearest rank) */
static double pct(const int64_t *s, size_t n, double p)
{
	size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);

	return (double)s[k ? k - 1 : 0] / 1000.0;
}

int main(int argc, char **argv)
{
	struct worker w[MAX_THREADS];
	const char *tsv = NULL;
	size_t count = 1000, threads = 1, per;
	unsigned failures = 0;
	int64_t *samples;
	struct timespec t0, t1;
	double wall;
	int c;

	if (sv_library_init() < 0 || !(cfg = sv_config_defaults()))
		return 2;
	while ((c = getopt(argc, argv, "n:x:N:T:t:")) != -1) {
		switch (c) {
		case 'n':
			free(cfg->nameservers);
			cfg->nameservers = strdup(optarg);
			break;
		case 'x':
			tsv = optarg;
			break;
		case 'N':
			count = (size_t)atol(optarg);
			break;
		case 'T':
			threads = (size_t)atol(optarg);
			break;
		case 't':
			cfg->dns_timeout = atoll(optarg);
			break;
		default:
			goto usage;
		}
	}
	for (int i = optind; i < argc && ndomains < MAX_DOMAINS; i++)
		domains[ndomains++].name = argv[i];
	if (!tsv || ndomains == 0 || count == 0 || threads == 0 || threads > MAX_THREADS)
		goto usage;
	if (load_tsv(tsv) < 0 || !(samples = calloc(count, sizeof(*samples))))
		return 2;
	per = count / threads;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t t = 0; t < threads; t++) {
		w[t] = (struct worker){0, t * per, t == threads - 1 ? count - t * per : per,
		                       samples, 0};
		pthread_create(&w[t].tid, NULL, run, &w[t]);
	}
	for (size_t t = 0; t < threads; t++) {
		pthread_join(w[t].tid, NULL);
		failures += w[t].failures;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	qsort(samples, count, sizeof(*samples), cmp64);
	printf("prechecks %zu threads %zu domains %zu failures %u\n", count, threads, ndomains,
	       failures);
	printf("latency_ms median %.3f p90 %.3f p99 %.3f max %.3f\n", pct(samples, count, 50),
	       pct(samples, count, 90), pct(samples, count, 99), pct(samples, count, 100));
	printf("throughput %.0f prechecks/s (wall %.2f s)\n", (double)count / wall, wall);
	free(samples);
	return failures ? 1 : 0;
usage:
	fprintf(stderr, "usage: precheck-latency -n NS -x TSV [-N COUNT] [-T THREADS] [-t MS] "
	                "DOMAIN...\n");
	return 2;
}
