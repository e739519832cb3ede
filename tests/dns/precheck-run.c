/*
 * precheck-run.c - drive sv_precheck() from test scripts, one line per fact.
 *
 *	Owns: a thin command-line front to the pre-check for
 *	tests/dns/test-precheck.sh (which must not wait for the CLI).  Does
 *	not own any rule: everything printed comes from libsesverify.
 *
 *	precheck-run [-n NAMESERVERS] [-t TIMEOUT_MS] [-i SPF_INCLUDE]
 *		[-x EXPECTED_TSV] DOMAIN [TYPE,NAME,VALUE ...] [-- DOMAIN ...]
 *	precheck-run -T THREADS -r ROUNDS -n NS -x TSV DOMAIN...
 *
 *	Single mode prechecks each DOMAIN in turn with ONE resolver (so a
 *	test can show that a timeout does not poison later lookups) and
 *	prints for each:
 *		domain DOMAIN
 *		verdict VERDICT
 *		item TYPE NAME VERDICT RCODE current=... detail=...
 *		spf_include yes|no
 *		spf_record TEXT           (when there is one)
 *		error TEXT                (when there is one)
 *		elapsed_ms N
 *	and at the end "stat NAME VALUE" for the dns.* counters.
 *	With -x the expected attributes of DOMAIN come from the TSV file
 *	(tests/dns/expected.tsv), after any given on the command line.
 *
 *	Thread mode runs every DOMAIN once alone for a reference line, then
 *	THREADS threads with a resolver each run ROUNDS rounds over all
 *	DOMAINs at once; it prints "threads ok N" or each differing result,
 *	and exits 1 on any difference.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sesverify.h"
#include "stats.h"

#define MAX_ATTRS   64
#define MAX_DOMAINS 32

struct expect {
	sv_attr attrs[MAX_ATTRS];
	size_t n;
};

static sv_config *cfg;
static int usage(void);
static const char *tsv_path;

/* add_attr - append one TYPE,NAME,VALUE */
static int add_attr(struct expect *e, const char *type, const char *name, const char *value)
{
	sv_attr *a;

	if (e->n == MAX_ATTRS)
		return -1;
	a = &e->attrs[e->n++];
	memset(a, 0, sizeof(*a));
	snprintf(a->type, sizeof(a->type), "%s", type);
	a->send_domain = strdup(name);
	a->expected = strdup(value);
	return a->send_domain && a->expected ? 0 : -1;
}

/* parse_triple - "TYPE,NAME,VALUE" (VALUE may hold commas) */
static int parse_triple(struct expect *e, const char *arg)
{
	char *copy = strdup(arg), *c1, *c2;
	int rc = -1;

	if (!copy)
		return -1;
	if ((c1 = strchr(copy, ',')) && (c2 = strchr(c1 + 1, ','))) {
		*c1 = *c2 = '\0';
		rc = add_attr(e, copy, c1 + 1, c2 + 1);
	}
	free(copy);
	return rc;
}

/* load_tsv - the expected rows of one domain */
static int load_tsv(struct expect *e, const char *domain)
{
	char line[4096];
	FILE *fp = fopen(tsv_path, "r");

	if (!fp) {
		perror(tsv_path);
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		char *f[4], *p = line;
		size_t n = 0;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		while (n < 4 && (f[n] = strsep(&p, "\t")) != NULL)
			n++;
		if (n == 4 && strcmp(f[0], domain) == 0 && add_attr(e, f[1], f[2], f[3]) < 0) {
			fclose(fp);
			return -1;
		}
	}
	fclose(fp);
	return 0;
}

/* free_expect - release the strings */
static void free_expect(struct expect *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->attrs[i].send_domain);
		free(e->attrs[i].expected);
	}
	e->n = 0;
}

/* summary - one comparable line for a result (thread mode) */
static void summary(const sv_precheck_result *r, char *out, size_t len)
{
	size_t used = (size_t)snprintf(out, len, "%s %s spf=%d", r->domain,
	                               sv_precheck_verdict_name(r->verdict), r->spf_has_include);

	for (size_t i = 0; i < r->nitems && used < len; i++)
		used +=
		    (size_t)snprintf(out + used, len - used, " %s:%s", r->items[i].attr.send_domain,
		                     sv_pc_verdict_name(r->items[i].verdict));
}

/* print_stat - one dns.* counter */
static void print_stat(const char *name, uint64_t value, void *arg)
{
	(void)arg;
	if (strncmp(name, "dns.", 4) == 0)
		printf("stat %s %llu\n", name, (unsigned long long)value);
}

/* print_result - the lines of one result */
static void print_result(const sv_precheck_result *r)
{
	printf("domain %s\n", r->domain);
	printf("verdict %s\n", sv_precheck_verdict_name(r->verdict));
	for (size_t i = 0; i < r->nitems; i++) {
		const sv_pc_item *it = &r->items[i];
		printf("item %s %s %s %d current=%s detail=%s\n", it->attr.type,
		       it->attr.send_domain, sv_pc_verdict_name(it->verdict), it->rcode,
		       it->attr.current ? it->attr.current : "(null)",
		       it->detail ? it->detail : "");
	}
	printf("spf_include %s\n", r->spf_has_include ? "yes" : "no");
	if (r->spf_record)
		printf("spf_record %s\n", r->spf_record);
	if (r->error)
		printf("error %s\n", r->error);
	printf("elapsed_ms %lld\n", (long long)(r->elapsed_us / 1000));
}

/* run_groups - "DOMAIN [TRIPLE...] [-- DOMAIN [TRIPLE...]]..." with one resolver */
static int run_groups(int argc, char **argv)
{
	char err[256];
	sv_resolver *res = sv_resolver_new(cfg, err, sizeof(err));
	int i = 0, rc = 0;

	if (!res) {
		printf("resolver_error %s\n", err);
		return 2;
	}
	while (i < argc && rc == 0) {
		static struct expect e;
		const char *domain = argv[i++];
		sv_precheck_result r;

		for (; i < argc && strcmp(argv[i], "--") != 0; i++)
			if (parse_triple(&e, argv[i]) < 0)
				rc = usage();
		i++; /* past "--" */
		if (rc == 0 && tsv_path && load_tsv(&e, domain) < 0)
			rc = 2;
		if (rc == 0) {
			if (sv_precheck(res, domain, e.attrs, e.n, &r) < 0)
				printf("precheck_failed\n");
			print_result(&r);
			sv_precheck_result_clear(&r);
		}
		free_expect(&e);
	}
	sv_stat_walk(print_stat, NULL);
	sv_resolver_free(res);
	return rc;
}

struct job {
	const char **domains;
	struct expect *expects;
	char (*ref)[2048];
	size_t ndomains;
	int rounds;
	int bad;
	unsigned done;
};

/* worker - a thread with its own resolver checking every domain ROUNDS times */
static void *worker(void *arg)
{
	struct job *j = arg;
	char err[256], line[2048];
	sv_resolver *res = sv_resolver_new(cfg, err, sizeof(err));

	if (!res) {
		j->bad++;
		return NULL;
	}
	for (int round = 0; round < j->rounds; round++) {
		for (size_t d = 0; d < j->ndomains; d++) {
			sv_precheck_result r;
			sv_precheck(res, j->domains[d], j->expects[d].attrs, j->expects[d].n, &r);
			summary(&r, line, sizeof(line));
			if (strcmp(line, j->ref[d]) != 0) {
				printf("differs: %s\n   want: %s\n", line, j->ref[d]);
				j->bad++;
			}
			j->done++;
			sv_precheck_result_clear(&r);
		}
	}
	sv_resolver_free(res);
	return NULL;
}

/* run_threads - reference results, then the same under concurrency */
static int run_threads(const char **domains, size_t n, int nthreads, int rounds)
{
	static struct expect expects[MAX_DOMAINS];
	static char ref[MAX_DOMAINS][2048];
	struct job jobs[64];
	pthread_t tid[64];
	char err[256];
	sv_resolver *res = sv_resolver_new(cfg, err, sizeof(err));
	unsigned total = 0;
	int bad = 0;

	if (!res || n > MAX_DOMAINS || nthreads > 64) {
		printf("setup failed\n");
		return 2;
	}
	for (size_t d = 0; d < n; d++) {
		sv_precheck_result r;
		if (load_tsv(&expects[d], domains[d]) < 0)
			return 2;
		sv_precheck(res, domains[d], expects[d].attrs, expects[d].n, &r);
		summary(&r, ref[d], sizeof(ref[d]));
		printf("reference %s\n", ref[d]);
		sv_precheck_result_clear(&r);
	}
	sv_resolver_free(res);
	for (int t = 0; t < nthreads; t++) {
		jobs[t] = (struct job){domains, expects, ref, n, rounds, 0, 0};
		if (pthread_create(&tid[t], NULL, worker, &jobs[t]) != 0)
			return 2;
	}
	for (int t = 0; t < nthreads; t++) {
		pthread_join(tid[t], NULL);
		bad += jobs[t].bad;
		total += jobs[t].done;
	}
	for (size_t d = 0; d < n; d++)
		free_expect(&expects[d]);
	if (bad) {
		printf("threads differ %d of %u\n", bad, total);
		return 1;
	}
	printf("threads ok %u\n", total);
	return 0;
}

/* usage - print the synopsis */
static int usage(void)
{
	fprintf(stderr, "usage: precheck-run [-n NS] [-t MS] [-i INCLUDE] [-x TSV] [-T THREADS -r "
	                "ROUNDS] DOMAIN [TYPE,NAME,VALUE ...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	int c, threads = 0, rounds = 1, rc;

	if (sv_library_init() < 0 || !(cfg = sv_config_defaults()))
		return 2;
	while ((c = getopt(argc, argv, "+n:t:i:x:T:r:")) != -1) {
		switch (c) {
		case 'n':
			free(cfg->nameservers);
			cfg->nameservers = strdup(optarg);
			break;
		case 't':
			cfg->dns_timeout = atoll(optarg);
			break;
		case 'i':
			free(cfg->spf_include);
			cfg->spf_include = strdup(optarg);
			break;
		case 'x':
			tsv_path = optarg;
			break;
		case 'T':
			threads = atoi(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		default:
			return usage();
		}
	}
	if (optind >= argc)
		return usage();
	if (threads > 0) {
		if (!tsv_path)
			return usage();
		rc = run_threads((const char **)argv + optind, (size_t)(argc - optind), threads,
		                 rounds);
	} else {
		rc = run_groups(argc - optind, argv + optind);
	}
	sv_config_free(cfg);
	sv_library_cleanup();
	return rc;
}
