/*
 * metrics.c - Prometheus metrics of sesverify-milter (see metrics.h).
 *	Owns the metric names and the text format; the figures are the
 *	process counters of lib/stats.c and the engine's gauges, the same
 *	ones "sesverify cache stats" prints, read without locks.  Labels
 *	take values from fixed sets only (states, actions, error classes):
 *	never a domain name.
 *	The HTTP side is libmicrohttpd: one internal polling thread, so a
 *	slow or hostile client holds a connection slot, never a thread, and
 *	the mail path shares nothing with it but the counters.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "confref.h"
#include "mlog.h"

#define HTTP_CONN_LIMIT   32        /* connections in all */
#define HTTP_PER_IP_LIMIT 8         /* from one address */
#define HTTP_TIMEOUT_S    5         /* idle connection cut after */
#define HTTP_MEMORY_LIMIT 16384     /* request line + headers per connection */
#define BODY_LIMIT        (1 << 20) /* one rendered scrape */

/* ------------------------------------------------------------------ */
/* Renderer                                                           */
/* ------------------------------------------------------------------ */

struct figure {
	char name[64];
	uint64_t value;
};
struct figures {
	struct figure *v;
	size_t n, cap;
};

/* collect - sv_engine_stats callback; the first value of a name wins */
static void collect(const char *name, uint64_t value, void *arg)
{
	struct figures *f = arg;

	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].name, name) == 0)
			return;
	if (strlen(name) >= sizeof(f->v[0].name))
		return;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 256;
		struct figure *nv = realloc(f->v, cap * sizeof(*nv));
		if (nv == NULL)
			return;
		f->v = nv;
		f->cap = cap;
	}
	snprintf(f->v[f->n].name, sizeof(f->v[0].name), "%s", name);
	f->v[f->n++].value = value;
}

/* get - a collected figure; 0 when it was never counted */
static uint64_t get(const struct figures *f, const char *name, bool *found)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].name, name) == 0) {
			if (found)
				*found = true;
			return f->v[i].value;
		}
	if (found)
		*found = false;
	return 0;
}

/* getf - get() of a formatted name */
SV_PRINTF(2, 3) static uint64_t getf(const struct figures *f, const char *fmt, ...)
{
	char name[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	return get(f, name, NULL);
}

/* family - the HELP and TYPE lines */
static void family(sv_buf *out, const char *name, const char *type, const char *help)
{
	sv_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* label_value - a label value with \, " and newline escaped */
static void label_value(sv_buf *out, const char *v)
{
	sv_buf_puts(out, "\"");
	for (; *v; v++) {
		if (*v == '\\')
			sv_buf_puts(out, "\\\\");
		else if (*v == '"')
			sv_buf_puts(out, "\\\"");
		else if (*v == '\n')
			sv_buf_puts(out, "\\n");
		else
			sv_buf_printf(out, "%c", *v);
	}
	sv_buf_puts(out, "\"");
}

/* A family with one unlabelled sample, straight from one figure. */
struct simple {
	const char *stat, *metric, *type, *help;
};
static const struct simple simples[] = {
    {"api.errors.rate_limited", "sesverify_api_request_limit_exceeded_total", "counter",
     "API answers RequestLimitExceeded or LimitExceeded."},
    {"api.errors.transport", "sesverify_api_transport_errors_total", "counter",
     "API requests that got no HTTP answer (connect, TLS, timeout)."},
    {"api.resends", "sesverify_api_resends_total", "counter",
     "API requests libcurl sent again on a reused connection."},
    {"api.connections", "sesverify_api_connections_total", "counter",
     "Connections opened to the API endpoint."},
    {"api.list_errors", "sesverify_api_list_errors_total", "counter",
     "Identity list fetches that failed or were malformed (not trusted)."},
    {"ratelimit.waits", "sesverify_ratelimit_waits_total", "counter",
     "API requests that waited for the ApiRate budget."},
    {"ratelimit.penalties", "sesverify_ratelimit_penalties_total", "counter",
     "Times the API budget was cut after a rate-limit answer."},
    {"ratelimit.rate", "sesverify_ratelimit_rate", "gauge",
     "Current API budget in requests per second."},
    {"redis.up", "sesverify_redis_up", "gauge",
     "1 when Redis (the shared budget) answered last time, 0 when down; absent without Redis."},
    {"redis.errors", "sesverify_redis_errors_total", "counter",
     "Redis operations that failed (unreachable, timeout, refused); 0 without Redis."},
    {"redis.answers.used", "sesverify_redis_answers_used_total", "counter",
     "API calls spared by another host's answer read from Redis."},
    {"redis.pubsub.applied", "sesverify_redis_pubsub_applied_total", "counter",
     "Other hosts' answers put into this host's memory through pub/sub."},
    {"redis.pubsub.bad", "sesverify_redis_pubsub_bad_total", "counter",
     "Pub/sub messages or shared records refused as malformed."},
    {"redis.lease.waited", "sesverify_redis_lease_waits_total", "counter",
     "Refreshes that waited for another host's answer instead of asking SES."},
    {"redis.lease.expired", "sesverify_redis_lease_expired_total", "counter",
     "Refresh leases taken over after their holder ended without an answer."},
    {"redis.list.used", "sesverify_redis_list_used_total", "counter",
     "Identity lists taken from another host through Redis instead of fetched."},
    {"refresh.pending", "sesverify_refresh_queue_depth", "gauge",
     "Domains waiting in the refresh queue."},
    {"refresh.queued", "sesverify_refresh_queued_total", "counter", "Refreshes put on the queue."},
    {"refresh.coalesced", "sesverify_refresh_coalesced_total", "counter",
     "Refresh requests merged into one already queued."},
    {"refresh.dropped", "sesverify_refresh_dropped_total", "counter",
     "Refresh requests dropped (queue full)."},
    {"refresh.done", "sesverify_refreshes_total", "counter", "Refreshes completed."},
    {"refresh.extended", "sesverify_refresh_extended_total", "counter",
     "Verified entries extended by the DNS pre-check without an API call."},
    {"refresh.rate_limited_retries", "sesverify_refresh_rate_limited_retries_total", "counter",
     "Refreshes retried after a rate-limit answer."},
    {"cache.stale_served", "sesverify_cache_stale_served_total", "counter",
     "Lookups answered from an entry past its TTL."},
    {"cache.refresh_ahead", "sesverify_cache_refresh_ahead_total", "counter",
     "Refreshes started by a lookup before the entry expired."},
    {"cache.evicted", "sesverify_cache_evictions_total", "counter",
     "Entries evicted to stay within MaxEntries."},
    {"cache.invalid_domain", "sesverify_cache_invalid_domains_total", "counter",
     "Lookups of names that are not valid domains."},
    {"cache.entries.stale", "sesverify_cache_stale_entries", "gauge",
     "Cache entries past their TTL."},
    {"snapshot.saves", "sesverify_snapshot_saves_total", "counter", "CacheFile snapshots written."},
    {"snapshot.errors", "sesverify_snapshot_errors_total", "counter",
     "CacheFile snapshots that could not be written."},
    {"dns.queries", "sesverify_dns_queries_total", "counter", "DNS pre-check queries sent."},
    {"dns.timeouts", "sesverify_dns_timeouts_total", "counter",
     "DNS pre-check queries that timed out."},
    {"dns.tcp", "sesverify_dns_tcp_retries_total", "counter",
     "DNS pre-check queries retried over TCP."},
    {"dns.bad_replies", "sesverify_dns_bad_replies_total", "counter",
     "DNS replies refused as malformed or mismatched."},
};

/* sample1 - one sample with one label */
static void sample1(sv_buf *out, const char *metric, const char *label, const char *value,
                    uint64_t v)
{
	sv_buf_printf(out, "%s{%s=\"%s\"} %llu\n", metric, label, value, (unsigned long long)v);
}

/* cross - a sample for every pair of label values, figure "PREFIX.V1.V2" */
static void cross(sv_buf *out, const struct figures *f, const char *metric, const char *l1,
                  const char *const *v1, size_t n1, const char *l2, const char *const *v2,
                  size_t n2, const char *prefix)
{
	for (size_t i = 0; i < n1; i++)
		for (size_t j = 0; j < n2; j++)
			sv_buf_printf(
			    out, "%s{%s=\"%s\",%s=\"%s\"} %llu\n", metric, l1, v1[i], l2, v2[j],
			    (unsigned long long)getf(f, "%s.%s.%s", prefix, v1[i], v2[j]));
}

static const char *const states[] = {"verified", "unverified", "not_exist",
                                     "unknown",  "error",      "none"};
static const char *const actions[] = {"accept", "reject", "tempfail"};
static const char *const api_actions[] = {"UpdateEmailIdentity", "ListEmailIdentities"};
static const char *const results[] = {"ok",        "retryable", "rate_limited",
                                      "not_exist", "config",    "permanent"};

struct hist_ctx {
	sv_buf *out;
	const char *action;
	bool done;
};

/* hist_samples - one action's buckets (cumulative), sum and count */
static void hist_samples(sv_buf *out, const char *action, const sv_stat_hist *h)
{
	uint64_t cum = 0;

	for (unsigned b = 0; b <= SV_STAT_HIST_BUCKETS; b++) {
		cum += h->bucket[b];
		sv_buf_printf(out,
		              "sesverify_api_request_duration_seconds_bucket{action=\"%s\",le=\"",
		              action);
		if (b < SV_STAT_HIST_BUCKETS)
			sv_buf_printf(out, "%g", (double)sv_stat_hist_bound_us(b) / 1e6);
		else
			sv_buf_puts(out, "+Inf");
		sv_buf_printf(out, "\"} %llu\n", (unsigned long long)cum);
	}
	sv_buf_printf(out, "sesverify_api_request_duration_seconds_sum{action=\"%s\"} %.6f\n",
	              action, (double)h->sum_us / 1e6);
	sv_buf_printf(out, "sesverify_api_request_duration_seconds_count{action=\"%s\"} %llu\n",
	              action, (unsigned long long)cum);
}

/* hist_one - sv_stat_hist_walk callback: the histogram of ctx->action */
static void hist_one(const char *name, const sv_stat_hist *h, void *arg)
{
	struct hist_ctx *c = arg;

	if (!c->done && strncmp(name, "api.latency.", 12) == 0 &&
	    strcmp(name + 12, c->action) == 0) {
		hist_samples(c->out, c->action, h);
		c->done = true;
	}
}

/* snapshot_age - seconds since CacheFile was written; -1 when there is none */
static double snapshot_age(void)
{
	conf_ref *ref = conf_current();
	struct timespec now;
	struct stat st;
	double age = -1;

	if (ref && ref->cfg->cache_file && stat(ref->cfg->cache_file, &st) == 0) {
		clock_gettime(CLOCK_REALTIME, &now);
		age = (double)(now.tv_sec - st.st_mtim.tv_sec) +
		      (double)(now.tv_nsec - st.st_mtim.tv_nsec) / 1e9;
		if (age < 0)
			age = 0; /* clock stepped back */
	}
	conf_release(ref);
	return age;
}

/* metrics_render - every family, in a fixed order */
void metrics_render(sv_engine *e, sv_buf *out)
{
	struct figures f = {0};
	bool found;
	double age;

	if (e)
		sv_engine_stats(e, collect, &f);
	else
		sv_stat_walk(collect, &f);

	family(out, "sesverify_build_info", "gauge", "Version of the running sesverify-milter.");
	sv_buf_puts(out, "sesverify_build_info{version=");
	label_value(out, PACKAGE_VERSION);
	sv_buf_puts(out, "} 1\n");

	family(out, "sesverify_decisions_total", "counter",
	       "Sender-domain decisions by cache state (none: no usable domain) and the "
	       "action taken (Mode monitor: always accept).");
	cross(out, &f, "sesverify_decisions_total", "state", states, SV_ARRAY_LEN(states), "action",
	      actions, SV_ARRAY_LEN(actions), "decision.by_state");

	family(out, "sesverify_monitor_decisions_total", "counter",
	       "Mode monitor: what Mode enforce would have done.");
	for (size_t a = 0; a < SV_ARRAY_LEN(actions); a++)
		sample1(out, "sesverify_monitor_decisions_total", "would", actions[a],
		        getf(&f, "decision.monitor.would_%s", actions[a]));

	family(out, "sesverify_checks_skipped_total", "counter",
	       "Sender checks not made: SkipDomains, null envelope sender (header From: is still "
	       "checked), message not outgoing, worker shutting down (deferred).");
	sample1(out, "sesverify_checks_skipped_total", "reason", "skip_domains",
	        get(&f, "decision.skipped", NULL));
	sample1(out, "sesverify_checks_skipped_total", "reason", "null_sender",
	        get(&f, "decision.null_sender", NULL));
	sample1(out, "sesverify_checks_skipped_total", "reason", "not_outgoing",
	        get(&f, "decision.not_outgoing", NULL));
	sample1(out, "sesverify_checks_skipped_total", "reason", "shutting_down",
	        get(&f, "decision.tempfail.stopping", NULL));

	family(out, "sesverify_api_requests_total", "counter",
	       "SES API requests by action and result class (ok or the error class).");
	cross(out, &f, "sesverify_api_requests_total", "action", api_actions,
	      SV_ARRAY_LEN(api_actions), "result", results, SV_ARRAY_LEN(results), "api.result");

	family(out, "sesverify_api_request_duration_seconds", "histogram",
	       "SES API request latency (signing, HTTPS, parsing) by action.");
	for (size_t a = 0; a < SV_ARRAY_LEN(api_actions); a++) {
		struct hist_ctx hc = {.out = out, .action = api_actions[a]};
		sv_stat_hist zero;

		sv_stat_hist_walk(hist_one, &hc);
		if (!hc.done) {
			memset(&zero, 0, sizeof(zero));
			hist_samples(out, api_actions[a], &zero);
		}
	}

	family(out, "sesverify_api_calls_saved_total", "counter",
	       "API calls not made: the DNS pre-check showed the answer cannot change "
	       "(precheck), or the identity list answered (list).");
	sample1(out, "sesverify_api_calls_saved_total", "reason", "precheck",
	        get(&f, "api.saved.precheck", NULL));
	sample1(out, "sesverify_api_calls_saved_total", "reason", "list",
	        get(&f, "api.saved.list", NULL));

	family(out, "sesverify_cache_lookups_total", "counter", "Cache lookups of the mail path.");
	sample1(out, "sesverify_cache_lookups_total", "result", "hit", get(&f, "cache.hit", NULL));
	sample1(out, "sesverify_cache_lookups_total", "result", "miss",
	        get(&f, "cache.miss", NULL));

	family(out, "sesverify_cache_entries", "gauge", "Cache entries by state.");
	for (size_t s = 0; s + 1 < SV_ARRAY_LEN(states); s++)
		sample1(out, "sesverify_cache_entries", "state", states[s],
		        getf(&f, "cache.entries.%s", states[s]));

	for (size_t i = 0; i < SV_ARRAY_LEN(simples); i++) {
		uint64_t v = get(&f, simples[i].stat, &found);

		if (!found && strcmp(simples[i].type, "gauge") == 0)
			continue; /* a gauge nobody reported: no sample */
		family(out, simples[i].metric, simples[i].type, simples[i].help);
		sv_buf_printf(out, "%s %llu\n", simples[i].metric, (unsigned long long)v);
	}

	if ((age = snapshot_age()) >= 0) {
		family(out, "sesverify_snapshot_age_seconds", "gauge",
		       "Seconds since CacheFile was last written.");
		sv_buf_printf(out, "sesverify_snapshot_age_seconds %.3f\n", age);
	}
	{
		uint64_t heap = get(&f, "mem.heap_in_use", &found);
		if (found) {
			family(out, "sesverify_heap_in_use_bytes", "gauge",
			       "malloc heap in use by the worker process (all arenas).");
			sv_buf_printf(out, "sesverify_heap_in_use_bytes %llu\n",
			              (unsigned long long)heap);
		}
	}
	free(f.v);
}

/* ------------------------------------------------------------------ */
/* HTTP server                                                        */
/* ------------------------------------------------------------------ */

static struct MHD_Daemon *http;
static sv_engine *http_engine;
static int http_fd = -1;

/* metrics_open - bind and listen on MetricsSocket */
int metrics_open(const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char why[256];
	int fd, one = 1;

	if (sv_inet_spec_parse(spec, &ss, &len, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "MetricsSocket: %s", why);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "MetricsSocket %s: socket: %s", spec, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0) {
		snprintf(err, errlen, "MetricsSocket %s: %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* http_log - libmicrohttpd's complaints (hostile clients): debug only */
static void http_log(void *arg, const char *fmt, va_list ap)
{
	char msg[512];

	(void)arg;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = 0;
	mlog(SV_LOG_DEBUG, "metrics: %s", msg);
}

/* reply - a short text answer with status */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *text,
                             const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* has_body - the request announces a body */
static bool has_body(struct MHD_Connection *conn)
{
	const char *cl =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (cl && strcmp(cl, "0") != 0) ||
	       MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	                                   MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* handle - one request: GET or HEAD /metrics, or a 4xx */
static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_size, void **con_cls)
{
	struct MHD_Response *r;
	enum MHD_Result rc;
	sv_buf out;

	(void)cls;
	(void)version;
	(void)upload_data;
	(void)upload_size;
	(void)con_cls;
	/* Answered on the first call, right after the headers: a request
	 * body is never read (the library closes the connection after the
	 * answer when one was announced). */
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, "not found: only /metrics is served\n",
		             NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
		             "GET, HEAD");
	if (has_body(conn))
		return reply(conn, MHD_HTTP_CONTENT_TOO_LARGE, "no request body accepted\n", NULL);
	sv_buf_init(&out, BODY_LIMIT);
	metrics_render(http_engine, &out);
	if (sv_buf_failed(&out)) {
		sv_buf_free(&out);
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics too large\n", NULL);
	}
	r = MHD_create_response_from_buffer(out.len, out.data, MHD_RESPMEM_MUST_COPY);
	sv_buf_free(&out);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CONTENT_TYPE);
	rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

/* metrics_start - serve fd with libmicrohttpd's own polling thread */
int metrics_start(int fd, sv_engine *engine, char *err, size_t errlen)
{
	http_engine = engine;
	http_fd = fd;
	http = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    handle, NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)HTTP_CONN_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)HTTP_PER_IP_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
	    MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL, MHD_OPTION_END);
	if (http == NULL) {
		snprintf(err, errlen, "MetricsSocket: libmicrohttpd did not start");
		close(fd);
		http_fd = -1;
		return -1;
	}
	return 0;
}

/* metrics_stop - end the server thread and close the socket */
void metrics_stop(void)
{
	if (http) {
		MHD_stop_daemon(http);
		http = NULL;
	}
	if (http_fd >= 0) {
		close(http_fd);
		http_fd = -1;
	}
}
