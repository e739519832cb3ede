/*
 * NAME
 *	sesverify 3 - public interface of libsesverify
 * SUMMARY
 *	Tencent Cloud SES sender-domain verification: configuration, domain
 *	normalisation, TC3-signed API client, DNS pre-check, and the
 *	rate-limited cache ("engine") that a milter or any other program asks.
 * SYNOPSIS
 *	#include <sesverify.h>
 *
 *	Everything public is prefixed sv_ / SV_.  Opaque handles are created
 *	by *_new and released by *_free.  Strings handed out in result
 *	structures belong to the structure and are released by its *_clear.
 * DESCRIPTION
 *	This is the only installed header.  Internal module headers live
 *	beside their .c files and are not part of the ABI.
 *
 *	Thread safety: sv_config objects are immutable once loaded and may be
 *	shared.  sv_client and sv_resolver objects belong to one thread at a
 *	time.  sv_engine is fully thread-safe; sv_engine_lookup() never does
 *	I/O and never waits on a refresh.
 */
#ifndef SESVERIFY_H
#define SESVERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SV_DOMAIN_MAX 253 /* octets of a presentation-form domain name */
#define SV_REQID_MAX  64  /* bytes of an API RequestId, NUL included */
#define SV_ECODE_MAX  96  /* bytes of an API error code, NUL included */

/* ------------------------------------------------------------------ */
/* Library                                                            */
/* ------------------------------------------------------------------ */

/* sv_library_init - once per process, before any other call (curl, OpenSSL) */
int sv_library_init(void);
/* sv_library_cleanup - pairs with sv_library_init */
void sv_library_cleanup(void);
/* sv_version - "0.1.0" */
const char *sv_version(void);

/* Log levels are syslog's. */
enum { SV_LOG_ERR = 3, SV_LOG_WARNING = 4, SV_LOG_NOTICE = 5, SV_LOG_INFO = 6, SV_LOG_DEBUG = 7 };
typedef void (*sv_log_fn)(int level, const char *message, void *arg);
/* sv_log_set_handler - route library diagnostics (default: stderr, INFO) */
void sv_log_set_handler(sv_log_fn fn, void *arg, int max_level);

/* ------------------------------------------------------------------ */
/* Domains                                                            */
/* ------------------------------------------------------------------ */

/*
 * sv_domain_normalize - validate and normalise a sender domain
 *	Lower-cases ASCII, drops one trailing dot, converts U-labels to
 *	A-labels where IDNA 2008 does so exactly (no UTS#46 mapping: a
 *	fullwidth letter, an ideographic full stop, an upper-case or non-NFC
 *	U-label is refused with the reason "non-ASCII domain that is not an
 *	exact IDNA2008 name"), and refuses empty names, names over 253
 *	octets, labels over 63, bad characters, IP literals ("[1.2.3.4]") and
 *	bare IP addresses.  Returns 0 and fills out, or -1 and sets *why to a static
 *	English reason.
 */
int sv_domain_normalize(const char *in, char out[SV_DOMAIN_MAX + 1], const char **why);

/*
 * sv_json_quote - s as a JSON string literal, quotes included: '"' and
 *	'\\' escaped, control octets and DEL as \u00XX, valid UTF-8 kept and
 *	every octet that does not start a valid UTF-8 sequence replaced by
 *	\ufffd, so the result is valid JSON whatever s holds; NULL gives null.
 *	The same writer makes every JSON document of the library and the
 *	milter.  Returns a malloc'd string (the caller frees it), NULL
 *	without memory.
 */
char *sv_json_quote(const char *s);

/* ------------------------------------------------------------------ */
/* States, DNS attributes, API results                               */
/* ------------------------------------------------------------------ */

typedef enum {
	SV_STATE_UNKNOWN = 0,
	SV_STATE_VERIFIED,
	SV_STATE_UNVERIFIED,
	SV_STATE_NOT_EXIST,
	SV_STATE_ERROR
} sv_state;

/* sv_state_name - "unknown", "verified", "unverified", "not_exist", "error" */
const char *sv_state_name(sv_state state);
/* sv_state_parse - inverse of sv_state_name; 0 or -1 */
int sv_state_parse(const char *name, sv_state *state);

/* One DNSAttributes element of an UpdateEmailIdentity answer. */
typedef struct sv_attr {
	char type[8];      /* "TXT", "MX", "CNAME", "A" */
	char *send_domain; /* record owner name */
	char *expected;    /* ExpectedValue */
	char *current;     /* CurrentValue (may be "") */
	bool status;       /* Status: SES saw it right */
} sv_attr;

/*
 * The error code of a not_exist entry made by the NXDOMAIN short-cut (the
 * domain does not exist in DNS, so no API call was made): the reply and
 * `cache show` name that reason instead of "not set up in SES".
 */
#define SV_ECODE_NXDOMAIN "DNS.NXDOMAIN"

/* How the caller must treat an API or transport error. */
typedef enum {
	SV_ECLASS_NONE = 0,     /* no error */
	SV_ECLASS_RETRYABLE,    /* transient: retry with backoff */
	SV_ECLASS_RATE_LIMITED, /* RequestLimitExceeded, LimitExceeded: slow down */
	SV_ECLASS_NOT_EXIST,    /* InvalidParameterValue.NotExistDomain */
	SV_ECLASS_CONFIG,   /* AuthFailure.*, MissingParameter, InvalidParameter...: fix config */
	SV_ECLASS_PERMANENT /* anything else the API refuses */
} sv_error_class;

/* sv_error_classify - classify a Tencent API error code string */
sv_error_class sv_error_classify(const char *code);
/* sv_error_class_name - "none", "retryable", "rate_limited", "not_exist", "config", "permanent" */
const char *sv_error_class_name(sv_error_class cls);

/* The outcome of one UpdateEmailIdentity (or a transport failure). */
typedef struct sv_identity {
	char domain[SV_DOMAIN_MAX + 1];
	sv_state state;                /* verified / unverified / not_exist / error */
	bool verified;                 /* VerifiedForSendingStatus */
	char request_id[SV_REQID_MAX]; /* "" when none */
	char identity_type[16];        /* "DOMAIN" */
	sv_attr *attrs;
	size_t nattrs;
	char error_code[SV_ECODE_MAX]; /* API code, or "Transport.*" / "Parse.*" of ours */
	char *error_message;           /* NULL when no error; never contains secrets */
	sv_error_class error_class;
	long http_status; /* 0 when no HTTP response */
} sv_identity;

/* sv_identity_clear - free what an sv_identity owns and zero it */
void sv_identity_clear(sv_identity *id);

/* ------------------------------------------------------------------ */
/* Configuration (one file, read by the milter and the CLI)            */
/* ------------------------------------------------------------------ */

typedef enum { SV_MODE_ENFORCE = 0, SV_MODE_MONITOR } sv_mode;
typedef enum { SV_UNKNOWN_WAIT = 0, SV_UNKNOWN_TEMPFAIL, SV_UNKNOWN_ACCEPT } sv_unknown_action;
typedef enum { SV_ERROR_TEMPFAIL = 0, SV_ERROR_ACCEPT, SV_ERROR_REJECT } sv_error_action;

/* CheckFrom bits */
#define SV_CHECK_ENVELOPE 0x1
#define SV_CHECK_HEADER   0x2
/* Outgoing bits */
#define SV_OUT_AUTH     0x1
#define SV_OUT_INTERNAL 0x2
#define SV_OUT_DAEMON   0x4
#define SV_OUT_ALL      0x8

typedef struct sv_cidr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int prefix;
} sv_cidr;

/*
 * struct sv_config - every key of DESIGN.md's contract, parsed.
 *	Durations are milliseconds.  Strings are NUL-terminated and owned by
 *	the config.  Never log secret_key or token.
 */
typedef struct sv_config {
	char *path; /* file it was read from, or NULL for defaults */

	/* milter */
	char *socket;
	char *control_socket;
	char *metrics_socket; /* "inet:PORT@ADDR" for GET /metrics, or NULL */
	char *pid_file;
	char *user_id;
	char *syslog_facility; /* "mail", "local0".. */
	int log_level;         /* SV_LOG_* */

	/* API */
	char *region;
	char *endpoint;
	char *ca_file; /* NULL: system store */
	char *secret_id;
	char *secret_key;
	char *token;
	char *credentials_file;
	int api_rate;        /* requests per second, whole process */
	int64_t api_timeout; /* ms */

	/* DNS pre-check */
	char *nameservers; /* "ADDR[@PORT],..." or NULL for /etc/resolv.conf */
	int64_t dns_timeout;
	char *spf_include; /* "include:qcloudmail.com" */

	/* cache */
	char *cache_file;
	int64_t verified_ttl, unverified_ttl, not_exist_ttl, error_ttl;
	int64_t max_api_age, max_stale;
	size_t max_entries;
	int refresh_workers;
	bool warm_up;
	int64_t list_interval; /* ms between periodic identity-list fetches */

	/* policy */
	sv_mode mode;
	unsigned check_from; /* SV_CHECK_* */
	unsigned outgoing;   /* SV_OUT_* */
	char **daemon_names; /* for SV_OUT_DAEMON ("daemon:NAME"), NULL-terminated */
	sv_cidr *internal_hosts;
	size_t n_internal_hosts;
	char **skip_domains; /* normalised, NULL-terminated */
	sv_unknown_action unknown_action;
	int64_t unknown_wait;
	sv_error_action error_action;

	/* shared state of several processes and hosts; redis NULL: none */
	char *redis;             /* URL as written: holds the password, never log it */
	char *redis_prefix;      /* key prefix, "sesverify:" */
	int64_t redis_timeout;   /* ms, connect and each operation */
	int redis_down_api_rate; /* per-process ApiRate while Redis is unreachable */
	char *api_rate_key;      /* names the shared budget; NULL: region + SecretId */
} sv_config;

/* sv_config_report_fn - receives "FILE:LINE: message" for each error */
typedef void (*sv_config_report_fn)(const char *message, void *arg);

/* sv_config_defaults - a config holding DESIGN.md's defaults (NULL on ENOMEM) */
sv_config *sv_config_defaults(void);
/*
 * sv_config_load - read a config file over the defaults
 *	Reports every error through report (or stderr when NULL) and returns
 *	the number of errors; *out is set only when that number is 0.
 */
int sv_config_load(const char *path, sv_config **out, sv_config_report_fn report, void *arg);
/* sv_config_free - release a config */
void sv_config_free(sv_config *cfg);
/* sv_duration_parse - "5s", "250ms", "1h" -> ms; 0 or -1 */
int sv_duration_parse(const char *text, int64_t *ms);

/* ------------------------------------------------------------------ */
/* API client (one per thread)                                        */
/* ------------------------------------------------------------------ */

typedef struct sv_client sv_client;

/* One element of ListEmailIdentities. */
typedef struct sv_listed {
	char name[SV_DOMAIN_MAX + 1];
	bool sending_enabled;
} sv_listed;

/*
 * sv_client_new - an API client for cfg's Endpoint/Region/credentials
 *	Resolves credentials (config, CredentialsFile, environment).  On
 *	failure returns NULL and writes a reason (never the secret) to err.
 */
sv_client *sv_client_new(const sv_config *cfg, char *err, size_t errlen);
void sv_client_free(sv_client *client);

/*
 * sv_client_update_identity - POST UpdateEmailIdentity for one domain
 *	Always fills *out (state error with error_code/class on failure).
 *	Returns 0 when the API gave an answer (even an API error), -1 on a
 *	transport, HTTP or parse failure.  A call may reach the server twice
 *	(see sv_client_set_resend_pacer).
 */
int sv_client_update_identity(sv_client *client, const char *domain, sv_identity *out);

/*
 * sv_client_list_identities - every identity of the account (all pages)
 *	On success returns 0, *items (malloc'd, caller frees) and *n.  On
 *	failure returns -1 and describes it in *err (state error).
 */
int sv_client_list_identities(sv_client *client, sv_listed **items, size_t *n, sv_identity *err);

/*
 * sv_pacer - how a caller paces the requests a client sends
 *	before(arg) runs just before a request goes out; a negative return
 *	means "do not send it" (the call fails).  after(arg) runs once that
 *	request has its answer or has failed.  The client does not pace by
 *	itself: ApiRate is the caller's (the milter's refresher, the CLI).
 */
typedef struct sv_pacer {
	int (*before)(void *arg);
	void (*after)(void *arg);
	void *arg;
} sv_pacer;

/*
 * sv_client_list_identities_paced - sv_client_list_identities with p's
 *	hooks around each page request (one request per 100 identities);
 *	a refusal stops the walk with error "Client.Cancelled".  p may be NULL.
 */
int sv_client_list_identities_paced(sv_client *client, const sv_pacer *p, sv_listed **items,
                                    size_t *n, sv_identity *err);

/*
 * sv_client_set_resend_pacer - pace libcurl's own re-sends
 *	When a reused keep-alive connection dies before the first byte of the
 *	answer, libcurl sends the request again on a new connection; the first
 *	copy may have reached the server, so the copy is one more request.
 *	With p, p->before runs before such a copy (a refusal fails the call as
 *	Transport.Connection) and p->after when the call ends; without (the
 *	default) libcurl re-sends on its own.  p must outlive the calls.
 */
void sv_client_set_resend_pacer(sv_client *client, const sv_pacer *p);

/*
 * sv_pacer_new - a pacer that keeps its requests within rate per second
 *	(rate < 1: 1), by the library's rate limiter, the one the engine
 *	uses: before() waits until a request may go (it counts as arriving
 *	at the server from then until one second after its answer); after()
 *	marks it answered.  For a program that sends one request at a time
 *	itself (the command-line client): call the hooks around
 *	sv_client_update_identity, and hand the pacer to
 *	sv_client_list_identities_paced and sv_client_set_resend_pacer.
 *	A before() while a request is in flight ends that request first
 *	(libcurl's re-send replaces it); an after() with none in flight does
 *	nothing.  Returns NULL without memory.  sv_pacer_free releases it
 *	(NULL: no-op).
 */
sv_pacer *sv_pacer_new(int rate);
void sv_pacer_free(sv_pacer *p);
/*
 * sv_pacer_new_shared - sv_pacer_new at cfg's ApiRate; with Redis set,
 *	its grants come from the account's budget in Redis that the milters
 *	share (a grant is a lease of ApiTimeout + 1 s), and while Redis is
 *	unreachable from a budget of this process of RedisDownApiRate.
 *	NULL with err set on failure.  sv_pacer_free releases it.
 */
sv_pacer *sv_pacer_new_shared(const sv_config *cfg, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* DNS pre-check (one resolver per thread)                            */
/* ------------------------------------------------------------------ */

typedef struct sv_resolver sv_resolver;

typedef enum {
	SV_PC_MATCH = 0,
	SV_PC_MISMATCH, /* present, other value (current holds it) */
	SV_PC_MISSING,  /* NXDOMAIN/NODATA at the record name */
	SV_PC_DNS_ERROR /* timeout, SERVFAIL, malformed answer */
} sv_pc_verdict;

typedef enum {
	SV_PRECHECK_MATCHES = 0, /* dns_matches_expected */
	SV_PRECHECK_LACKS,       /* dns_lacks_records */
	SV_PRECHECK_NXDOMAIN,    /* domain_does_not_exist */
	SV_PRECHECK_UNAVAILABLE, /* dns_unavailable */
	SV_PRECHECK_EXISTS       /* no expected attributes given; domain exists */
} sv_precheck_verdict;

typedef struct sv_pc_item {
	sv_attr attr; /* type, send_domain, expected copied from input; current = live value */
	sv_pc_verdict verdict;
	int rcode;    /* DNS rcode seen, -1 when no answer */
	char *detail; /* human explanation, or NULL */
} sv_pc_item;

typedef struct sv_precheck_result {
	char domain[SV_DOMAIN_MAX + 1];
	sv_precheck_verdict verdict;
	sv_pc_item *items;
	size_t nitems;
	bool spf_has_include; /* advice: SPF carries cfg->spf_include */
	char *spf_record;     /* the live SPF record, or NULL */
	char *error;          /* why dns_unavailable, or NULL */
	int64_t elapsed_us;
} sv_precheck_result;

/* sv_precheck_verdict_name - "dns_matches_expected", ... */
const char *sv_precheck_verdict_name(sv_precheck_verdict v);
/* sv_pc_verdict_name - "match", "mismatch", "missing", "dns_error" */
const char *sv_pc_verdict_name(sv_pc_verdict v);

sv_resolver *sv_resolver_new(const sv_config *cfg, char *err, size_t errlen);
void sv_resolver_free(sv_resolver *res);
/*
 * sv_precheck - compare domain's live DNS with expected attributes
 *	nexpected may be 0 (existence + SPF advice only).  Returns 0 and fills
 *	*out (which the caller clears with sv_precheck_result_clear).
 */
int sv_precheck(sv_resolver *res, const char *domain, const sv_attr *expected, size_t nexpected,
                sv_precheck_result *out);
void sv_precheck_result_clear(sv_precheck_result *r);

/* ------------------------------------------------------------------ */
/* Engine: cache + refresher (thread-safe)                            */
/* ------------------------------------------------------------------ */

typedef struct sv_engine sv_engine;

#define SV_VIEW_TEXT 128

/* A copy of one cache entry: fixed size, filled without allocation. */
typedef struct sv_entry_view {
	sv_state state;
	bool stale;      /* past expires_at, served while refreshing / under MaxStale */
	bool refreshing; /* a refresh is queued or in flight */
	time_t fetched_at, expires_at, api_checked_at;
	char request_id[SV_REQID_MAX];
	char error_code[SV_ECODE_MAX];
	/* first failing record, for the reject text ("" when none known) */
	char fail_type[8];
	char fail_name[SV_DOMAIN_MAX + 1];
	char fail_expected[SV_VIEW_TEXT]; /* shortened with "..." */
	char fail_current[SV_VIEW_TEXT];
	bool fail_missing; /* record absent (vs. wrong value) */
} sv_entry_view;

/* sv_engine_new - cache + refresher for cfg; NULL and err on failure */
sv_engine *sv_engine_new(const sv_config *cfg, char *err, size_t errlen);
/* sv_engine_start - load the snapshot, start workers, warm up */
int sv_engine_start(sv_engine *e);
/*
 * sv_engine_api_spent - no API request before when + 1 s (CLOCK_MONOTONIC)
 *	ApiRate is counted per process, the server's budget per account: a
 *	process that replaces one which may have used this second's requests
 *	(a worker restarted after a crash) calls this, best before
 *	sv_engine_start.  sv_engine_start itself does it when CacheFile, or
 *	the temporary file of an interrupted save, was written less than a
 *	second ago (a daemon started right after a stop, or a kill during
 *	the final save).
 */
void sv_engine_api_spent(sv_engine *e, const struct timespec *when);
/*
 * sv_engine_lookup - the hot path: copy the entry for a normalised domain
 *	Never blocks on I/O.  A never-seen or expired domain is queued for
 *	refresh (unknown ones with top priority).  Returns the state.
 */
sv_state sv_engine_lookup(sv_engine *e, const char *domain, sv_entry_view *out);
/* sv_engine_wait - wait up to timeout_ms for a non-unknown answer; returns the state */
sv_state sv_engine_wait(sv_engine *e, const char *domain, int64_t timeout_ms, sv_entry_view *out);
/*
 * sv_engine_wake_waiters - stopping: every sv_engine_wait returns now (with
 *	what the cache holds, usually unknown) and later calls do not wait.
 *	sv_engine_free does it too, and frees nothing before the last waiter left.
 */
void sv_engine_wake_waiters(sv_engine *e);
/*
 * sv_engine_wait_all - wait for n domains together, up to timeout_ms in all
 *	Each domain is looked up (and queued) as by sv_engine_lookup; the wait
 *	ends when none is unknown or at the one deadline.  outs, when not NULL,
 *	holds n views: the last lookup of each.  Returns how many are unknown.
 */
size_t sv_engine_wait_all(sv_engine *e, const char *const *domains, size_t n, int64_t timeout_ms,
                          sv_entry_view *outs);
/* sv_engine_refresh - queue an immediate refresh (API call) of a domain */
int sv_engine_refresh(sv_engine *e, const char *domain);
/* sv_engine_forget - drop a domain from the cache; 0, or -1 when absent */
int sv_engine_forget(sv_engine *e, const char *domain);
/* sv_engine_walk - call fn for each entry (a consistent copy per entry) */
void sv_engine_walk(sv_engine *e, void (*fn)(const char *domain, const sv_entry_view *v, void *arg),
                    void *arg);
/* sv_engine_stats - call fn for each counter ("api.calls", "cache.hit", ...) */
void sv_engine_stats(sv_engine *e, void (*fn)(const char *name, uint64_t value, void *arg),
                     void *arg);
/* sv_engine_save - write the snapshot to CacheFile now */
int sv_engine_save(sv_engine *e);
/* sv_engine_reconfigure - apply a reloaded config (TTLs, rate, endpoint...) */
int sv_engine_reconfigure(sv_engine *e, const sv_config *cfg);
/* sv_engine_free - stop workers, save the snapshot, release everything */
void sv_engine_free(sv_engine *e);

/* sv_stat_add - bump a process-wide counter by name (policy/milter side) */
void sv_stat_add(const char *name, uint64_t delta);

#ifdef __cplusplus
}
#endif
#endif /* SESVERIFY_H */
