/*
 * milterfuncs.c - libmilter callbacks of sesverify-milter.
 *	Owns the per-connection and per-message context, protocol
 *	negotiation, the outgoing-message test, turning MAIL FROM and From:
 *	into sender domains, the wait for unknown domains, the one log line
 *	per decision, and the X-SESVerify header of Mode monitor.  Does not
 *	decide: policy.c does.  Does not parse addresses: addr.c does.
 *
 *	Threads: libmilter calls these from its worker threads; everything
 *	per connection hangs off smfi_getpriv().  The configuration is pinned
 *	per message (confref.c), so a reload never changes a message midway,
 *	and applies, CheckFrom included, to every message after it.
 *	milter_enter()/milter_leave() bracket every use of the engine so that
 *	shutdown can wait for in-flight callbacks before freeing it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <libmilter/mfapi.h>

#include "addr.h"
#include "config_int.h"
#include "confref.h"
#include "milterfuncs.h"
#include "mlog.h"
#include "sesverify-milter.h"
#include "policy.h"

#define MAX_MONITOR_HEADERS 8
#define WAIT_SLICE_MS       100 /* From: domains waited together: how often a refusal is looked for */

typedef struct conn {
	/* connection */
	char host[256];
	char addr[INET6_ADDRSTRLEN];
	struct sockaddr_storage sa;
	bool have_sa;
	bool nr_conn, nr_hdr; /* negotiated "no reply" steps */
	unsigned msgno;
	/* message */
	conf_ref *conf; /* non-NULL while a message is in progress */
	char logid[32];
	char qid[64];
	char outgoing[160];
	char env_domain[SV_DOMAIN_MAX + 1];
	bool check_header;
	int nfrom;
	char *from; /* first From: value */
	size_t from_len;
	bool from_too_long;
	int nhdr;
	char hdr[MAX_MONITOR_HEADERS][POLICY_HEADER_MAX + 1];
} conn;

/* ------------------------------------------------------------------ */
/* in-flight accounting for a graceful stop                           */
/* ------------------------------------------------------------------ */

/*
 * Every callback enters and leaves; with a mutex here, 64 milter threads
 * on 2 CPUs queued behind a preempted holder on every callback.  So the
 * count is an atomic: enter increments, then checks "stopping"; drain
 * sets "stopping", then waits for the count to reach zero (both
 * sequentially consistent, so either enter sees stopping or drain sees
 * the increment).  The mutex and condition only carry drain's wake-up.
 */
static pthread_mutex_t flight_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flight_cond = PTHREAD_COND_INITIALIZER;
static int in_flight;
static bool stopping;

/* milter_enter - false once shutdown began: do not touch the engine */
bool milter_enter(void)
{
	__atomic_add_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&stopping, __ATOMIC_SEQ_CST))
		return true;
	milter_leave();
	return false;
}

/* milter_leave - pairs with a successful milter_enter */
void milter_leave(void)
{
	if (__atomic_sub_fetch(&in_flight, 1, __ATOMIC_SEQ_CST) == 0 &&
	    __atomic_load_n(&stopping, __ATOMIC_SEQ_CST)) {
		pthread_mutex_lock(&flight_lock);
		pthread_cond_broadcast(&flight_cond);
		pthread_mutex_unlock(&flight_lock);
	}
}

/* milter_drain - refuse new callbacks, wait for running ones */
void milter_drain(int64_t timeout_ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC,
	              &until); /* a wall-clock step neither ends nor stretches it */
	until.tv_sec += (time_t)(timeout_ms / 1000);
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	__atomic_store_n(&stopping, true, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&flight_lock);
	/* short slices: a leave may signal between our test and the wait */
	while (__atomic_load_n(&in_flight, __ATOMIC_SEQ_CST) > 0) {
		struct timespec now, slice;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > until.tv_sec ||
		    (now.tv_sec == until.tv_sec && now.tv_nsec >= until.tv_nsec))
			break;
		clock_gettime(CLOCK_REALTIME, &slice); /* flight_cond's clock */
		slice.tv_nsec += 10000000L;
		if (slice.tv_nsec >= 1000000000L) {
			slice.tv_sec++;
			slice.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&flight_cond, &flight_lock, &slice);
	}
	pthread_mutex_unlock(&flight_lock);
	if (__atomic_load_n(&in_flight, __ATOMIC_SEQ_CST) > 0)
		mlog(SV_LOG_WARNING, "stop: %d callback(s) still running",
		     __atomic_load_n(&in_flight, __ATOMIC_SEQ_CST));
}

/* ------------------------------------------------------------------ */
/* helpers                                                            */
/* ------------------------------------------------------------------ */

/* clean - printable ASCII copy of outside text, bounded, for logs */
static void clean(char *dst, size_t len, const char *src)
{
	size_t n = 0;

	for (; src && *src && n + 1 < len; src++)
		dst[n++] = ((unsigned char)*src < 0x21 || (unsigned char)*src >= 0x7f) ? '?' : *src;
	dst[n] = 0;
}

/* macro - a macro's value or NULL when unset or empty */
static const char *macro(SMFICTX *ctx, const char *name)
{
	const char *v = smfi_getsymval(ctx, (char *)name);

	return v && *v ? v : NULL;
}

/* conn_get - the connection context, created on first use */
static conn *conn_get(SMFICTX *ctx)
{
	conn *c = smfi_getpriv(ctx);

	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		if (c == NULL)
			return NULL;
		snprintf(c->host, sizeof(c->host), "unknown");
		snprintf(c->addr, sizeof(c->addr), "unknown");
		smfi_setpriv(ctx, c);
	}
	return c;
}

/* message_reset - end of a message: release what it held */
static void message_reset(conn *c)
{
	conf_release(c->conf);
	c->conf = NULL;
	free(c->from);
	c->from = NULL;
	c->from_len = 0;
	c->from_too_long = false;
	c->nfrom = 0;
	c->nhdr = 0;
	c->qid[0] = c->outgoing[0] = c->env_domain[0] = 0;
	c->check_header = false;
}

/* new_logid - our own id per message: time, pid and a counter */
static void new_logid(conn *c)
{
	static unsigned long seq;
	unsigned long n = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);

	snprintf(c->logid, sizeof(c->logid), "%08lX%05lX", (unsigned long)time(NULL) & 0xffffffffUL,
	         n & 0xfffffUL);
	c->msgno++;
}

/* note_qid - remember Postfix's/Sendmail's queue id once it is known */
static void note_qid(SMFICTX *ctx, conn *c)
{
	const char *i = macro(ctx, "i");

	if (i)
		clean(c->qid, sizeof(c->qid), i);
}

/* outgoing - does this message count as outgoing, and why */
static bool outgoing(SMFICTX *ctx, conn *c, const sv_config *cfg)
{
	const char *v;
	char tmp[96];

	if (cfg->outgoing & SV_OUT_ALL) {
		snprintf(c->outgoing, sizeof(c->outgoing), "all");
		return true;
	}
	if ((cfg->outgoing & SV_OUT_AUTH) && (v = macro(ctx, "{auth_authen}")) != NULL) {
		clean(tmp, sizeof(tmp), v);
		snprintf(c->outgoing, sizeof(c->outgoing), "auth=%s", tmp);
		return true;
	}
	if ((cfg->outgoing & SV_OUT_INTERNAL) && c->have_sa &&
	    sv_cidr_match(cfg->internal_hosts, cfg->n_internal_hosts,
	                  (const struct sockaddr *)&c->sa) == 1) {
		snprintf(c->outgoing, sizeof(c->outgoing), "internal=%s", c->addr);
		return true;
	}
	if ((cfg->outgoing & SV_OUT_DAEMON) && (v = macro(ctx, "{daemon_name}")) != NULL &&
	    cfg->daemon_names) {
		for (char **n = cfg->daemon_names; *n; n++) {
			if (strcmp(*n, v) == 0) {
				clean(tmp, sizeof(tmp), v);
				snprintf(c->outgoing, sizeof(c->outgoing), "daemon=%s", tmp);
				return true;
			}
		}
	}
	return false;
}

/* log_decision - the one line per decision */
static void log_decision(conn *c, const char *source, const char *domain, sv_state state,
                         const sv_entry_view *v, const policy_result *r, long waited_ms)
{
	char extra[1200] = "";
	int level = r->enforce == POLICY_ACCEPT ? SV_LOG_INFO : SV_LOG_NOTICE;

	if (r->code[0])
		snprintf(extra, sizeof(extra), " reply=\"%s %s %s\"", r->code, r->dsn, r->text);
	mlog(level,
	     "%s: qid=%s client=%s[%s] outgoing=%s from=%s domain=%s state=%s action=%s%s%s%s "
	     "request_id=%s waited=%ldms (%s)",
	     c->logid, c->qid[0] ? c->qid : "-", c->host, c->addr, c->outgoing, source,
	     domain ? domain : "-", state == (sv_state)-1 ? "-" : sv_state_name(state),
	     policy_action_name(r->action), r->monitor ? " would=" : "",
	     r->monitor ? policy_action_name(r->enforce) : "", extra,
	     v && v->request_id[0] ? v->request_id : "-", waited_ms, r->why);
}

/* defer_stopping - a message that arrives while the worker drains: tempfail, logged */
static sfsistat defer_stopping(conn *c, const char *source)
{
	/* The engine may already be gone, so no lookup: the MTA keeps the
	 * message and retries, and the log still has one line per decision. */
	mlog(SV_LOG_NOTICE,
	     "%s: qid=%s client=%s[%s] outgoing=- from=%s domain=- state=- action=tempfail "
	     "request_id=- waited=0ms (shutting down: deferred unchecked)",
	     c->logid[0] ? c->logid : "-", c->qid[0] ? c->qid : "-", c->host, c->addr, source);
	sv_stat_add("decision.tempfail.stopping", 1);
	return SMFIS_TEMPFAIL;
}

/* elapsed_ms - since t0 */
static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* apply - log, count, remember the monitor header; the libmilter status */
static sfsistat apply(SMFICTX *ctx, conn *c, const char *source, const char *domain, sv_state state,
                      const sv_entry_view *v, const policy_result *r, long waited)
{
	char name[64];

	log_decision(c, source, domain, state, v, r, waited);
	snprintf(name, sizeof(name), "decision.%s",
	         r->monitor ? "monitor" : policy_action_name(r->action));
	sv_stat_add(name, 1);
	snprintf(name, sizeof(name), "decision.by_state.%s.%s",
	         state == (sv_state)-1 ? "none" : sv_state_name(state),
	         policy_action_name(r->action));
	sv_stat_add(name, 1);
	if (r->monitor) {
		snprintf(name, sizeof(name), "decision.monitor.would_%s",
		         policy_action_name(r->enforce));
		sv_stat_add(name, 1);
		if (c->nhdr < MAX_MONITOR_HEADERS)
			memcpy(c->hdr[c->nhdr++], r->header, sizeof(r->header));
	}
	if (r->action == POLICY_ACCEPT)
		return SMFIS_CONTINUE;
	if (smfi_setreply(ctx, (char *)r->code, (char *)r->dsn, (char *)r->text) != MI_SUCCESS)
		mlog(SV_LOG_WARNING, "%s: libmilter refused the reply text; the MTA uses its own",
		     c->logid);
	return r->action == POLICY_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

/*
 * check_domain - look one sender domain up (waiting if need be) and act
 *	waited >= 0: the caller already waited that long for this domain
 *	(with others, sv_engine_wait_all); an unknown answer is final.
 */
static sfsistat check_domain(SMFICTX *ctx, conn *c, const sv_config *cfg, const char *domain,
                             const char *source, long waited)
{
	policy_facts f = {.subject = POLICY_DOMAIN, .domain = domain, .source = source};
	struct timespec t0;
	sv_entry_view v;
	policy_result r;
	sv_state state;

	f.waited = waited >= 0;
	if (waited < 0)
		waited = 0;
	if (sv_config_skip_domain(cfg, domain) == 1) {
		mlog(SV_LOG_DEBUG, "%s: %s domain %s is in SkipDomains; not checked", c->logid,
		     source, domain);
		sv_stat_add("decision.skipped", 1);
		return SMFIS_CONTINUE;
	}
	state = sv_engine_lookup(milter_engine, domain, &v);
	policy_decide(cfg, state, &v, &f, &r);
	if (r.action == POLICY_WAIT) {
		/* the design: this milter thread waits on the cache's waiter */
		clock_gettime(CLOCK_MONOTONIC, &t0);
		state = sv_engine_wait(milter_engine, domain, cfg->unknown_wait, &v);
		waited = elapsed_ms(&t0);
		f.waited = true;
		policy_decide(cfg, state, &v, &f, &r);
	}
	return apply(ctx, c, source, domain, state, &v, &r, waited);
}

/* check_defect - a message defect (no From:, two From:, no domain) */
static sfsistat check_defect(SMFICTX *ctx, conn *c, const sv_config *cfg, policy_subject what,
                             const char *source, const char *detail)
{
	policy_facts f = {.subject = what, .source = source};
	policy_result r;

	policy_decide(cfg, SV_STATE_UNKNOWN, NULL, &f, &r);
	if (detail)
		mlog(SV_LOG_INFO, "%s: %s sender: %s", c->logid, source, detail);
	return apply(ctx, c, source, NULL, (sv_state)-1, NULL, &r, 0);
}

/* ------------------------------------------------------------------ */
/* callbacks                                                          */
/* ------------------------------------------------------------------ */

/*
 * mlfi_negotiate - ask only for the steps and macros we could ever use
 *	The steps hold for the whole connection, but a reload may add header
 *	to CheckFrom between two of its messages.  So headers and EOH are
 *	always negotiated (with "no reply" for headers), whatever CheckFrom
 *	says now, and each message decides from the configuration current at
 *	its MAIL FROM: without header checks it is accepted there, and the MTA
 *	sends it no headers at all.
 */
static sfsistat mlfi_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                               unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                               unsigned long *pf2, unsigned long *pf3)
{
	unsigned long want;
	conn *c = conn_get(ctx);

	(void)f2;
	(void)f3;
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	*pf0 = f0 & (SMFIF_ADDHDRS
#ifdef SMFIF_SETSYMLIST
	             | SMFIF_SETSYMLIST
#endif
	            );
	want = SMFIP_NOHELO | SMFIP_NORCPT | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NODATA |
	       SMFIP_NR_CONN | SMFIP_NR_HDR; /* we never answer a header */
	*pf1 = f1 & want;
	*pf2 = *pf3 = 0;
	c->nr_conn = (*pf1 & SMFIP_NR_CONN) != 0;
	c->nr_hdr = (*pf1 & SMFIP_NR_HDR) != 0;
#if defined(HAVE_SMFI_SETSYMLIST) && defined(SMFIF_SETSYMLIST)
	if (f0 & SMFIF_SETSYMLIST) {
		smfi_setsymlist(ctx, SMFIM_CONNECT, "{daemon_name} {client_addr}");
		smfi_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_authen} {auth_type} {daemon_name}");
		smfi_setsymlist(ctx, SMFIM_EOH, "i");
		smfi_setsymlist(ctx, SMFIM_EOM, "i");
	}
#endif
	return SMFIS_CONTINUE;
}

/* mlfi_connect - remember who the client is */
static sfsistat mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	conn *c = conn_get(ctx);
	const struct sockaddr *sa = (const struct sockaddr *)hostaddr;
	const char *ca;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	clean(c->host, sizeof(c->host), hostname ? hostname : "unknown");
	if (sa && sa->sa_family == AF_INET) {
		memcpy(&c->sa, sa, sizeof(struct sockaddr_in));
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->addr,
		          sizeof(c->addr));
		c->have_sa = true;
	} else if (sa && sa->sa_family == AF_INET6) {
		memcpy(&c->sa, sa, sizeof(struct sockaddr_in6));
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, c->addr,
		          sizeof(c->addr));
		c->have_sa = true;
	} else if ((ca = macro(ctx, "{client_addr}")) != NULL) {
		/* no socket address (e.g. "unspec"): fall back to the macro */
		struct sockaddr_in *s4 = (struct sockaddr_in *)&c->sa;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&c->sa;
		if (inet_pton(AF_INET, ca, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			c->have_sa = true;
		} else if (inet_pton(AF_INET6, ca, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			c->have_sa = true;
		}
		clean(c->addr, sizeof(c->addr), ca);
	}
	return c->nr_conn ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* envelope - decide on the MAIL FROM domain; SMFIS_CONTINUE to go on */
static sfsistat envelope(SMFICTX *ctx, conn *c, const sv_config *cfg, const char *arg,
                         bool *null_sender)
{
	const char *why = NULL;
	char shown[128], detail[300];
	addr_status st;

	*null_sender = false;
	st = addr_envelope(arg ? arg : "", c->env_domain, &why, NULL);
	switch (st) {
	case ADDR_OK:
		return check_domain(ctx, c, cfg, c->env_domain, "envelope", -1);
	case ADDR_NULL:
		/* The envelope <> has no domain to check; a bounce or an
		 * auto-reply still carries a From: that SES checks. */
		*null_sender = true;
		if (c->check_header)
			mlog(SV_LOG_DEBUG, "%s: null sender <>; envelope unchecked, From: checked",
			     c->logid);
		else
			mlog(SV_LOG_DEBUG, "%s: null sender <>; accepted unchecked", c->logid);
		sv_stat_add("decision.null_sender", 1);
		c->env_domain[0] = 0;
		return SMFIS_CONTINUE;
	case ADDR_IP_LITERAL:
	case ADDR_NO_DOMAIN:
		clean(shown, sizeof(shown), arg);
		mlog(SV_LOG_DEBUG, "%s: envelope sender %s not checked: %s", c->logid, shown,
		     why ? why : addr_status_name(st));
		c->env_domain[0] = 0;
		return SMFIS_CONTINUE;
	default:
		clean(shown, sizeof(shown), arg);
		c->env_domain[0] = 0;
		snprintf(detail, sizeof(detail), "%s: %s", shown, why ? why : addr_status_name(st));
		return check_defect(ctx, c, cfg,
		                    st == ADDR_NOT_IDNA ? POLICY_NOT_IDNA : POLICY_BAD_FROM,
		                    "envelope", detail);
	}
}

/* mlfi_envfrom - a new message: outgoing?  envelope domain */
static sfsistat mlfi_envfrom(SMFICTX *ctx, char **argv)
{
	conn *c = conn_get(ctx);
	const sv_config *cfg;
	sfsistat rc = SMFIS_CONTINUE;
	bool null_sender = false;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	message_reset(c);
	if (!milter_enter()) {
		new_logid(c);
		return defer_stopping(c, "envelope");
	}
	c->conf = conf_current();
	cfg = c->conf->cfg;
	new_logid(c);
	note_qid(ctx, c);
	if (!outgoing(ctx, c, cfg)) {
		mlog(SV_LOG_DEBUG,
		     "%s: client %s[%s] not outgoing (no auth, not internal, daemon "
		     "not listed); accepted unchecked",
		     c->logid, c->host, c->addr);
		sv_stat_add("decision.not_outgoing", 1);
		rc = SMFIS_ACCEPT;
		goto done;
	}
	c->check_header = (cfg->check_from & SV_CHECK_HEADER) != 0;
	if (cfg->check_from & SV_CHECK_ENVELOPE) {
		rc = envelope(ctx, c, cfg, argv ? argv[0] : NULL, &null_sender);
		if (rc != SMFIS_CONTINUE)
			goto done;
		if (null_sender && !c->check_header) {
			rc = SMFIS_ACCEPT;
			goto done;
		}
	}
	/* nothing left to do for this message: let the MTA stop calling us */
	if (!c->check_header && cfg->mode != SV_MODE_MONITOR)
		rc = SMFIS_ACCEPT;
done:
	milter_leave();
	if (rc != SMFIS_CONTINUE)
		message_reset(c); /* no abort callback follows a final answer here */
	return rc;
}

/* mlfi_header - collect From: headers */
static sfsistat mlfi_header(SMFICTX *ctx, char *name, char *value)
{
	conn *c = smfi_getpriv(ctx);
	size_t len;

	if (c == NULL || c->conf == NULL || !c->check_header || strcasecmp(name, "From") != 0)
		goto out;
	if (++c->nfrom > 1 || c->from || c->from_too_long)
		goto out;
	len = strlen(value);
	if (len > ADDR_MAX_INPUT) {
		c->from_too_long = true;
		goto out;
	}
	c->from = malloc(len + 1);
	if (c->from) {
		memcpy(c->from, value, len + 1);
		c->from_len = len;
	}
out:
	return c && c->nr_hdr ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* refused - would this answer refuse the message whatever the other domains say? */
static bool refused(const sv_config *cfg, const char *domain, const sv_entry_view *v)
{
	policy_facts f = {.subject = POLICY_DOMAIN, .domain = domain, .source = "header"};
	policy_result r;

	policy_decide(cfg, v->state, v, &f, &r);
	return r.action == POLICY_REJECT;
}

/*
 * wait_together - several From: domains: wait for them together, one
 *	UnknownWait in all (-1: not waited, check_domain waits itself).  A
 *	domain whose answer refuses the message ends the wait at once (the
 *	others cannot change that): *first is its index in list, checked
 *	first; list->n when none.
 */
static long wait_together(conn *c, const sv_config *cfg, const addr_list *list, size_t *first)
{
	const char *names[ADDR_MAX_DOMAINS];
	size_t idx[ADDR_MAX_DOMAINS], n = 0, unknown;
	sv_entry_view views[ADDR_MAX_DOMAINS];
	struct timespec t0;
	long waited, step = 0;

	*first = list->n;
	if (cfg->unknown_action != SV_UNKNOWN_WAIT)
		return -1;
	for (size_t i = 0; i < list->n; i++)
		if (strcmp(list->domain[i], c->env_domain) != 0 &&
		    sv_config_skip_domain(cfg, list->domain[i]) != 1) {
			idx[n] = i;
			names[n++] = list->domain[i];
		}
	if (n < 2)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		/* slices: an answer that refuses ends the wait within one */
		unknown = sv_engine_wait_all(milter_engine, names, n, step, views);
		waited = elapsed_ms(&t0);
		for (size_t i = 0; i < n; i++)
			if (refused(cfg, names[i], &views[i])) {
				*first = idx[i];
				return waited;
			}
		if (unknown == 0 || waited >= cfg->unknown_wait)
			return waited;
		step = cfg->unknown_wait - waited < WAIT_SLICE_MS ? cfg->unknown_wait - waited
		                                                  : WAIT_SLICE_MS;
	}
}

/* header_domains - decide on the From: domains */
static sfsistat header_domains(SMFICTX *ctx, conn *c, const sv_config *cfg)
{
	addr_list *list;
	const char *why = NULL;
	sfsistat rc = SMFIS_CONTINUE;
	addr_status st;
	size_t first;
	long waited;

	if (c->nfrom == 0)
		return check_defect(ctx, c, cfg, POLICY_MISSING_FROM, "header", NULL);
	if (c->nfrom > 1)
		return check_defect(ctx, c, cfg, POLICY_MULTIPLE_FROM, "header", NULL);
	if (c->from_too_long || c->from == NULL)
		return check_defect(ctx, c, cfg, POLICY_BAD_FROM, "header", "From: too long");
	list = malloc(sizeof(*list));
	if (list == NULL)
		return SMFIS_TEMPFAIL;
	st = addr_from(c->from, c->from_len, list, &why, NULL);
	if (st != ADDR_OK) {
		rc = check_defect(ctx, c, cfg,
		                  st == ADDR_NOT_IDNA ? POLICY_NOT_IDNA : POLICY_BAD_FROM, "header",
		                  why ? why : addr_status_name(st));
		free(list);
		return rc;
	}
	waited = wait_together(c, cfg, list, &first);
	if (first < list->n)
		rc = check_domain(ctx, c, cfg, list->domain[first], "header", waited);
	for (size_t i = 0; i < list->n && rc == SMFIS_CONTINUE; i++) {
		if (strcmp(list->domain[i], c->env_domain) == 0) {
			mlog(SV_LOG_DEBUG, "%s: From: domain %s already checked as envelope",
			     c->logid, list->domain[i]);
			continue;
		}
		rc = check_domain(ctx, c, cfg, list->domain[i], "header", waited);
	}
	free(list);
	return rc;
}

/* mlfi_eoh - all headers seen: the From: domains */
static sfsistat mlfi_eoh(SMFICTX *ctx)
{
	conn *c = smfi_getpriv(ctx);
	const sv_config *cfg;
	sfsistat rc;

	if (c == NULL || c->conf == NULL || !c->check_header)
		return SMFIS_CONTINUE;
	if (!milter_enter())
		return defer_stopping(c, "header");
	cfg = c->conf->cfg;
	note_qid(ctx, c);
	rc = header_domains(ctx, c, cfg);
	milter_leave();
	if (rc == SMFIS_CONTINUE && cfg->mode != SV_MODE_MONITOR)
		rc = SMFIS_ACCEPT;
	if (rc != SMFIS_CONTINUE)
		message_reset(c);
	return rc;
}

/* mlfi_eom - Mode monitor: add the verdict headers */
static sfsistat mlfi_eom(SMFICTX *ctx)
{
	conn *c = smfi_getpriv(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	for (int i = 0; c->conf && i < c->nhdr; i++)
		if (smfi_addheader(ctx, "X-SESVerify", c->hdr[i]) != MI_SUCCESS)
			mlog(SV_LOG_WARNING, "%s: cannot add the X-SESVerify header", c->logid);
	message_reset(c);
	return SMFIS_CONTINUE;
}

/* mlfi_abort - RSET or a lost message: forget it */
static sfsistat mlfi_abort(SMFICTX *ctx)
{
	conn *c = smfi_getpriv(ctx);

	if (c)
		message_reset(c);
	return SMFIS_CONTINUE;
}

/* mlfi_close - end of the connection (may come without connect) */
static sfsistat mlfi_close(SMFICTX *ctx)
{
	conn *c = smfi_getpriv(ctx);

	if (c) {
		message_reset(c);
		free(c);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
    .xxfi_name = MILTER_NAME,
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS
#ifdef SMFIF_SETSYMLIST
                  | SMFIF_SETSYMLIST
#endif
    ,
    .xxfi_connect = mlfi_connect,
    .xxfi_helo = NULL,
    .xxfi_envfrom = mlfi_envfrom,
    .xxfi_envrcpt = NULL,
    .xxfi_header = mlfi_header,
    .xxfi_eoh = mlfi_eoh,
    .xxfi_body = NULL,
    .xxfi_eom = mlfi_eom,
    .xxfi_abort = mlfi_abort,
    .xxfi_close = mlfi_close,
    .xxfi_unknown = NULL,
    .xxfi_data = NULL,
    .xxfi_negotiate = mlfi_negotiate,
};

/* milter_desc - the filter description for smfi_register */
struct smfiDesc *milter_desc(void)
{
	return &desc;
}
