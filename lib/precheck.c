/*
 * NAME
 *	precheck 3 - DNS pre-check of a sender domain with ldns
 * SUMMARY
 *	Owns: the resolver (nameserver list, timeouts, retries, EDNS0, TCP
 *	fallback), reply validation, CNAME chasing, record extraction, and
 *	the per-attribute and overall verdicts of sv_precheck().  Does not
 *	own: the comparison rules (dnsnorm.c) or what the engine does with a
 *	verdict.
 * SYNOPSIS
 *	see sesverify.h: sv_resolver_new, sv_resolver_free, sv_precheck,
 *	sv_precheck_result_clear, sv_precheck_verdict_name, sv_pc_verdict_name
 * DESCRIPTION
 *	Every nameserver gets its own ldns resolver, because ldns 1.8.3 has
 *	one port per resolver while "Nameserver ADDR@PORT,..." may give each
 *	server its own port.  Servers are tried in the configured order
 *	(ldns's shuffling is off) and each is tried PC_ATTEMPTS times.  ldns
 *	marks a server that timed out as dead forever; the RTT is reset
 *	before every send so that this never outlives one query.  Inside one
 *	sv_precheck() call ("a batch") a server that timed out is moved to
 *	the end of the order, so one dead server costs its timeout once per
 *	batch, not once per record.
 *
 *	Replies are accepted only when the ID, QR bit, opcode and question
 *	(name, type, class) match the query.  NOERROR and NXDOMAIN are
 *	answers; SERVFAIL, REFUSED, other rcodes, referrals (a non-recursive
 *	server pointing elsewhere) and malformed replies make the next server
 *	be asked; when none answers the record is a DNS error carrying the
 *	last rcode seen.  A query that no server answered stops the batch:
 *	remaining records are reported as DNS errors without being queried.
 *
 *	Bounds (hostile answers): CNAME chains of at most PC_CNAME_MAX hops,
 *	at most PC_REQUERY_MAX re-queries for a chain leaving the answer,
 *	PC_RR_MAX records of the asked type, PC_TXT_MAX bytes per TXT
 *	record, PC_QUERY_MAX sends and PC_BUDGET_FACTOR x DnsTimeout of wall
 *	time per sv_precheck() call.
 *
 *	Existence: the batch starts with an SOA query for the domain.
 *	NXDOMAIN means the domain does not exist.  NOERROR means it exists:
 *	normally with an SOA in the answer (zone apex) or in the authority
 *	section (a name inside a zone); a NOERROR answer without any SOA is
 *	still taken as existing (RFC 8020: only NXDOMAIN says a name is
 *	absent, and forwarders such as systemd-resolved drop the authority
 *	section), because a false "does not exist" would skip the API for a
 *	real domain.  A referral (no SOA, NS in authority) is not an answer
 *	at all: the next server is asked.
 * DIAGNOSTICS
 *	Details are English strings in sv_pc_item.detail and
 *	sv_precheck_result.error; each exchange failure is logged at debug.
 *	Counters: dns.queries, dns.timeouts, dns.tcp, dns.bad_replies.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <ldns/ldns.h>

#include "buf.h"
#include "dnsnorm.h"
#include "log.h"
#include "precheck.h"
#include "sesverify.h"
#include "stats.h"

#define PC_ATTEMPTS        2    /* sends per nameserver per query */
#define PC_EDNS_SIZE       1232 /* DNS flag day 2020 */
#define PC_DEFAULT_TIMEOUT 2000
#define PC_CNAME_MAX       8    /* hops per lookup */
#define PC_REQUERY_MAX     3    /* re-queries for a chain leaving the answer */
#define PC_QUERY_MAX       48   /* sends per sv_precheck() */
#define PC_RR_MAX          64   /* records of the asked type in one answer */
#define PC_ANSWER_MAX      256  /* records of any type in the answer section */
#define PC_TXT_MAX         4096 /* bytes of one concatenated TXT record */
#define PC_CACHE_MAX       24   /* distinct (name, type) lookups per batch */
#define PC_ATTR_MAX        32   /* expected attributes looked at */
#define PC_BUDGET_FACTOR   4    /* wall time per batch, in DnsTimeouts */
#define PC_DETAIL_MAX      320
#define PC_DEFAULT_INCLUDE "include:qcloudmail.com"

struct sv_resolver {
	pc_ns ns[PC_NS_MAX];
	ldns_resolver *lr[PC_NS_MAX]; /* one per server: ldns has one port per resolver */
	size_t nns;
	int64_t timeout_ms;
	char *spf_include;
};

/* What one (name, type) lookup found. */
struct pc_lookup {
	char name[SV_DOMAIN_MAX + 2];
	ldns_rr_type type;
	bool ok;        /* an answer was obtained and understood */
	int rcode;      /* of the final answer; -1 when none */
	bool soa;       /* SOA seen (answer or authority): the name is in a zone */
	size_t nanswer; /* records in the final answer section */
	char **values;  /* TXT text, MX exchange, CNAME target, A address */
	int *prefs;     /* MX preferences, parallel to values */
	size_t nvalues;
	size_t skipped; /* TXT records left out (embedded NUL) */
	char detail[PC_DETAIL_MAX];
};

/* State of one sv_precheck() call. */
struct pc_batch {
	sv_resolver *res;
	int64_t deadline_us;
	unsigned sends;
	bool demoted[PC_NS_MAX];
	bool halted;
	char halt_reason[PC_DETAIL_MAX];
	struct pc_lookup *cache[PC_CACHE_MAX];
	size_t ncache;
};

static uint64_t *st_queries, *st_timeouts, *st_tcp, *st_bad;
static pthread_once_t stats_once = PTHREAD_ONCE_INIT;

/* now_us - monotonic microseconds */
static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* sv_precheck_verdict_name - see sesverify.h */
const char *sv_precheck_verdict_name(sv_precheck_verdict v)
{
	switch (v) {
	case SV_PRECHECK_MATCHES:
		return "dns_matches_expected";
	case SV_PRECHECK_LACKS:
		return "dns_lacks_records";
	case SV_PRECHECK_NXDOMAIN:
		return "domain_does_not_exist";
	case SV_PRECHECK_UNAVAILABLE:
		return "dns_unavailable";
	case SV_PRECHECK_EXISTS:
		return "domain_exists";
	}
	return "dns_unavailable";
}

/* sv_pc_verdict_name - see sesverify.h */
const char *sv_pc_verdict_name(sv_pc_verdict v)
{
	switch (v) {
	case SV_PC_MATCH:
		return "match";
	case SV_PC_MISMATCH:
		return "mismatch";
	case SV_PC_MISSING:
		return "missing";
	case SV_PC_DNS_ERROR:
		return "dns_error";
	}
	return "dns_error";
}

/* ------------------------------------------------------------------ */
/* Nameserver lists                                                   */
/* ------------------------------------------------------------------ */

/* pc_ns_set - fill one server from an address literal; -1 if not one */
static int pc_ns_set(pc_ns *ns, const char *addr, size_t len, unsigned port)
{
	unsigned char bin[16];
	char tmp[sizeof(ns->addr)];

	if (len >= 2 && addr[0] == '[' && addr[len - 1] == ']') {
		addr++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, addr, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET, tmp, bin) == 1)
		ns->family = AF_INET;
	else if (inet_pton(AF_INET6, tmp, bin) == 1)
		ns->family = AF_INET6;
	else
		return -1;
	/* store the canonical text so that ldns gets what inet_pton accepted */
	if (!inet_ntop(ns->family, bin, ns->addr, sizeof(ns->addr)))
		return -1;
	ns->port = (uint16_t)port;
	return 0;
}

/* pc_ns_format - "ADDR@PORT" for messages */
void pc_ns_format(const pc_ns *ns, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s@%u", ns->addr, (unsigned)ns->port);
}

/* parse_port - decimal 1-65535 of exactly len bytes; 0 when invalid */
static unsigned parse_port(const char *s, size_t len)
{
	unsigned v = 0;

	if (len == 0 || len > 5)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v <= 65535 ? v : 0;
}

/* pc_parse_one - one "ADDR[@PORT]" item, trimmed; -1 with err */
static int pc_parse_one(const char *s, size_t len, pc_ns *ns, char *err, size_t errlen)
{
	const char *at = memchr(s, '@', len);
	unsigned port = 53;
	size_t alen = at ? (size_t)(at - s) : len;

	if (at && (port = parse_port(at + 1, len - alen - 1)) == 0) {
		snprintf(err, errlen, "Nameserver \"%.*s\": port must be 1-65535", (int)len, s);
		return -1;
	}
	if (pc_ns_set(ns, s, alen, port) < 0) {
		snprintf(err, errlen, "Nameserver \"%.*s\": not an IPv4 or IPv6 address", (int)len,
		         s);
		return -1;
	}
	return 0;
}

/* pc_parse_nameservers - see precheck.h */
int pc_parse_nameservers(const char *spec, pc_ns *ns, size_t max, size_t *n, char *err,
                         size_t errlen)
{
	const char *p = spec;

	*n = 0;
	if (!spec) {
		snprintf(err, errlen, "Nameserver: empty list");
		return -1;
	}
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		while (len > 0 && isspace((unsigned char)*p)) {
			p++;
			len--;
		}
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (len == 0) {
			snprintf(err, errlen, "Nameserver: empty item in \"%s\"", spec);
			return -1;
		}
		if (*n == max) {
			snprintf(err, errlen, "Nameserver: more than %zu servers", max);
			return -1;
		}
		if (pc_parse_one(p, len, &ns[*n], err, errlen) < 0)
			return -1;
		(*n)++;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* pc_parse_resolv_conf - see precheck.h */
size_t pc_parse_resolv_conf(const char *text, pc_ns *ns, size_t max)
{
	size_t n = 0;
	const char *p = text;

	while (p && *p && n < max) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		const char *cut = p, *word, *addr;
		size_t wlen, alen;

		/* comments start anywhere with '#' or ';' */
		while ((size_t)(cut - p) < len && *cut != '#' && *cut != ';')
			cut++;
		len = (size_t)(cut - p);
		word = p;
		while (len > 0 && (*word == ' ' || *word == '\t' || *word == '\r')) {
			word++;
			len--;
		}
		for (wlen = 0; wlen < len && word[wlen] != ' ' && word[wlen] != '\t'; wlen++)
			;
		addr = word + wlen;
		alen = len - wlen;
		while (alen > 0 && (*addr == ' ' || *addr == '\t')) {
			addr++;
			alen--;
		}
		while (alen > 0 && isspace((unsigned char)addr[alen - 1]))
			alen--;
		if (wlen == 10 && memcmp(word, "nameserver", 10) == 0 &&
		    pc_ns_set(&ns[n], addr, alen, 53) == 0)
			n++;
		p = eol ? eol + 1 : NULL;
	}
	return n;
}

/* read_resolv_conf - the system's nameservers, or 127.0.0.1 as glibc does */
static size_t read_resolv_conf(pc_ns *ns, size_t max)
{
	char text[16384];
	size_t len = 0, n;
	FILE *fp = fopen("/etc/resolv.conf", "re");

	if (fp) {
		len = fread(text, 1, sizeof(text) - 1, fp);
		fclose(fp);
	}
	text[len] = '\0';
	if ((n = pc_parse_resolv_conf(text, ns, max)) > 0)
		return n;
	pc_ns_set(&ns[0], "127.0.0.1", 9, 53);
	return 1;
}

/* ------------------------------------------------------------------ */
/* Resolver                                                           */
/* ------------------------------------------------------------------ */

/* ldns_for - an ldns resolver for one server */
static ldns_resolver *ldns_for(const pc_ns *ns, int64_t timeout_ms)
{
	ldns_resolver *r = ldns_resolver_new();
	ldns_rdf *addr;
	struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};

	if (!r)
		return NULL;
	addr = ldns_rdf_new_frm_str(ns->family == AF_INET ? LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA,
	                            ns->addr);
	if (!addr || ldns_resolver_push_nameserver(r, addr) != LDNS_STATUS_OK) {
		ldns_rdf_deep_free(addr);
		ldns_resolver_deep_free(r);
		return NULL;
	}
	ldns_rdf_deep_free(addr); /* push_nameserver cloned it */
	ldns_resolver_set_port(r, ns->port);
	ldns_resolver_set_timeout(r, tv);
	ldns_resolver_set_retry(r, 1); /* attempts are counted here, with the deadline */
	ldns_resolver_set_edns_udp_size(r, PC_EDNS_SIZE);
	ldns_resolver_set_random(r, false);
	ldns_resolver_set_fallback(r, true);
	ldns_resolver_set_usevc(r, false);
	ldns_resolver_set_defnames(r, false);
	ldns_resolver_set_dnsrch(r, false);
	ldns_resolver_set_recursive(r, true);
	return r;
}

/* stats_init - look the counters up once */
static void stats_init(void)
{
	st_queries = sv_stat_counter("dns.queries");
	st_timeouts = sv_stat_counter("dns.timeouts");
	st_tcp = sv_stat_counter("dns.tcp");
	st_bad = sv_stat_counter("dns.bad_replies");
}

/* sv_resolver_new - see sesverify.h */
sv_resolver *sv_resolver_new(const sv_config *cfg, char *err, size_t errlen)
{
	sv_resolver *res = calloc(1, sizeof(*res));
	const char *inc =
	    cfg && cfg->spf_include && *cfg->spf_include ? cfg->spf_include : PC_DEFAULT_INCLUDE;

	if (!res || !(res->spf_include = strdup(inc))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	res->timeout_ms = cfg && cfg->dns_timeout > 0 ? cfg->dns_timeout : PC_DEFAULT_TIMEOUT;
	if (cfg && cfg->nameservers && *cfg->nameservers) {
		if (pc_parse_nameservers(cfg->nameservers, res->ns, PC_NS_MAX, &res->nns, err,
		                         errlen) < 0)
			goto fail;
	} else {
		res->nns = read_resolv_conf(res->ns, PC_NS_MAX);
	}
	for (size_t i = 0; i < res->nns; i++) {
		if (!(res->lr[i] = ldns_for(&res->ns[i], res->timeout_ms))) {
			snprintf(err, errlen, "cannot create an ldns resolver for %s",
			         res->ns[i].addr);
			goto fail;
		}
	}
	pthread_once(&stats_once, stats_init);
	return res;
fail:
	sv_resolver_free(res);
	return NULL;
}

/* sv_resolver_free - see sesverify.h */
void sv_resolver_free(sv_resolver *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->nns; i++)
		if (res->lr[i])
			ldns_resolver_deep_free(res->lr[i]);
	free(res->spf_include);
	free(res);
}

/* ------------------------------------------------------------------ */
/* One question, all servers                                          */
/* ------------------------------------------------------------------ */

/* note - append one failure to a detail buffer */
static void note(char *buf, size_t len, const char *fmt, ...) SV_PRINTF(3, 4);
static void note(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 3 >= len)
		return;
	if (used) {
		strcpy(buf + used, "; ");
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/* setf - format into a fixed buffer; truncation of long names is acceptable */
static void setf(char *buf, size_t len, const char *fmt, ...) SV_PRINTF(3, 4);
static void setf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* reply_matches - the reply answers this very query (ldns checks nothing) */
static const char *reply_matches(const ldns_pkt *q, const ldns_pkt *r)
{
	const ldns_rr_list *qs = ldns_pkt_question(r);
	const ldns_rr *qr, *rr;

	if (ldns_pkt_id(r) != ldns_pkt_id(q))
		return "reply ID differs from the query's";
	if (!ldns_pkt_qr(r) || ldns_pkt_get_opcode(r) != LDNS_PACKET_QUERY)
		return "reply is not a query response";
	if (ldns_pkt_qdcount(r) != 1 || !qs || ldns_rr_list_rr_count(qs) != 1)
		return "reply does not carry exactly one question";
	qr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	rr = ldns_rr_list_rr(qs, 0);
	if (ldns_rr_get_type(rr) != ldns_rr_get_type(qr) ||
	    ldns_rr_get_class(rr) != ldns_rr_get_class(qr) ||
	    ldns_dname_compare(ldns_rr_owner(rr), ldns_rr_owner(qr)) != 0)
		return "reply question differs from the query";
	return NULL;
}

/* is_referral - NOERROR pointing elsewhere: no answer, NS but no SOA in authority */
static bool is_referral(const ldns_pkt *r)
{
	const ldns_rr_list *auth = ldns_pkt_authority(r);
	bool ns = false;

	if (ldns_pkt_get_rcode(r) != LDNS_RCODE_NOERROR || ldns_pkt_ancount(r) != 0)
		return false;
	for (size_t i = 0; auth && i < ldns_rr_list_rr_count(auth); i++) {
		ldns_rr_type t = ldns_rr_get_type(ldns_rr_list_rr(auth, i));
		if (t == LDNS_RR_TYPE_SOA)
			return false;
		if (t == LDNS_RR_TYPE_NS)
			ns = true;
	}
	return ns;
}

/* rcode_name - "SERVFAIL", or "RCODE17" */
static const char *rcode_name(int rcode, char *buf, size_t len)
{
	const ldns_lookup_table *lt = ldns_lookup_by_id(ldns_rcodes, rcode);

	if (lt && lt->name)
		return lt->name;
	snprintf(buf, len, "RCODE%d", rcode);
	return buf;
}

enum try_result { TRY_ANSWER, TRY_TIMEOUT, TRY_NEXT, TRY_STOP };

/* try_send - one send to one server; TRY_ANSWER leaves the reply in *reply */
static enum try_result try_send(struct pc_batch *b, size_t i, const ldns_rdf *qname,
                                ldns_rr_type type, ldns_pkt **reply, int *rcode, char *why,
                                size_t whylen)
{
	sv_resolver *res = b->res;
	ldns_resolver *lr = res->lr[i];
	ldns_pkt *q = NULL;
	ldns_status st;
	int64_t left = (b->deadline_us - now_us()) / 1000;
	int64_t t = left < res->timeout_ms ? left : res->timeout_ms;
	struct timeval tv;
	const char *bad;
	char who[80], rb[16];
	int64_t sent_us;

	pc_ns_format(&res->ns[i], who, sizeof(who));
	if (t <= 0 || b->sends >= PC_QUERY_MAX) {
		note(why, whylen, "pre-check budget exhausted (%u queries, %lld ms)", b->sends,
		     (long long)(PC_BUDGET_FACTOR * res->timeout_ms));
		return TRY_STOP;
	}
	tv.tv_sec = (time_t)(t / 1000);
	tv.tv_usec = (suseconds_t)(t % 1000) * 1000;
	ldns_resolver_set_timeout(lr, tv);
	/* ldns marks a timed-out server dead forever: revive it for this send */
	ldns_resolver_set_nameserver_rtt(lr, 0, LDNS_RESOLV_RTT_MIN);
	ldns_resolver_set_usevc(lr, false);
	if (ldns_resolver_prepare_query_pkt(&q, lr, qname, type, LDNS_RR_CLASS_IN, LDNS_RD) !=
	    LDNS_STATUS_OK) {
		note(why, whylen, "cannot build a query");
		return TRY_STOP;
	}
	b->sends++;
	sv_stat_inc(st_queries, 1);
	*reply = NULL;
	sent_us = now_us();
	st = ldns_resolver_send_pkt(reply, lr, q);
	if (st != LDNS_STATUS_OK || !*reply) {
		int64_t took = (now_us() - sent_us) / 1000;

		ldns_pkt_free(*reply);
		*reply = NULL;
		ldns_pkt_free(q);
		if (st == LDNS_STATUS_NETWORK_ERR || st == LDNS_STATUS_SOCKET_ERROR ||
		    st == LDNS_STATUS_RES_NO_NS || st == LDNS_STATUS_OK) {
			sv_stat_inc(st_timeouts, 1);
			/* well before the timeout: refused, reset or closed (a TCP
			 * retry after truncation that the server hung up on) */
			if (took < t * 9 / 10)
				note(why, whylen,
				     "%s: connection refused or closed without an answer after "
				     "%lld ms",
				     who, (long long)took);
			else
				note(why, whylen, "%s: no answer within %lld ms", who,
				     (long long)t);
			return TRY_TIMEOUT;
		}
		sv_stat_inc(st_bad, 1);
		note(why, whylen, "%s: malformed reply (%s)", who, ldns_get_errorstr_by_id(st));
		return TRY_NEXT;
	}
	bad = reply_matches(q, *reply);
	ldns_pkt_free(q);
	if (bad) {
		sv_stat_inc(st_bad, 1);
		note(why, whylen, "%s: %s", who, bad);
		goto next;
	}
	if (ldns_pkt_tc(*reply)) {
		/* ldns already fell back to TCP: a truncated answer is incomplete */
		sv_stat_inc(st_bad, 1);
		note(why, whylen, "%s: answer truncated even over TCP", who);
		goto next;
	}
	if (ldns_pkt_size(*reply) > PC_EDNS_SIZE)
		sv_stat_inc(st_tcp, 1); /* cannot have come over UDP with our buffer */
	*rcode = ldns_pkt_get_rcode(*reply);
	if (*rcode != LDNS_RCODE_NOERROR && *rcode != LDNS_RCODE_NXDOMAIN) {
		note(why, whylen, "%s: %s", who, rcode_name(*rcode, rb, sizeof(rb)));
		goto next;
	}
	if (is_referral(*reply)) {
		note(why, whylen, "%s: referral, not an answer (server not recursive)", who);
		*rcode = -1;
		goto next;
	}
	return TRY_ANSWER;
next:
	ldns_pkt_free(*reply);
	*reply = NULL;
	return TRY_NEXT;
}

/* exchange - ask the servers in order until one answers; NULL and why when none */
static ldns_pkt *exchange(struct pc_batch *b, const ldns_rdf *qname, ldns_rr_type type, int *rcode,
                          char *why, size_t whylen)
{
	ldns_pkt *reply = NULL;
	int last_rcode = -1;
	bool was_demoted[PC_NS_MAX];

	memcpy(was_demoted, b->demoted, sizeof(was_demoted));
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < b->res->nns; i++) {
			/* pass 0: servers that answered so far; pass 1: the demoted ones */
			if (was_demoted[i] != (pass == 1))
				continue;
			for (int a = 0; a < PC_ATTEMPTS; a++) {
				int rc = -1;
				enum try_result t =
				    try_send(b, i, qname, type, &reply, &rc, why, whylen);
				if (rc >= 0)
					last_rcode = rc;
				if (t == TRY_ANSWER) {
					*rcode = rc;
					return reply;
				}
				if (t == TRY_STOP)
					goto fail;
				if (t == TRY_NEXT)
					break;
				if (a == PC_ATTEMPTS - 1)
					b->demoted[i] = true;
			}
		}
	}
fail:
	*rcode = last_rcode;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Reading an answer                                                  */
/* ------------------------------------------------------------------ */

/* lookup_add - append one value (taking ownership of text) */
static int lookup_add(struct pc_lookup *lk, char *text, int pref)
{
	char **v;
	int *p;

	if (!text)
		return -1;
	v = realloc(lk->values, (lk->nvalues + 1) * sizeof(*v));
	if (v)
		lk->values = v;
	p = realloc(lk->prefs, (lk->nvalues + 1) * sizeof(*p));
	if (p)
		lk->prefs = p;
	if (!v || !p) {
		free(text);
		return -1;
	}
	lk->values[lk->nvalues] = text;
	lk->prefs[lk->nvalues++] = pref;
	return 0;
}

/* txt_value - concatenate a TXT RR's character-strings raw; NULL and why on failure */
static char *txt_value(const ldns_rr *rr, bool *has_nul, const char **why)
{
	sv_buf b;

	sv_buf_init(&b, PC_TXT_MAX);
	*has_nul = false;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		const uint8_t *d = ldns_rdf_data(f);
		size_t sz = ldns_rdf_size(f);

		if (ldns_rdf_get_type(f) != LDNS_RDF_TYPE_STR || sz < 1 || d[0] + 1u != sz) {
			*why = "malformed TXT character-string";
			goto fail;
		}
		if (memchr(d + 1, '\0', d[0]))
			*has_nul = true;
		if (sv_buf_append(&b, d + 1, d[0]) < 0) {
			*why = "TXT record longer than 4096 bytes";
			goto fail;
		}
	}
	if (!b.data && sv_buf_append(&b, "", 0) < 0) {
		*why = "out of memory";
		goto fail;
	}
	return b.data;
fail:
	sv_buf_free(&b);
	return NULL;
}

/* rdf_text - presentation form of one rdf of the expected type, or NULL */
static char *rdf_text(const ldns_rr *rr, size_t i, ldns_rdf_type want)
{
	const ldns_rdf *f = ldns_rr_rd_count(rr) > i ? ldns_rr_rdf(rr, i) : NULL;

	if (!f || ldns_rdf_get_type(f) != want)
		return NULL;
	return ldns_rdf2str(f);
}

/* take_value - extract the value of one RR of the asked type; -1 and detail */
static int take_value(struct pc_lookup *lk, const ldns_rr *rr)
{
	const char *why = "out of memory";
	bool nul = false;
	char *text = NULL;
	int pref = 0;

	switch (lk->type) {
	case LDNS_RR_TYPE_TXT:
		if (!(text = txt_value(rr, &nul, &why)))
			goto fail;
		if (nul) {
			/* binary TXT data cannot be an SPF or DKIM record */
			lk->skipped++;
			free(text);
			return 0;
		}
		break;
	case LDNS_RR_TYPE_MX:
		why = "malformed MX rdata";
		if (ldns_rr_rd_count(rr) != 2 ||
		    ldns_rdf_get_type(ldns_rr_rdf(rr, 0)) != LDNS_RDF_TYPE_INT16)
			goto fail;
		pref = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
		if (!(text = rdf_text(rr, 1, LDNS_RDF_TYPE_DNAME)))
			goto fail;
		break;
	case LDNS_RR_TYPE_CNAME:
		why = "malformed CNAME rdata";
		if (!(text = rdf_text(rr, 0, LDNS_RDF_TYPE_DNAME)))
			goto fail;
		break;
	case LDNS_RR_TYPE_A:
		why = "malformed A rdata";
		if (!(text = rdf_text(rr, 0, LDNS_RDF_TYPE_A)))
			goto fail;
		break;
	default:
		return 0;
	}
	if (lookup_add(lk, text, pref) == 0)
		return 0;
	why = "out of memory";
fail:
	setf(lk->detail, sizeof(lk->detail), "%s at %s", why, lk->name);
	return -1;
}

/* has_soa - an SOA anywhere in the answer or authority section */
static bool has_soa(const ldns_pkt *r)
{
	const ldns_rr_list *ls[2] = {ldns_pkt_answer(r), ldns_pkt_authority(r)};

	for (int s = 0; s < 2; s++)
		for (size_t i = 0; ls[s] && i < ldns_rr_list_rr_count(ls[s]); i++)
			if (ldns_rr_get_type(ldns_rr_list_rr(ls[s], i)) == LDNS_RR_TYPE_SOA)
				return true;
	return false;
}

/* follow_chain - walk CNAMEs from *cur inside the answer; -1 on a loop/long chain */
static int follow_chain(struct pc_lookup *lk, const ldns_rr_list *an, ldns_rdf **cur,
                        unsigned *hops)
{
	for (;;) {
		const ldns_rr *next = NULL;

		for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
			const ldns_rr *rr = ldns_rr_list_rr(an, i);
			if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME &&
			    ldns_dname_compare(ldns_rr_owner(rr), *cur) == 0) {
				next = rr;
				break;
			}
		}
		if (!next)
			return 0;
		if (++*hops > PC_CNAME_MAX) {
			setf(lk->detail, sizeof(lk->detail),
			     "CNAME chain from %s longer than %d (loop?)", lk->name, PC_CNAME_MAX);
			return -1;
		}
		if (ldns_rr_rd_count(next) != 1 ||
		    ldns_rdf_get_type(ldns_rr_rdf(next, 0)) != LDNS_RDF_TYPE_DNAME) {
			setf(lk->detail, sizeof(lk->detail), "malformed CNAME in the answer for %s",
			     lk->name);
			return -1;
		}
		ldns_rdf_deep_free(*cur);
		if (!(*cur = ldns_rdf_clone(ldns_rr_rdf(next, 0))))
			return -1;
	}
}

/* read_answer - values of the asked type at the chain's end; *more when a re-query is due */
static int read_answer(struct pc_lookup *lk, const ldns_pkt *r, ldns_rdf **cur, unsigned *hops,
                       bool *more)
{
	const ldns_rr_list *an = ldns_pkt_answer(r);
	size_t n = an ? ldns_rr_list_rr_count(an) : 0, want = 0, other = 0;
	const ldns_rr *odd = NULL;

	*more = false;
	lk->nanswer = n;
	if (n > PC_ANSWER_MAX) {
		setf(lk->detail, sizeof(lk->detail), "answer for %s holds %zu records (limit %d)",
		     lk->name, n, PC_ANSWER_MAX);
		return -1;
	}
	if (lk->type == LDNS_RR_TYPE_SOA)
		lk->soa = has_soa(r);
	/* a CNAME query wants the CNAME itself; anything else follows it */
	if (lk->type != LDNS_RR_TYPE_CNAME && follow_chain(lk, an, cur, hops) < 0)
		return -1;
	/* CNAMEs were followed above; RRSIGs and a DNAME (which comes with the
	 * CNAME it synthesised) are not junk; anything else is */
	for (size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		ldns_rr_type t = ldns_rr_get_type(rr);

		if (t == lk->type && ldns_dname_compare(ldns_rr_owner(rr), *cur) == 0) {
			if (++want > PC_RR_MAX) {
				setf(lk->detail, sizeof(lk->detail),
				     "answer for %s holds more than %d records of the asked type",
				     lk->name, PC_RR_MAX);
				return -1;
			}
			if (take_value(lk, rr) < 0)
				return -1;
		} else if (t != LDNS_RR_TYPE_CNAME && t != LDNS_RR_TYPE_RRSIG &&
		           t != LDNS_RR_TYPE_DNAME) {
			other++;
			odd = rr;
		}
	}
	if (want == 0 && other > 0) {
		char *ts = ldns_rr_type2str(ldns_rr_get_type(odd));
		setf(lk->detail, sizeof(lk->detail),
		     "answer for %s holds %zu records of other types (%s) and none of the asked "
		     "type",
		     lk->name, other, ts ? ts : "?");
		free(ts);
		return -1;
	}
	/* an out-of-zone CNAME target: the server gave the alias only */
	*more =
	    want == 0 && *hops > 0 && ldns_pkt_get_rcode(r) == LDNS_RCODE_NOERROR && !has_soa(r);
	return 0;
}

/* lookup_run - query (name, type) and follow its chain; fills lk */
static void lookup_run(struct pc_batch *b, struct pc_lookup *lk)
{
	ldns_rdf *cur = NULL;
	ldns_pkt *r = NULL;
	unsigned hops = 0;
	char why[PC_DETAIL_MAX] = "";

	if (ldns_str2rdf_dname(&cur, lk->name) != LDNS_STATUS_OK) {
		setf(lk->detail, sizeof(lk->detail), "invalid DNS name \"%s\"", lk->name);
		return;
	}
	for (int q = 0; q <= PC_REQUERY_MAX; q++) {
		bool more = false;

		if (b->halted) {
			setf(lk->detail, sizeof(lk->detail), "%s not queried: %s", lk->name,
			     b->halt_reason);
			goto out;
		}
		why[0] = '\0';
		if (!(r = exchange(b, cur, lk->type, &lk->rcode, why, sizeof(why)))) {
			setf(lk->detail, sizeof(lk->detail), "%s: %s", lk->name, why);
			b->halted = true;
			setf(b->halt_reason, sizeof(b->halt_reason), "an earlier query failed");
			sv_log(SV_LOG_DEBUG, "precheck: %s", lk->detail);
			goto out;
		}
		if (read_answer(lk, r, &cur, &hops, &more) < 0)
			goto out;
		ldns_pkt_free(r);
		r = NULL;
		if (!more) {
			lk->ok = true;
			goto out;
		}
	}
	setf(lk->detail, sizeof(lk->detail), "CNAME chain from %s leaves the answers %d times",
	     lk->name, PC_REQUERY_MAX + 1);
out:
	ldns_pkt_free(r);
	ldns_rdf_deep_free(cur);
}

/* lookup_free - release one lookup */
static void lookup_free(struct pc_lookup *lk)
{
	for (size_t i = 0; i < lk->nvalues; i++)
		free(lk->values[i]);
	free(lk->values);
	free(lk->prefs);
	free(lk);
}

/* lookup - the cached answer for (name, type), querying on first use */
static const struct pc_lookup *lookup(struct pc_batch *b, const char *name, ldns_rr_type type)
{
	static const struct pc_lookup nomem = {.rcode = -1, .detail = "out of memory"};
	static const struct pc_lookup toomany = {.rcode = -1,
	                                         .detail = "too many distinct records asked"};
	struct pc_lookup *lk;

	for (size_t i = 0; i < b->ncache; i++)
		if (b->cache[i]->type == type && strcasecmp(b->cache[i]->name, name) == 0)
			return b->cache[i];
	if (b->ncache == PC_CACHE_MAX)
		return &toomany;
	if (!(lk = calloc(1, sizeof(*lk))))
		return &nomem;
	lk->type = type;
	lk->rcode = -1;
	if (strlen(name) >= sizeof(lk->name)) {
		setf(lk->detail, sizeof(lk->detail), "record name longer than %d octets",
		     SV_DOMAIN_MAX);
	} else {
		strcpy(lk->name, name);
		lookup_run(b, lk);
	}
	b->cache[b->ncache++] = lk;
	return lk;
}

/* ------------------------------------------------------------------ */
/* Verdicts                                                           */
/* ------------------------------------------------------------------ */

/* set_str - replace an owned string; false on ENOMEM */
static bool set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = strdup(src ? src : "");
	return *dst != NULL;
}

/* item_error - a DNS error verdict with the lookup's explanation */
static void item_error(sv_pc_item *it, const struct pc_lookup *lk)
{
	it->verdict = SV_PC_DNS_ERROR;
	it->rcode = lk->rcode;
	set_str(&it->detail, lk->detail[0] ? lk->detail : "DNS error");
}

/* item_missing - NXDOMAIN or NODATA at the record name */
static void item_missing(sv_pc_item *it, const struct pc_lookup *lk, const char *why)
{
	char d[PC_DETAIL_MAX];

	it->verdict = SV_PC_MISSING;
	it->rcode = lk->rcode;
	setf(d, sizeof(d), "%s",
	     lk->rcode == LDNS_RCODE_NXDOMAIN ? "name does not exist (NXDOMAIN)"
	     : why                            ? why
	                                      : "no record of this type");
	set_str(&it->detail, d);
}

/* check_txt - one TXT expectation */
static void check_txt(sv_pc_item *it, const struct pc_lookup *lk)
{
	size_t pick = 0;
	const char *why = NULL;
	dnsnorm_result r = dnsnorm_txt_compare(it->attr.expected, (const char *const *)lk->values,
	                                       lk->nvalues, &pick, &why);

	if (r == DNSNORM_MISSING) {
		char d[PC_DETAIL_MAX];
		if (lk->skipped > 0) {
			setf(d, sizeof(d), "%s (%zu TXT record(s) with NUL bytes ignored)",
			     why ? why : "no TXT record", lk->skipped);
			why = d;
		}
		item_missing(it, lk, why);
		return;
	}
	it->verdict = r == DNSNORM_MATCH ? SV_PC_MATCH : SV_PC_MISMATCH;
	set_str(&it->attr.current, lk->values[pick]);
	if (why)
		set_str(&it->detail, why);
}

/* join_values - "a, b, c" with optional MX preferences */
static void join_values(sv_pc_item *it, const struct pc_lookup *lk, bool prefs)
{
	sv_buf b;

	sv_buf_init(&b, 4096);
	for (size_t i = 0; i < lk->nvalues; i++) {
		if (i)
			sv_buf_puts(&b, ", ");
		if (prefs)
			sv_buf_printf(&b, "%d ", lk->prefs[i]);
		sv_buf_puts(&b, lk->values[i]);
	}
	set_str(&it->attr.current, b.data && !sv_buf_failed(&b) ? b.data : "(too long)");
	sv_buf_free(&b);
}

/* check_mx - one MX expectation: any exchange matching */
static void check_mx(sv_pc_item *it, const struct pc_lookup *lk)
{
	bool with_pref = it->attr.expected && isdigit((unsigned char)it->attr.expected[0]);

	if (lk->nvalues == 0) {
		item_missing(it, lk, "no MX record");
		return;
	}
	for (size_t i = 0; i < lk->nvalues; i++) {
		if (dnsnorm_mx_match(it->attr.expected, lk->prefs[i], lk->values[i])) {
			it->verdict = SV_PC_MATCH;
			set_str(&it->attr.current, lk->values[i]);
			return;
		}
	}
	it->verdict = SV_PC_MISMATCH;
	join_values(it, lk, with_pref);
	set_str(&it->detail, "no MX record points to the expected exchange");
}

/* check_cname - one CNAME expectation: the alias's target */
static void check_cname(sv_pc_item *it, const struct pc_lookup *lk)
{
	if (lk->nvalues == 0) {
		item_missing(it, lk, "no CNAME record");
		return;
	}
	set_str(&it->attr.current, lk->values[0]);
	if (lk->nvalues == 1 && dnsnorm_host_equal(it->attr.expected, lk->values[0])) {
		it->verdict = SV_PC_MATCH;
		return;
	}
	it->verdict = SV_PC_MISMATCH;
	set_str(&it->detail,
	        lk->nvalues > 1 ? "several CNAME records at one name" : "CNAME points elsewhere");
}

/* check_a - one A expectation: any address equal */
static void check_a(sv_pc_item *it, const struct pc_lookup *lk)
{
	struct in_addr want, got;

	if (lk->nvalues == 0) {
		item_missing(it, lk, "no A record");
		return;
	}
	if (inet_pton(AF_INET, it->attr.expected, &want) == 1) {
		for (size_t i = 0; i < lk->nvalues; i++) {
			if (inet_pton(AF_INET, lk->values[i], &got) == 1 &&
			    got.s_addr == want.s_addr) {
				it->verdict = SV_PC_MATCH;
				set_str(&it->attr.current, lk->values[i]);
				return;
			}
		}
	}
	it->verdict = SV_PC_MISMATCH;
	join_values(it, lk, false);
	set_str(&it->detail, "no A record holds the expected address");
}

/* check_item - look one expected attribute up and judge it */
static void check_item(struct pc_batch *b, sv_pc_item *it)
{
	static const struct {
		const char *name;
		ldns_rr_type type;
		void (*check)(sv_pc_item *, const struct pc_lookup *);
	} kinds[] = {
	    {"TXT", LDNS_RR_TYPE_TXT, check_txt},
	    {"MX", LDNS_RR_TYPE_MX, check_mx},
	    {"CNAME", LDNS_RR_TYPE_CNAME, check_cname},
	    {"A", LDNS_RR_TYPE_A, check_a},
	};
	const struct pc_lookup *lk;

	for (size_t k = 0; k < SV_ARRAY_LEN(kinds); k++) {
		if (strcasecmp(it->attr.type, kinds[k].name) != 0)
			continue;
		if (!it->attr.send_domain[0]) {
			it->verdict = SV_PC_DNS_ERROR;
			set_str(&it->detail, "expected record has no name");
			return;
		}
		lk = lookup(b, it->attr.send_domain, kinds[k].type);
		if (!lk->ok) {
			item_error(it, lk);
			return;
		}
		it->rcode = lk->rcode;
		kinds[k].check(it, lk);
		return;
	}
	it->verdict = SV_PC_DNS_ERROR;
	set_str(&it->detail, "record type not supported by the pre-check");
}

/* spf_advice - does the live SPF record carry the configured include */
static void spf_advice(struct pc_batch *b, sv_precheck_result *out)
{
	const struct pc_lookup *lk = lookup(b, out->domain, LDNS_RR_TYPE_TXT);
	size_t nspf = 0, first = 0;

	if (!lk->ok)
		return;
	for (size_t i = 0; i < lk->nvalues; i++)
		if (dnsnorm_is_spf(lk->values[i]) && nspf++ == 0)
			first = i;
	if (nspf == 0)
		return;
	set_str(&out->spf_record, lk->values[first]);
	/* several SPF records are a permerror: the include is not effective */
	out->spf_has_include =
	    nspf == 1 && dnsnorm_spf_has_term(lk->values[first], b->res->spf_include);
}

/* copy_items - the result's items from the expected attributes */
static int copy_items(sv_precheck_result *out, const sv_attr *expected, size_t n)
{
	if (n == 0)
		return 0;
	if (!(out->items = calloc(n, sizeof(*out->items))))
		return -1;
	out->nitems = n;
	for (size_t i = 0; i < n; i++) {
		sv_pc_item *it = &out->items[i];
		snprintf(it->attr.type, sizeof(it->attr.type), "%s", expected[i].type);
		it->rcode = -1;
		it->verdict = SV_PC_DNS_ERROR;
		if (!set_str(&it->attr.send_domain, expected[i].send_domain) ||
		    !set_str(&it->attr.expected, expected[i].expected) ||
		    !set_str(&it->attr.current, ""))
			return -1;
	}
	return 0;
}

/* all_items - give every item the same verdict and detail */
static void all_items(sv_precheck_result *out, sv_pc_verdict v, int rcode, const char *detail)
{
	for (size_t i = 0; i < out->nitems; i++) {
		out->items[i].verdict = v;
		out->items[i].rcode = rcode;
		set_str(&out->items[i].detail, detail);
	}
}

/* existence - SOA query at the domain; false when the batch is decided */
static bool existence(struct pc_batch *b, sv_precheck_result *out)
{
	const struct pc_lookup *lk = lookup(b, out->domain, LDNS_RR_TYPE_SOA);
	char d[PC_DETAIL_MAX];

	if (!lk->ok) {
		out->verdict = SV_PRECHECK_UNAVAILABLE;
		set_str(&out->error, lk->detail);
		setf(d, sizeof(d), "not queried: %s", lk->detail);
		all_items(out, SV_PC_DNS_ERROR, lk->rcode, d);
		return false;
	}
	if (lk->rcode == LDNS_RCODE_NXDOMAIN) {
		out->verdict = SV_PRECHECK_NXDOMAIN;
		all_items(out, SV_PC_MISSING, lk->rcode, "domain does not exist (NXDOMAIN)");
		return false;
	}
	if (!lk->soa && lk->nanswer == 0)
		/* RFC 8020: only NXDOMAIN says "absent"; forwarders such as
		 * systemd-resolved drop the SOA of a NODATA answer */
		sv_log(SV_LOG_DEBUG, "precheck: %s: NOERROR without SOA, taken as existing",
		       out->domain);
	return true;
}

/* overall - the batch verdict from the items */
static void overall(sv_precheck_result *out)
{
	bool all_match = true;

	if (out->nitems == 0) {
		out->verdict = SV_PRECHECK_EXISTS;
		return;
	}
	for (size_t i = 0; i < out->nitems; i++) {
		if (out->items[i].verdict == SV_PC_DNS_ERROR) {
			out->verdict = SV_PRECHECK_UNAVAILABLE;
			set_str(&out->error, out->items[i].detail);
			return;
		}
		if (out->items[i].verdict != SV_PC_MATCH)
			all_match = false;
	}
	out->verdict = all_match ? SV_PRECHECK_MATCHES : SV_PRECHECK_LACKS;
}

/* sv_precheck - see sesverify.h */
int sv_precheck(sv_resolver *res, const char *domain, const sv_attr *expected, size_t nexpected,
                sv_precheck_result *out)
{
	struct pc_batch b;
	int64_t start = now_us();
	const char *why = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->verdict = SV_PRECHECK_UNAVAILABLE;
	if (nexpected > PC_ATTR_MAX)
		nexpected = PC_ATTR_MAX;
	if (copy_items(out, expected, nexpected) < 0) {
		set_str(&out->error, "out of memory");
		return -1;
	}
	if (!res || !domain || sv_domain_normalize(domain, out->domain, &why) < 0) {
		char d[PC_DETAIL_MAX];
		setf(d, sizeof(d), "invalid domain: %s", why ? why : "no resolver or domain");
		snprintf(out->domain, sizeof(out->domain), "%.*s", SV_DOMAIN_MAX,
		         domain ? domain : "");
		set_str(&out->error, d);
		all_items(out, SV_PC_DNS_ERROR, -1, d);
		return -1;
	}
	memset(&b, 0, sizeof(b));
	b.res = res;
	b.deadline_us = start + PC_BUDGET_FACTOR * res->timeout_ms * 1000;
	if (existence(&b, out)) {
		for (size_t i = 0; i < out->nitems; i++)
			check_item(&b, &out->items[i]);
		spf_advice(&b, out);
		overall(out);
	}
	for (size_t i = 0; i < b.ncache; i++)
		lookup_free(b.cache[i]);
	out->elapsed_us = now_us() - start;
	return rc;
}

/* sv_precheck_result_clear - see sesverify.h */
void sv_precheck_result_clear(sv_precheck_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nitems; i++) {
		sv_attr_clear(&r->items[i].attr);
		free(r->items[i].detail);
	}
	free(r->items);
	free(r->spf_record);
	free(r->error);
	memset(r, 0, sizeof(*r));
}
