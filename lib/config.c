/*
 * NAME
 *	config 3 - the configuration file of sesverify-milter and sesverify
 * SUMMARY
 *	One key table (name, type, default, field, range) drives parsing,
 *	defaults and sv_config_dump(); see sesverify-milter.conf(5).
 * SYNOPSIS
 *	#include "config_int.h"
 *
 *	sv_config *sv_config_defaults(void);
 *	int sv_config_load(path, &cfg, report, arg);
 *	int sv_config_load_buffer(name, data, len, flags, &cfg, report, arg);
 *	void sv_config_dump(cfg, fp);
 *	void sv_config_free(cfg);
 *	int sv_duration_parse(text, &ms);
 *	int sv_cidr_parse(text, &cidr);
 *	int sv_cidr_match(list, n, sockaddr);
 * DESCRIPTION
 *	Syntax: one "Key value" per line.  Keys are case-insensitive.  A line
 *	whose first non-blank character is '#' is a comment, and so is a
 *	'#' preceded by white space ("Mode monitor # for now"); a '#' inside
 *	a word (a path, a key) is data.  Leading and trailing white space is
 *	trimmed.  A value may be written in double quotes, with \" and \\
 *	as the only escapes; inside quotes '#' is data.  A UTF-8 byte order
 *	mark and CRLF line ends are tolerated.  A key given twice is an
 *	error: a silent "last one wins" hides typos in long files.
 *
 *	Durations are a non-negative integer followed by ms, s, m, h or d; a
 *	bare number means seconds.
 *
 *	Relative "SkipDomains @FILE" names are taken relative to the
 *	directory of the configuration file.
 *
 *	This module owns parsing and validation only.  It does not read
 *	CredentialsFile or the environment (credentials module), does not
 *	open sockets (milter) and does not resolve Nameserver (precheck).
 * DIAGNOSTICS
 *	Every error is reported, not just the first, as "FILE:LINE: message"
 *	(or "FILE: message" for whole-file problems) through the caller's
 *	report function.  Values of SecretKey and SessionToken never appear
 *	in messages; other values are quoted, cut at 64 bytes, with every
 *	byte outside printable ASCII escaped as \xNN.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "compat.h"
#include "config_int.h"
#include "redis.h"

#define MAX_FILE (1024 * 1024) /* config and @FILE lists */
#define MAX_LINE 4096
#define MAX_ECHO 64 /* bytes of a bad value quoted in a message */

typedef enum {
	T_STR,      /* string, optional checker */
	T_SECRET,   /* string never echoed */
	T_PATH,     /* absolute path */
	T_SOCKET,   /* unix:, local:, inet:, inet6: */
	T_USOCKET,  /* unix: only */
	T_URL,      /* https:// */
	T_INT,      /* int in [min,max] */
	T_SIZE,     /* size_t in [min,max] */
	T_DUR,      /* duration ms in [min,max] */
	T_BOOL,     /* yes/no */
	T_ENUM,     /* one of names */
	T_FLAGS,    /* comma list of names -> unsigned bits */
	T_OUTGOING, /* Outgoing: flags + daemon:NAME */
	T_CIDRS,    /* InternalHosts */
	T_DOMAINS,  /* SkipDomains */
	T_NS,       /* Nameserver */
	T_SPF,      /* SpfInclude */
	T_REDIS     /* Redis URL, may hold a password */
} key_type;

typedef struct name_val {
	const char *name;
	int value;
} name_val;

typedef int (*str_check_fn)(const char *v, char *err, size_t errlen);

typedef struct key {
	const char *name;
	key_type type;
	const char *def; /* default as config text; NULL: unset */
	size_t off;      /* field in sv_config */
	int64_t min, max;
	const name_val *names; /* T_ENUM, T_FLAGS */
	str_check_fn check;    /* T_STR */
} key;

/* One parse run. */
typedef struct ctx {
	const char *name; /* file name in messages */
	char *dir;        /* for relative @FILE; NULL: cwd */
	unsigned flags;
	unsigned line;
	int errors;
	sv_config_report_fn report;
	void *arg;
	sv_config *cfg;
	unsigned *seen; /* line where each key was set, 0: not set */
} ctx;

/* parse results beyond 0/-1 */
#define REPORTED (-2) /* the parser reported its own errors */

static int check_region(const char *v, char *err, size_t errlen);
static int check_secret_id(const char *v, char *err, size_t errlen);
static int check_user(const char *v, char *err, size_t errlen);
static int check_facility(const char *v, char *err, size_t errlen);
static int check_redis_name(const char *v, char *err, size_t errlen);
static int check_metrics(const char *v, char *err, size_t errlen);

static const name_val mode_names[] = {
    {"enforce", SV_MODE_ENFORCE}, {"monitor", SV_MODE_MONITOR}, {NULL, 0}};
static const name_val unknown_names[] = {{"wait", SV_UNKNOWN_WAIT},
                                         {"tempfail", SV_UNKNOWN_TEMPFAIL},
                                         {"accept", SV_UNKNOWN_ACCEPT},
                                         {NULL, 0}};
static const name_val error_names[] = {{"tempfail", SV_ERROR_TEMPFAIL},
                                       {"accept", SV_ERROR_ACCEPT},
                                       {"reject", SV_ERROR_REJECT},
                                       {NULL, 0}};
static const name_val level_names[] = {{"err", SV_LOG_ERR},       {"warning", SV_LOG_WARNING},
                                       {"notice", SV_LOG_NOTICE}, {"info", SV_LOG_INFO},
                                       {"debug", SV_LOG_DEBUG},   {NULL, 0}};
static const name_val check_names[] = {
    {"envelope", SV_CHECK_ENVELOPE}, {"header", SV_CHECK_HEADER}, {NULL, 0}};
static const name_val facility_names[] = {
    {"auth", 0},   {"authpriv", 0}, {"cron", 0},   {"daemon", 0}, {"ftp", 0},    {"kern", 0},
    {"lpr", 0},    {"mail", 0},     {"news", 0},   {"syslog", 0}, {"user", 0},   {"uucp", 0},
    {"local0", 0}, {"local1", 0},   {"local2", 0}, {"local3", 0}, {"local4", 0}, {"local5", 0},
    {"local6", 0}, {"local7", 0},   {NULL, 0}};

#define MS(x)  ((int64_t)(x))
#define SEC    MS(1000)
#define MIN    (60 * SEC)
#define HOUR   (60 * MIN)
#define DAY    (24 * HOUR)
#define OFF(f) offsetof(sv_config, f)

/* The contract of DESIGN.md, in the order of the sample file. */
static const key keys[] = {
    {"Socket", T_SOCKET, "unix:/run/sesverify/milter.sock", OFF(socket), 0, 0, NULL, NULL},
    {"ControlSocket", T_USOCKET, "unix:/run/sesverify/control.sock", OFF(control_socket), 0, 0,
     NULL, NULL},
    {"MetricsSocket", T_STR, NULL, OFF(metrics_socket), 0, 0, NULL, check_metrics},
    {"Region", T_STR, "ap-guangzhou", OFF(region), 0, 0, NULL, check_region},
    {"Endpoint", T_URL, "https://ses.tencentcloudapi.com", OFF(endpoint), 0, 0, NULL, NULL},
    {"CAFile", T_PATH, NULL, OFF(ca_file), 0, 0, NULL, NULL},
    {"SecretId", T_STR, NULL, OFF(secret_id), 0, 0, NULL, check_secret_id},
    {"SecretKey", T_SECRET, NULL, OFF(secret_key), 0, 0, NULL, NULL},
    {"SessionToken", T_SECRET, NULL, OFF(token), 0, 0, NULL, NULL},
    {"CredentialsFile", T_PATH, NULL, OFF(credentials_file), 0, 0, NULL, NULL},
    {"ApiRate", T_INT, "20", OFF(api_rate), 1, 1000, NULL, NULL},
    {"ApiTimeout", T_DUR, "5s", OFF(api_timeout), 100, 5 * MIN, NULL, NULL},
    {"Redis", T_REDIS, NULL, OFF(redis), 0, 0, NULL, NULL},
    {"RedisPrefix", T_STR, "sesverify:", OFF(redis_prefix), 0, 0, NULL, check_redis_name},
    {"RedisTimeout", T_DUR, "250ms", OFF(redis_timeout), 10, MIN, NULL, NULL},
    {"RedisDownApiRate", T_INT, "5", OFF(redis_down_api_rate), 1, 1000, NULL, NULL},
    {"ApiRateKey", T_STR, NULL, OFF(api_rate_key), 0, 0, NULL, check_redis_name},
    {"Nameserver", T_NS, "/etc/resolv.conf", OFF(nameservers), 0, 0, NULL, NULL},
    {"DnsTimeout", T_DUR, "2s", OFF(dns_timeout), 100, MIN, NULL, NULL},
    {"SpfInclude", T_SPF, "include:qcloudmail.com", OFF(spf_include), 0, 0, NULL, NULL},
    {"CacheFile", T_PATH, "/var/lib/sesverify/cache", OFF(cache_file), 0, 0, NULL, NULL},
    {"VerifiedTTL", T_DUR, "1h", OFF(verified_ttl), SEC, 30 * DAY, NULL, NULL},
    {"UnverifiedTTL", T_DUR, "5m", OFF(unverified_ttl), SEC, 30 * DAY, NULL, NULL},
    {"NotExistTTL", T_DUR, "1h", OFF(not_exist_ttl), SEC, 30 * DAY, NULL, NULL},
    {"ErrorTTL", T_DUR, "1m", OFF(error_ttl), SEC, DAY, NULL, NULL},
    {"MaxApiAge", T_DUR, "24h", OFF(max_api_age), MIN, 365 * DAY, NULL, NULL},
    {"MaxStale", T_DUR, "24h", OFF(max_stale), 0, 365 * DAY, NULL, NULL},
    {"MaxEntries", T_SIZE, "100000", OFF(max_entries), 1, 100000000, NULL, NULL},
    {"RefreshWorkers", T_INT, "4", OFF(refresh_workers), 1, 64, NULL, NULL},
    {"WarmUp", T_BOOL, "yes", OFF(warm_up), 0, 0, NULL, NULL},
    {"ListInterval", T_DUR, "5m", OFF(list_interval), SEC, DAY, NULL, NULL},
    {"Mode", T_ENUM, "enforce", OFF(mode), 0, 0, mode_names, NULL},
    {"CheckFrom", T_FLAGS, "envelope,header", OFF(check_from), 0, 0, check_names, NULL},
    {"Outgoing", T_OUTGOING, "auth,internal", OFF(outgoing), 0, 0, NULL, NULL},
    {"InternalHosts", T_CIDRS, "127.0.0.0/8,::1", OFF(internal_hosts), 0, 0, NULL, NULL},
    {"SkipDomains", T_DOMAINS, NULL, OFF(skip_domains), 0, 0, NULL, NULL},
    {"UnknownAction", T_ENUM, "wait", OFF(unknown_action), 0, 0, unknown_names, NULL},
    {"UnknownWait", T_DUR, "5s", OFF(unknown_wait), 0, 5 * MIN, NULL, NULL},
    {"ErrorAction", T_ENUM, "tempfail", OFF(error_action), 0, 0, error_names, NULL},
    {"PidFile", T_PATH, NULL, OFF(pid_file), 0, 0, NULL, NULL},
    {"UserID", T_STR, NULL, OFF(user_id), 0, 0, NULL, check_user},
    {"SyslogFacility", T_STR, "mail", OFF(syslog_facility), 0, 0, NULL, check_facility},
    {"LogLevel", T_ENUM, "info", OFF(log_level), 0, 0, level_names, NULL},
};
#define NKEYS SV_ARRAY_LEN(keys)

/* Enum fields are written through an int. */
_Static_assert(sizeof(sv_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(sv_unknown_action) == sizeof(int), "enum size");
_Static_assert(sizeof(sv_error_action) == sizeof(int), "enum size");

/* field - address of a key's field */
static void *field(sv_config *cfg, const key *k)
{
	return (char *)cfg + k->off;
}

/* cfield - read-only address of a key's field */
static const void *cfield(const sv_config *cfg, const key *k)
{
	return (const char *)cfg + k->off;
}

/* ------------------------------------------------------------------ */
/* Diagnostics                                                        */
/* ------------------------------------------------------------------ */

/* report_at - deliver "FILE:LINE: message" (LINE 0: "FILE: message") */
SV_PRINTF(4, 5) static void report_at(ctx *c, const char *file, unsigned line, const char *fmt, ...)
{
	char msg[1024], full[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(full, sizeof(full), "%s:%u: %s", file, line, msg);
	else
		snprintf(full, sizeof(full), "%s: %s", file, msg);
	c->errors++;
	if (c->report)
		c->report(full, c->arg);
	else
		fprintf(stderr, "%s\n", full);
}

/*
 * echo - quote an untrusted value for a message: cut, and every byte
 *	that is not printable ASCII escaped (a junk file must not put raw
 *	control bytes or invalid UTF-8 into syslog or a terminal)
 */
static const char *echo(const char *v, char *buf, size_t len)
{
	size_t o = 0, n = 0;

	buf[o++] = '"';
	for (; *v && o + 8 < len; v++, n++) {
		unsigned char ch = (unsigned char)*v;
		if (n == MAX_ECHO) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
		else
			buf[o++] = (char)ch;
	}
	buf[o++] = '"';
	buf[o] = 0;
	return buf;
}

/* names_list - "a, b or c" for an error message */
static const char *names_list(const name_val *nv, char *buf, size_t len)
{
	size_t n = 0, o = 0;

	while (nv[n].name)
		n++;
	buf[0] = 0;
	for (size_t i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s",
		                      i == 0       ? ""
		                      : i + 1 == n ? " or "
		                                   : ", ",
		                      nv[i].name);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Durations and numbers                                              */
/* ------------------------------------------------------------------ */

/* parse_uint - all-digit decimal, no sign, no overflow past max */
static int parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* sv_duration_parse - see sesverify.h; bare numbers are seconds */
int sv_duration_parse(const char *text, int64_t *ms)
{
	static const struct {
		const char *unit;
		int64_t mult;
	} units[] = {{"ms", 1}, {"s", SEC}, {"", SEC}, {"m", MIN}, {"h", HOUR}, {"d", DAY}};
	size_t digits = 0;
	uint64_t v;

	if (text == NULL)
		return -1;
	while (text[digits] >= '0' && text[digits] <= '9')
		digits++;
	for (size_t i = 0; i < SV_ARRAY_LEN(units); i++) {
		if (strcmp(text + digits, units[i].unit) != 0)
			continue;
		if (parse_uint(text, digits, (uint64_t)INT64_MAX / (uint64_t)units[i].mult, &v) < 0)
			return -1;
		*ms = (int64_t)v * units[i].mult;
		return 0;
	}
	return -1;
}

/* sv_duration_format - largest exact unit: 300000 -> "5m" */
int sv_duration_format(int64_t ms, char *buf, size_t len)
{
	static const struct {
		const char *unit;
		int64_t mult;
	} units[] = {{"d", DAY}, {"h", HOUR}, {"m", MIN}, {"s", SEC}};

	if (ms > 0)
		for (size_t i = 0; i < SV_ARRAY_LEN(units); i++)
			if (ms % units[i].mult == 0)
				return snprintf(buf, len, "%lld%s", (long long)(ms / units[i].mult),
				                units[i].unit);
	return snprintf(buf, len, ms == 0 ? "0s" : "%lldms", (long long)ms);
}

/* ------------------------------------------------------------------ */
/* Value checkers (return 0, or -1 with err)                          */
/* ------------------------------------------------------------------ */

/* has_space_or_ctl - any byte that must not be in a single-word value */
static int has_space_or_ctl(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v <= 0x20 || *v == 0x7f)
			return 1;
	return 0;
}

/* check_region - "ap-guangzhou": lower case letters, digits, hyphens */
static int check_region(const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);
	char e[MAX_ECHO * 4 + 8];

	if (n > 0 && n <= 32 && strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") == n)
		return 0;
	snprintf(err, errlen, "bad region %s (expected a name such as ap-guangzhou)",
	         echo(v, e, sizeof(e)));
	return -1;
}

/* check_secret_id - printable ASCII without blanks (never echoed either) */
static int check_secret_id(const char *v, char *err, size_t errlen)
{
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			snprintf(err, errlen, "contains blanks, control or non-ASCII characters");
			return -1;
		}
	if (strlen(v) > 128) {
		snprintf(err, errlen, "longer than 128 characters");
		return -1;
	}
	return 0;
}

/* check_user - "user" or "user:group", names or numbers */
static int check_user(const char *v, char *err, size_t errlen)
{
	static const char ok[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
	size_t u = strspn(v, ok);
	char e[MAX_ECHO * 4 + 8];

	if (u > 0 &&
	    (v[u] == 0 || (v[u] == ':' && v[u + 1] && strspn(v + u + 1, ok) == strlen(v + u + 1))))
		return 0;
	snprintf(err, errlen, "bad user %s (expected USER or USER:GROUP)", echo(v, e, sizeof(e)));
	return -1;
}

/* check_facility - a syslog facility name */
static int check_facility(const char *v, char *err, size_t errlen)
{
	char e[MAX_ECHO * 4 + 8];

	for (const name_val *nv = facility_names; nv->name; nv++)
		if (strcmp(v, nv->name) == 0)
			return 0;
	snprintf(err, errlen,
	         "unknown syslog facility %s (expected mail, daemon, local0..local7, ...)",
	         echo(v, e, sizeof(e)));
	return -1;
}

/* check_redis_name - RedisPrefix, ApiRateKey: 1-128 of [A-Za-z0-9._:-] (part of key names) */
static int check_redis_name(const char *v, char *err, size_t errlen)
{
	char e[MAX_ECHO * 4 + 8];
	size_t n = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-");

	if (n == 0 || n > 128 || v[n] != 0) {
		snprintf(err, errlen, "bad value %s (1-128 letters, digits, '.', '_', ':' or '-')",
		         echo(v, e, sizeof(e)));
		return -1;
	}
	return 0;
}

/* check_redis - the Redis URL (redis.h), in a build with Redis support */
static int check_redis(const char *v, char *err, size_t errlen)
{
#ifdef HAVE_HIREDIS
	sv_redis_url url;
	char why[200];

	if (sv_redis_url_parse(v, &url, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	sv_redis_url_clear(&url);
	return 0;
#else
	(void)v;
	snprintf(err, errlen,
	         "this build has no Redis support (install the Debian package libhiredis-dev, "
	         "then configure --with-redis and rebuild)");
	return -1;
#endif
}

/* check_port - decimal 1..65535 */
static int check_port(const char *s, size_t len)
{
	uint64_t v;

	return parse_uint(s, len, 65535, &v) == 0 && v >= 1 ? 0 : -1;
}

/* is_hostname - LDH labels with dots, for socket and URL hosts */
static int is_hostname(const char *s, size_t len)
{
	if (len == 0 || len > SV_DOMAIN_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!isalnum(ch) && ch != '-' && ch != '.' && ch != '_')
			return 0;
	}
	return 1;
}

/* is_ip - literal address of the family (AF_UNSPEC: either) */
static int is_ip(const char *s, size_t len, int family)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];

	if (len == 0 || len >= sizeof(tmp))
		return 0;
	memcpy(tmp, s, len);
	tmp[len] = 0;
	if (family != AF_INET6 && inet_pton(AF_INET, tmp, bin) == 1)
		return 1;
	return family != AF_INET && inet_pton(AF_INET6, tmp, bin) == 1;
}

/*
 * sv_inet_spec_parse - "inet:PORT@IPv4" or "inet6:PORT@IPv6" (address
 *	literals only: no name is resolved) into *ss; -1 with err set
 */
int sv_inet_spec_parse(const char *v, struct sockaddr_storage *ss, socklen_t *sslen, char *err,
                       size_t errlen)
{
	char e[MAX_ECHO * 4 + 8], addr[INET6_ADDRSTRLEN + 1];
	const char *spec, *at;
	uint64_t port;
	int family;

	memset(ss, 0, sizeof(*ss));
	if (strncmp(v, "inet:", 5) == 0) {
		family = AF_INET;
		spec = v + 5;
	} else if (strncmp(v, "inet6:", 6) == 0) {
		family = AF_INET6;
		spec = v + 6;
	} else {
		snprintf(err, errlen, "bad socket %s (expected inet:PORT@IPv4 or inet6:PORT@IPv6)",
		         echo(v, e, sizeof(e)));
		return -1;
	}
	at = strchr(spec, '@');
	if (at == NULL || parse_uint(spec, (size_t)(at - spec), 65535, &port) < 0 || port == 0) {
		snprintf(err, errlen, "bad socket %s (expected a port 1-65535, then @ADDRESS)",
		         echo(v, e, sizeof(e)));
		return -1;
	}
	snprintf(addr, sizeof(addr), "%s", at + 1);
	if (strlen(at + 1) >= sizeof(addr) || !is_ip(at + 1, strlen(at + 1), family)) {
		snprintf(err, errlen,
		         "bad socket %s (the address must be an %s literal, not a name)",
		         echo(v, e, sizeof(e)), family == AF_INET ? "IPv4" : "IPv6");
		return -1;
	}
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, addr, &sin->sin_addr);
		*sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, addr, &sin6->sin6_addr);
		*sslen = sizeof(*sin6);
	}
	return 0;
}

/* check_metrics - MetricsSocket: a TCP address literal */
static int check_metrics(const char *v, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return sv_inet_spec_parse(v, &ss, &len, err, errlen);
}

/* check_socket - libmilter's smfi_setconn() forms */
static int check_socket(const char *v, int unix_only, char *err, size_t errlen)
{
	const char *path = NULL, *spec, *at;
	char e[MAX_ECHO * 4 + 8];
	int family = 0;

	if (strncmp(v, "unix:", 5) == 0)
		path = v + 5;
	else if (strncmp(v, "local:", 6) == 0)
		path = v + 6;
	else if (v[0] == '/')
		path = v;
	else if (!unix_only && strncmp(v, "inet:", 5) == 0)
		family = AF_INET;
	else if (!unix_only && strncmp(v, "inet6:", 6) == 0)
		family = AF_INET6;
	else {
		snprintf(err, errlen, "bad socket %s (expected %s)", echo(v, e, sizeof(e)),
		         unix_only ? "unix:PATH" : "unix:PATH, inet:PORT@HOST or inet6:PORT@HOST");
		return -1;
	}
	if (path) {
		if (path[0] != '/') {
			snprintf(err, errlen, "socket path must be absolute in %s",
			         echo(v, e, sizeof(e)));
			return -1;
		}
		if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			snprintf(err, errlen, "socket path longer than %zu bytes",
			         sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			return -1;
		}
		return 0;
	}
	spec = v + (family == AF_INET ? 5 : 6);
	at = strchr(spec, '@');
	if (check_port(spec, at ? (size_t)(at - spec) : strlen(spec)) < 0) {
		snprintf(err, errlen, "bad port in %s (expected 1..65535)", echo(v, e, sizeof(e)));
		return -1;
	}
	if (at) {
		const char *h = at + 1;
		size_t hl = strlen(h);
		int good = family == AF_INET ? is_ip(h, hl, AF_INET) || is_hostname(h, hl)
		                             : is_ip(h, hl, AF_INET6) || is_hostname(h, hl) ||
		                                   (hl > 2 && h[0] == '[' && h[hl - 1] == ']' &&
		                                    is_ip(h + 1, hl - 2, AF_INET6));
		if (!good) {
			snprintf(err, errlen,
			         "bad host in %s (expected an %s address or a host name)",
			         echo(v, e, sizeof(e)), family == AF_INET ? "IPv4" : "IPv6");
			return -1;
		}
	}
	return 0;
}

/* check_url - https://HOST[:PORT][/PATH]; TLS cannot be turned off */
static int check_url(const char *v, char *err, size_t errlen)
{
	const char *auth, *end, *colon;
	char e[MAX_ECHO * 4 + 8];
	size_t hl;

	if (strncasecmp(v, "https://", 8) != 0) {
		snprintf(err, errlen, "must be an https:// URL (TLS cannot be turned off), not %s",
		         echo(v, e, sizeof(e)));
		return -1;
	}
	auth = v + 8;
	end = auth + strcspn(auth, "/?#");
	if (*auth == '[') { /* [v6]:port */
		const char *rb = memchr(auth, ']', (size_t)(end - auth));
		if (rb == NULL || !is_ip(auth + 1, (size_t)(rb - auth - 1), AF_INET6))
			goto bad;
		colon = rb + 1 < end ? rb + 1 : NULL;
		if (colon && *colon != ':')
			goto bad;
	} else {
		colon = memchr(auth, ':', (size_t)(end - auth));
		hl = colon ? (size_t)(colon - auth) : (size_t)(end - auth);
		if (!is_hostname(auth, hl))
			goto bad;
	}
	if (colon && check_port(colon + 1, (size_t)(end - colon - 1)) < 0)
		goto bad;
	if (has_space_or_ctl(v))
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "bad URL %s (expected https://HOST[:PORT][/PATH])",
	         echo(v, e, sizeof(e)));
	return -1;
}

/* ------------------------------------------------------------------ */
/* CIDR                                                                */
/* ------------------------------------------------------------------ */

/* cidr_parse - see sv_cidr_parse; *why says what was wrong */
static int cidr_parse(const char *text, sv_cidr *out, const char **why)
{
	char addr[INET6_ADDRSTRLEN + 3];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	uint64_t prefix;
	int max;

	memset(out, 0, sizeof(*out));
	if (alen >= 2 && text[0] == '[' && text[alen - 1] == ']') {
		text++;
		alen -= 2;
	}
	if (alen == 0 || alen >= sizeof(addr)) {
		*why = "bad address";
		return -1;
	}
	memcpy(addr, text, alen);
	addr[alen] = 0;
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		*why = "bad address";
		return -1;
	}
	out->prefix = max;
	if (slash) {
		if (parse_uint(slash + 1, strlen(slash + 1), 1000, &prefix) < 0) {
			*why = "bad prefix length";
			return -1;
		}
		if (prefix > (uint64_t)max) {
			*why = "prefix length out of range";
			return -1;
		}
		out->prefix = (int)prefix;
	}
	/* Clear host bits: "192.168.1.1/24" means the network. */
	for (int bit = out->prefix; bit < max; bit++)
		out->addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
	return 0;
}

/* sv_cidr_parse - see config_int.h */
int sv_cidr_parse(const char *text, sv_cidr *out)
{
	const char *why;

	return text ? cidr_parse(text, out, &why) : -1;
}

/* prefix_match - first bits of a and b agree */
static int prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[whole] ^ b[whole]) & (0xffu << (8 - rest)) & 0xffu) == 0;
}

/* sv_cidr_match - see config_int.h */
int sv_cidr_match(const sv_cidr *list, size_t n, const struct sockaddr *sa)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	unsigned char v4[4], v6[16];
	int have4 = 0, have6 = 0;

	if (sa == NULL || list == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
		memcpy(v4, &sin->sin_addr, 4);
		have4 = 1;
		memcpy(v6, mapped, 12);
		memcpy(v6 + 12, v4, 4);
		have6 = 1;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		memcpy(v6, &sin6->sin6_addr, 16);
		have6 = 1;
		if (memcmp(v6, mapped, 12) == 0) {
			memcpy(v4, v6 + 12, 4);
			have4 = 1;
		}
	} else
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (list[i].family == AF_INET && have4 &&
		    prefix_match(list[i].addr, v4, list[i].prefix))
			return 1;
		if (list[i].family == AF_INET6 && have6 &&
		    prefix_match(list[i].addr, v6, list[i].prefix))
			return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Lists                                                               */
/* ------------------------------------------------------------------ */

#define LIST_SEP ", \t"

/* next_item - split v in place at commas/blanks; NULL at the end */
static char *next_item(char **cursor)
{
	char *p = *cursor, *start;

	p += strspn(p, LIST_SEP);
	if (*p == 0)
		return NULL;
	start = p;
	p += strcspn(p, LIST_SEP);
	if (*p)
		*p++ = 0;
	*cursor = p;
	return start;
}

/* free_strv - free a NULL-terminated string vector */
static void free_strv(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* strv_push - append to a NULL-terminated vector; -1 on ENOMEM (s freed) */
static int strv_push(char ***v, size_t *n, char *s)
{
	char **nv;

	if (s == NULL || (nv = realloc(*v, (*n + 2) * sizeof(char *))) == NULL) {
		free(s);
		return -1;
	}
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

/* cmp_str - qsort/bsearch comparator over char * */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sort_unique - sort a vector and drop duplicates */
static void sort_unique(char **v, size_t n)
{
	size_t o = 0;

	if (n == 0)
		return;
	qsort(v, n, sizeof(char *), cmp_str);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(v[i], v[o]) == 0)
			free(v[i]);
		else
			v[++o] = v[i];
	}
	v[o + 1] = NULL;
}

/* sv_config_skip_domain - exact match in the sorted SkipDomains list */
int sv_config_skip_domain(const sv_config *cfg, const char *domain)
{
	size_t n = 0;

	if (cfg == NULL || cfg->skip_domains == NULL || domain == NULL)
		return 0;
	while (cfg->skip_domains[n])
		n++;
	return bsearch(&domain, cfg->skip_domains, n, sizeof(char *), cmp_str) != NULL;
}

/* read_file - whole file up to MAX_FILE bytes; NUL-terminated; errno on -1 */
static int read_file(int fd, char **data, size_t *len)
{
	size_t cap = 8192, n = 0;
	char *buf = malloc(cap + 1), *nb;
	ssize_t r;

	if (buf == NULL)
		return -1;
	for (;;) {
		if (n == cap) {
			if (cap > MAX_FILE) {
				free(buf);
				errno = EFBIG;
				return -1;
			}
			cap *= 2;
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				return -1;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > MAX_FILE) {
		free(buf);
		errno = EFBIG;
		return -1;
	}
	buf[n] = 0;
	*data = buf;
	*len = n;
	return 0;
}

/* open_read - open a regular file and read it all */
static int open_read(const char *path, char **data, size_t *len, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), rc, saved;

	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		errno = EINVAL; /* caller says "not a regular file" */
		return -1;
	}
	rc = read_file(fd, data, len);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* file_error - a readable reason for open_read's failure */
static const char *file_error(int err)
{
	if (err == EINVAL)
		return "not a regular file";
	if (err == EFBIG)
		return "file larger than 1 MiB";
	return strerror(err);
}

/* next_line - split data into lines; strips CR; NULL at the end */
static char *next_line(char **cursor, char *end, size_t *len)
{
	char *p = *cursor, *nl;

	if (p >= end)
		return NULL;
	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL)
		nl = end;
	*len = (size_t)(nl - p);
	*nl = 0;
	*cursor = nl + 1;
	if (*len > 0 && p[*len - 1] == '\r')
		p[--*len] = 0;
	return p;
}

/* trim - strip leading and trailing blanks in place */
static char *trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

/* cut_comment - end a value at a '#' that starts the line or follows a blank */
static void cut_comment(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
			*p = 0;
			return;
		}
}

/* load_domain_file - SkipDomains @FILE: one domain per line */
static int load_domain_file(ctx *c, const char *name, char ***v, size_t *n)
{
	char *path = NULL, *data = NULL, *cursor, *end, *line, out[SV_DOMAIN_MAX + 1],
	     e[MAX_ECHO * 4 + 8];
	const char *why;
	struct stat st;
	size_t len, dummy;
	unsigned lineno = 0;
	int rc = 0;

	if (c->flags & SV_CONFIG_NO_FILES) {
		report_at(c, c->name, c->line, "SkipDomains: @FILE lists are not allowed here");
		return REPORTED;
	}
	if (name[0] != '/' && c->dir) {
		if (asprintf(&path, "%s/%s", c->dir, name) < 0)
			return -1;
	} else if ((path = strdup(name)) == NULL)
		return -1;
	if (open_read(path, &data, &len, &st) < 0) {
		report_at(c, c->name, c->line, "SkipDomains: cannot read %s: %s", path,
		          file_error(errno));
		free(path);
		return REPORTED;
	}
	cursor = data;
	end = data + len;
	while ((line = next_line(&cursor, end, &dummy)) != NULL) {
		lineno++;
		if (strlen(line) != dummy) {
			report_at(c, path, lineno, "NUL byte in line");
			rc = REPORTED;
			continue;
		}
		cut_comment(line);
		line = trim(line);
		if (*line == 0)
			continue;
		if (strpbrk(line, " \t,")) {
			report_at(c, path, lineno, "one domain per line, not %s",
			          echo(line, e, sizeof(e)));
			rc = REPORTED;
		} else if (sv_domain_normalize(line, out, &why) < 0) {
			report_at(c, path, lineno, "bad domain %s: %s", echo(line, e, sizeof(e)),
			          why);
			rc = REPORTED;
		} else if (strv_push(v, n, strdup(out)) < 0) {
			rc = -1;
			break;
		}
	}
	free(data);
	free(path);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Typed parsers: 0, -1 with err, or REPORTED                         */
/* ------------------------------------------------------------------ */

/* set_str - replace a string field */
static int set_str(char **slot, const char *v, char *err, size_t errlen)
{
	char *copy = v ? strdup(v) : NULL;

	if (v && copy == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (*slot) {
		explicit_bzero(*slot, strlen(*slot));
		free(*slot);
	}
	*slot = copy;
	return 0;
}

/* parse_enum - one name of a table (case-insensitive) */
static int parse_enum(const key *k, const char *v, int *out, char *err, size_t errlen)
{
	char e[MAX_ECHO * 4 + 8], l[256];

	for (const name_val *nv = k->names; nv->name; nv++)
		if (strcasecmp(v, nv->name) == 0) {
			*out = nv->value;
			return 0;
		}
	snprintf(err, errlen, "bad value %s (expected %s)", echo(v, e, sizeof(e)),
	         names_list(k->names, l, sizeof(l)));
	return -1;
}

/* parse_bool - yes/no, true/false, on/off, 1/0 */
static int parse_bool(const char *v, bool *out, char *err, size_t errlen)
{
	static const char *yes[] = {"yes", "true", "on", "1"}, *no[] = {"no", "false", "off", "0"};
	char e[MAX_ECHO * 4 + 8];

	for (size_t i = 0; i < SV_ARRAY_LEN(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	snprintf(err, errlen, "bad value %s (expected yes or no)", echo(v, e, sizeof(e)));
	return -1;
}

/* parse_number - INT and SIZE keys */
static int parse_number(const key *k, const char *v, int64_t *out, char *err, size_t errlen)
{
	char e[MAX_ECHO * 4 + 8];
	uint64_t u;

	if (parse_uint(v, strlen(v), (uint64_t)INT64_MAX, &u) < 0) {
		snprintf(err, errlen, "bad number %s (expected a whole number %lld..%lld)",
		         echo(v, e, sizeof(e)), (long long)k->min, (long long)k->max);
		return -1;
	}
	if ((int64_t)u < k->min || (int64_t)u > k->max) {
		snprintf(err, errlen, "%s out of range %lld..%lld", v, (long long)k->min,
		         (long long)k->max);
		return -1;
	}
	*out = (int64_t)u;
	return 0;
}

/* parse_duration_key - DUR keys with their range */
static int parse_duration_key(const key *k, const char *v, int64_t *out, char *err, size_t errlen)
{
	char e[MAX_ECHO * 4 + 8], lo[32], hi[32];
	int64_t ms;

	if (sv_duration_parse(v, &ms) < 0) {
		snprintf(err, errlen,
		         "bad duration %s (expected a number with unit ms, s, m, h or d)",
		         echo(v, e, sizeof(e)));
		return -1;
	}
	if (ms < k->min || ms > k->max) {
		sv_duration_format(k->min, lo, sizeof(lo));
		sv_duration_format(k->max, hi, sizeof(hi));
		snprintf(err, errlen, "%s out of range %s..%s", v, lo, hi);
		return -1;
	}
	*out = ms;
	return 0;
}

/* parse_flags - CheckFrom: comma list of names */
static int parse_flags(const key *k, char *v, unsigned *out, char *err, size_t errlen)
{
	unsigned bits = 0;
	char *item, *cur = v;
	int value;

	while ((item = next_item(&cur)) != NULL) {
		if (parse_enum(k, item, &value, err, errlen) < 0)
			return -1;
		bits |= (unsigned)value;
	}
	*out = bits;
	return 0;
}

/* is_daemon_name - Postfix milter_macro_daemon_name / Sendmail Name= */
static int is_daemon_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* parse_outgoing - auth, internal, all, daemon:NAME... */
static int parse_outgoing(ctx *c, const key *k, char *v)
{
	char *item, *cur = v, **names = NULL, e[MAX_ECHO * 4 + 8];
	unsigned bits = 0;
	size_t n = 0;
	int rc = 0;

	while ((item = next_item(&cur)) != NULL) {
		if (strcasecmp(item, "auth") == 0)
			bits |= SV_OUT_AUTH;
		else if (strcasecmp(item, "internal") == 0)
			bits |= SV_OUT_INTERNAL;
		else if (strcasecmp(item, "all") == 0)
			bits |= SV_OUT_ALL;
		else if (strncasecmp(item, "daemon:", 7) == 0 && is_daemon_name(item + 7)) {
			bits |= SV_OUT_DAEMON;
			if (strv_push(&names, &n, strdup(item + 7)) < 0) {
				report_at(c, c->name, c->line, "%s: out of memory", k->name);
				rc = REPORTED;
				break;
			}
		} else {
			report_at(c, c->name, c->line,
			          "%s: bad value %s (expected auth, internal, daemon:NAME or all)",
			          k->name, echo(item, e, sizeof(e)));
			rc = REPORTED;
		}
	}
	if (rc != 0) {
		free_strv(names);
		return rc;
	}
	free_strv(c->cfg->daemon_names);
	c->cfg->daemon_names = names;
	c->cfg->outgoing = bits;
	return 0;
}

/* parse_cidrs - InternalHosts: every bad entry reported */
static int parse_cidrs(ctx *c, const key *k, char *v)
{
	char *item, *cur = v, e[MAX_ECHO * 4 + 8];
	sv_cidr *list = NULL, *nl;
	size_t n = 0;
	const char *why;
	int rc = 0;

	while ((item = next_item(&cur)) != NULL) {
		sv_cidr one;
		if (cidr_parse(item, &one, &why) < 0) {
			report_at(c, c->name, c->line, "%s: bad CIDR %s: %s", k->name,
			          echo(item, e, sizeof(e)), why);
			rc = REPORTED;
			continue;
		}
		if ((nl = realloc(list, (n + 1) * sizeof(*list))) == NULL) {
			report_at(c, c->name, c->line, "%s: out of memory", k->name);
			rc = REPORTED;
			break;
		}
		list = nl;
		list[n++] = one;
	}
	if (rc != 0) {
		free(list);
		return rc;
	}
	free(c->cfg->internal_hosts);
	c->cfg->internal_hosts = list;
	c->cfg->n_internal_hosts = n;
	return 0;
}

/* parse_domains - SkipDomains: inline list or @FILE */
static int parse_domains(ctx *c, const key *k, char *v)
{
	char *item, *cur = v, **list = NULL, out[SV_DOMAIN_MAX + 1], e[MAX_ECHO * 4 + 8];
	const char *why;
	size_t n = 0;
	int rc = 0;

	if (v[0] == '@') {
		if (v[1] == 0) {
			report_at(c, c->name, c->line, "%s: @ needs a file name", k->name);
			return REPORTED;
		}
		rc = load_domain_file(c, v + 1, &list, &n);
	} else {
		while ((item = next_item(&cur)) != NULL) {
			if (item[0] == '@') {
				report_at(c, c->name, c->line,
				          "%s: @FILE must be the whole value, not one list item",
				          k->name);
				rc = REPORTED;
			} else if (sv_domain_normalize(item, out, &why) < 0) {
				report_at(c, c->name, c->line, "%s: bad domain %s: %s", k->name,
				          echo(item, e, sizeof(e)), why);
				rc = REPORTED;
			} else if (strv_push(&list, &n, strdup(out)) < 0) {
				rc = -1;
				break;
			}
		}
	}
	if (rc == -1)
		report_at(c, c->name, c->line, "%s: out of memory", k->name);
	if (rc != 0) {
		free_strv(list);
		return REPORTED;
	}
	sort_unique(list, n);
	free_strv(c->cfg->skip_domains);
	c->cfg->skip_domains = list;
	return 0;
}

/* parse_ns - Nameserver: /etc/resolv.conf or ADDR[@PORT] list */
static int parse_ns(ctx *c, const key *k, char *v)
{
	char *item, *cur = v, e[MAX_ECHO * 4 + 8], err[64];
	sv_buf out;
	int rc = 0;

	if (strcmp(v, "/etc/resolv.conf") == 0)
		return set_str(field(c->cfg, k), NULL, err, sizeof(err));
	sv_buf_init(&out, 4096);
	while ((item = next_item(&cur)) != NULL) {
		char *at = strrchr(item, '@');
		size_t alen = at ? (size_t)(at - item) : strlen(item);
		if (!is_ip(item, alen, AF_UNSPEC) ||
		    (at && check_port(at + 1, strlen(at + 1)) < 0)) {
			report_at(c, c->name, c->line,
			          "%s: bad server %s (expected ADDR[@PORT] or /etc/resolv.conf)",
			          k->name, echo(item, e, sizeof(e)));
			rc = REPORTED;
			continue;
		}
		sv_buf_printf(&out, "%s%s", out.len ? "," : "", item);
	}
	if (rc == 0 && sv_buf_failed(&out)) {
		report_at(c, c->name, c->line, "%s: list too long", k->name);
		rc = REPORTED;
	}
	if (rc == 0 && set_str(field(c->cfg, k), out.data, err, sizeof(err)) < 0) {
		report_at(c, c->name, c->line, "%s: %s", k->name, err);
		rc = REPORTED;
	}
	sv_buf_free(&out);
	return rc;
}

/* parse_spf - "include:DOMAIN" or "DOMAIN", stored as include:DOMAIN */
static int parse_spf(sv_config *cfg, const key *k, const char *v, char *err, size_t errlen)
{
	char out[SV_DOMAIN_MAX + 1], full[SV_DOMAIN_MAX + 16], e[MAX_ECHO * 4 + 8];
	const char *why, *d = strncasecmp(v, "include:", 8) == 0 ? v + 8 : v;

	if (sv_domain_normalize(d, out, &why) < 0) {
		snprintf(err, errlen, "bad domain %s: %s", echo(d, e, sizeof(e)), why);
		return -1;
	}
	snprintf(full, sizeof(full), "include:%s", out);
	return set_str(field(cfg, k), full, err, errlen);
}

/* parse_value - dispatch on the key's type; value is mutable */
static int parse_value(ctx *c, const key *k, char *v, char *err, size_t errlen)
{
	sv_config *cfg = c->cfg;
	int64_t n;
	int iv;

	switch (k->type) {
	case T_STR:
		if (has_space_or_ctl(v) && k->check != check_secret_id) {
			char e[MAX_ECHO * 4 + 8];
			snprintf(err, errlen, "bad value %s (no blanks or control characters)",
			         echo(v, e, sizeof(e)));
			return -1;
		}
		if (k->check == check_facility) /* a name, case-insensitive like enums */
			for (char *p = v; *p; p++)
				*p = (char)tolower((unsigned char)*p);
		if (k->check && k->check(v, err, errlen) < 0)
			return -1;
		return set_str(field(cfg, k), v, err, errlen);
	case T_SECRET:
		for (const char *p = v; *p; p++)
			if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
				snprintf(err, errlen,
				         "contains blanks, control or non-ASCII characters");
				return -1;
			}
		return set_str(field(cfg, k), v, err, errlen);
	case T_PATH:
		if (v[0] != '/' || has_space_or_ctl(v) || strlen(v) >= 4096) {
			char e[MAX_ECHO * 4 + 8];
			snprintf(err, errlen, "bad path %s (expected an absolute path)",
			         echo(v, e, sizeof(e)));
			return -1;
		}
		return set_str(field(cfg, k), v, err, errlen);
	case T_SOCKET:
	case T_USOCKET:
		if (check_socket(v, k->type == T_USOCKET, err, errlen) < 0)
			return -1;
		return set_str(field(cfg, k), v, err, errlen);
	case T_URL:
		if (check_url(v, err, errlen) < 0)
			return -1;
		return set_str(field(cfg, k), v, err, errlen);
	case T_INT:
		if (parse_number(k, v, &n, err, errlen) < 0)
			return -1;
		*(int *)field(cfg, k) = (int)n;
		return 0;
	case T_SIZE:
		if (parse_number(k, v, &n, err, errlen) < 0)
			return -1;
		*(size_t *)field(cfg, k) = (size_t)n;
		return 0;
	case T_DUR:
		return parse_duration_key(k, v, (int64_t *)field(cfg, k), err, errlen);
	case T_BOOL:
		return parse_bool(v, (bool *)field(cfg, k), err, errlen);
	case T_ENUM:
		if (parse_enum(k, v, &iv, err, errlen) < 0)
			return -1;
		memcpy(field(cfg, k), &iv, sizeof(iv));
		return 0;
	case T_FLAGS:
		return parse_flags(k, v, (unsigned *)field(cfg, k), err, errlen);
	case T_OUTGOING:
		return parse_outgoing(c, k, v);
	case T_CIDRS:
		return parse_cidrs(c, k, v);
	case T_DOMAINS:
		return parse_domains(c, k, v);
	case T_NS:
		return parse_ns(c, k, v);
	case T_SPF:
		return parse_spf(cfg, k, v, err, errlen);
	case T_REDIS:
		if (check_redis(v, err, errlen) < 0)
			return -1;
		return set_str(field(cfg, k), v, err, errlen);
	}
	snprintf(err, errlen, "internal error: key type");
	return -1;
}

/* ------------------------------------------------------------------ */
/* Lines and files                                                    */
/* ------------------------------------------------------------------ */

/* find_key - case-insensitive table lookup; index or -1 */
static int find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcasecmp(name, keys[i].name) == 0)
			return (int)i;
	return -1;
}

/* unquote - "..." with \" and \\ in place; end set past the quote */
static int unquote(char *s, char **end)
{
	char *o = s, *p = s + 1;

	for (; *p; p++) {
		if (*p == '"') {
			*o = 0;
			*end = p + 1;
			return 0;
		}
		if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
			p++;
		*o++ = *p;
	}
	return -1;
}

/* parse_line - one "Key value" line, errors reported */
static void parse_line(ctx *c, char *line)
{
	char *p = line, *name, *value, *rest, err[900], e[MAX_ECHO * 4 + 8];
	const key *k;
	int idx, rc;

	p += strspn(p, " \t");
	if (*p == 0 || *p == '#')
		return;
	name = p;
	p += strcspn(p, " \t");
	if (*p)
		*p++ = 0;
	p += strspn(p, " \t");
	if ((idx = find_key(name)) < 0) {
		report_at(c, c->name, c->line, "unknown key %s", echo(name, e, sizeof(e)));
		return;
	}
	k = &keys[idx];
	if (*p == '"') {
		if (unquote(p, &rest) < 0) {
			report_at(c, c->name, c->line, "%s: unterminated quoted value", k->name);
			return;
		}
		rest += strspn(rest, " \t");
		if (*rest && *rest != '#') {
			report_at(c, c->name, c->line, "%s: text after the closing quote", k->name);
			return;
		}
		value = p;
	} else {
		cut_comment(p);
		value = trim(p);
	}
	if (*value == 0) {
		report_at(c, c->name, c->line, "%s: missing value", k->name);
		return;
	}
	if (c->seen[idx]) {
		report_at(c, c->name, c->line, "%s: duplicate key (first set on line %u)", k->name,
		          c->seen[idx]);
		return;
	}
	c->seen[idx] = c->line;
	err[0] = 0;
	rc = parse_value(c, k, value, err, sizeof(err));
	if (rc == -1)
		report_at(c, c->name, c->line, "%s: %s", k->name, err);
}

/* parse_text - every line of a buffer (modified in place) */
static void parse_text(ctx *c, char *data, size_t len)
{
	char *cursor = data, *end = data + len, *line;
	size_t n;

	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		cursor += 3;
	c->line = 0;
	while ((line = next_line(&cursor, end, &n)) != NULL) {
		c->line++;
		if (strlen(line) != n) {
			report_at(c, c->name, c->line, "NUL byte in line");
			continue;
		}
		if (n > MAX_LINE) {
			report_at(c, c->name, c->line, "line longer than %d bytes", MAX_LINE);
			continue;
		}
		parse_line(c, line);
	}
}

/* cross_check - relations between keys */
static void cross_check(ctx *c)
{
	const sv_config *cfg = c->cfg;
	unsigned id_line = c->seen[find_key("SecretId")], key_line = c->seen[find_key("SecretKey")],
	         tok_line = c->seen[find_key("SessionToken")];

	if (cfg->secret_key && !cfg->secret_id && key_line)
		report_at(c, c->name, key_line, "SecretKey: set without SecretId");
	if (cfg->secret_id && !cfg->secret_key && id_line)
		report_at(c, c->name, id_line, "SecretId: set without SecretKey");
	if (cfg->token && (!cfg->secret_id || !cfg->secret_key) && tok_line)
		report_at(c, c->name, tok_line, "SessionToken: set without SecretId and SecretKey");
	if ((cfg->outgoing & SV_OUT_DAEMON) && cfg->daemon_names == NULL)
		report_at(c, c->name, c->seen[find_key("Outgoing")],
		          "Outgoing: daemon: needs a NAME");
	if (cfg->check_from == 0)
		report_at(c, c->name, c->seen[find_key("CheckFrom")], "CheckFrom: empty");
}

/* apply_defaults - fill cfg from the table's default texts */
static int apply_defaults(sv_config *cfg)
{
	unsigned seen[NKEYS] = {0};
	ctx c = {.name = "(defaults)", .cfg = cfg, .seen = seen};
	char err[900], buf[256];

	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].def == NULL)
			continue;
		snprintf(buf, sizeof(buf), "%s", keys[i].def);
		if (parse_value(&c, &keys[i], buf, err, sizeof(err)) != 0)
			return -1;
	}
	return c.errors ? -1 : 0;
}

/* sv_config_defaults - see sesverify.h */
sv_config *sv_config_defaults(void)
{
	sv_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg && apply_defaults(cfg) < 0) {
		sv_config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* load_common - parse text into a fresh config; mode: file mode or 0 */
static int load_common(const char *name, char *dir, char *data, size_t len, unsigned flags,
                       mode_t mode, sv_config **out, sv_config_report_fn report, void *arg)
{
	unsigned seen[NKEYS] = {0};
	ctx c = {
	    .name = name, .dir = dir, .flags = flags, .report = report, .arg = arg, .seen = seen};

	if ((c.cfg = sv_config_defaults()) == NULL ||
	    (name && (c.cfg->path = strdup(name)) == NULL)) {
		report_at(&c, name, 0, "out of memory");
		sv_config_free(c.cfg);
		return c.errors;
	}
	parse_text(&c, data, len);
	cross_check(&c);
	if ((c.cfg->secret_key || c.cfg->token) && (mode & (S_IRGRP | S_IROTH)))
		report_at(
		    &c, name, 0,
		    "contains SecretKey but is readable by group/others (mode %04o); chmod 600",
		    (unsigned)(mode & 07777));
	else if (sv_redis_url_has_password(c.cfg->redis) && (mode & (S_IRGRP | S_IROTH)))
		report_at(&c, name, 0,
		          "contains a Redis password but is readable by group/others (mode %04o); "
		          "chmod 600",
		          (unsigned)(mode & 07777));
	if (c.errors) {
		sv_config_free(c.cfg);
		return c.errors;
	}
	*out = c.cfg;
	return 0;
}

/* sv_config_load_buffer - see config_int.h */
int sv_config_load_buffer(const char *name, const char *data, size_t len, unsigned flags,
                          sv_config **out, sv_config_report_fn report, void *arg)
{
	char *copy = malloc(len + 1);
	int rc;

	if (copy == NULL) {
		ctx c = {.report = report, .arg = arg};
		report_at(&c, name ? name : "(buffer)", 0, "out of memory");
		return 1;
	}
	memcpy(copy, data, len);
	copy[len] = 0;
	rc = load_common(name ? name : "(buffer)", NULL, copy, len, flags, 0, out, report, arg);
	explicit_bzero(copy, len);
	free(copy);
	return rc;
}

/* sv_config_read_text - see config_int.h */
int sv_config_read_text(const char *path, char **data, size_t *len, mode_t *mode,
                        sv_config_report_fn report, void *arg)
{
	ctx c = {.name = path, .report = report, .arg = arg};
	struct stat st;

	*data = NULL;
	if (path == NULL || *path == 0) {
		report_at(&c, "(config)", 0, "no configuration file name");
		return c.errors;
	}
	if (open_read(path, data, len, &st) < 0) {
		report_at(&c, path, 0, "cannot read: %s", file_error(errno));
		return c.errors;
	}
	*mode = st.st_mode;
	return 0;
}

/* sv_config_load_text - see config_int.h */
int sv_config_load_text(const char *path, const char *data, size_t len, mode_t mode,
                        sv_config **out, sv_config_report_fn report, void *arg)
{
	ctx c = {.name = path, .report = report, .arg = arg};
	char *copy, *dir, *slash;
	int rc;

	if ((dir = strdup(path)) == NULL || (copy = malloc(len + 1)) == NULL) {
		free(dir);
		report_at(&c, path, 0, "out of memory");
		return c.errors;
	}
	memcpy(copy, data, len);
	copy[len] = 0;
	if ((slash = strrchr(dir, '/')) == NULL) {
		free(dir);
		dir = NULL; /* relative to the working directory */
	} else if (slash == dir)
		slash[1] = 0;
	else
		*slash = 0;
	rc = load_common(path, dir, copy, len, 0, mode, out, report, arg);
	explicit_bzero(copy, len);
	free(copy);
	free(dir);
	return rc;
}

/* sv_config_load - see sesverify.h */
int sv_config_load(const char *path, sv_config **out, sv_config_report_fn report, void *arg)
{
	char *data = NULL;
	size_t len = 0;
	mode_t mode = 0;
	int rc;

	rc = sv_config_read_text(path, &data, &len, &mode, report, arg);
	if (rc > 0)
		return rc;
	rc = sv_config_load_text(path, data, len, mode, out, report, arg);
	explicit_bzero(data, len);
	free(data);
	return rc;
}

/* wipe_free - free a secret string */
static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* sv_config_free - see sesverify.h; secrets are wiped */
void sv_config_free(sv_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		const key *k = &keys[i];
		switch (k->type) {
		case T_STR:
		case T_SECRET:
		case T_PATH:
		case T_SOCKET:
		case T_USOCKET:
		case T_URL:
		case T_NS:
		case T_SPF:
		case T_REDIS:
			wipe_free(*(char **)field(cfg, k));
			break;
		default:
			break;
		}
	}
	free(cfg->path);
	free_strv(cfg->daemon_names);
	free_strv(cfg->skip_domains);
	free(cfg->internal_hosts);
	explicit_bzero(cfg, sizeof(*cfg));
	free(cfg);
}

/* ------------------------------------------------------------------ */
/* Dump                                                                */
/* ------------------------------------------------------------------ */

/* enum_name - name of a value in a table */
static const char *enum_name(const name_val *nv, int v)
{
	for (; nv->name; nv++)
		if (nv->value == v)
			return nv->name;
	return "?";
}

/* format_value - a key's effective value as config text */
static void format_value(const sv_config *cfg, const key *k, sv_buf *b)
{
	const void *f = cfield(cfg, k);
	char tmp[64];
	int iv;

	switch (k->type) {
	case T_SECRET:
		sv_buf_puts(b, *(char *const *)f ? "(set)" : "(not set)");
		return;
	case T_STR:
	case T_PATH:
	case T_SOCKET:
	case T_USOCKET:
	case T_URL:
	case T_SPF:
		sv_buf_puts(b, *(char *const *)f ? *(char *const *)f : "(not set)");
		return;
	case T_NS:
		sv_buf_puts(b, *(char *const *)f ? *(char *const *)f : "/etc/resolv.conf");
		return;
	case T_REDIS:
		if (*(char *const *)f) {
			char red[MAX_LINE + 8];
			sv_redis_url_redact(*(char *const *)f, red, sizeof(red));
			sv_buf_puts(b, red);
		} else {
			sv_buf_puts(b, "(not set)");
		}
		return;
	case T_INT:
		sv_buf_printf(b, "%d", *(const int *)f);
		return;
	case T_SIZE:
		sv_buf_printf(b, "%zu", *(const size_t *)f);
		return;
	case T_DUR:
		sv_duration_format(*(const int64_t *)f, tmp, sizeof(tmp));
		sv_buf_puts(b, tmp);
		return;
	case T_BOOL:
		sv_buf_puts(b, *(const bool *)f ? "yes" : "no");
		return;
	case T_ENUM:
		memcpy(&iv, f, sizeof(iv));
		sv_buf_puts(b, enum_name(k->names, iv));
		return;
	case T_FLAGS:
		for (const name_val *nv = k->names; nv->name; nv++)
			if (*(const unsigned *)f & (unsigned)nv->value)
				sv_buf_printf(b, "%s%s", b->len ? "," : "", nv->name);
		return;
	case T_OUTGOING:
		if (cfg->outgoing & SV_OUT_AUTH)
			sv_buf_printf(b, "%s%s", b->len ? "," : "", "auth");
		if (cfg->outgoing & SV_OUT_INTERNAL)
			sv_buf_printf(b, "%s%s", b->len ? "," : "", "internal");
		for (char **p = cfg->daemon_names; p && *p; p++)
			sv_buf_printf(b, "%sdaemon:%s", b->len ? "," : "", *p);
		if (cfg->outgoing & SV_OUT_ALL)
			sv_buf_printf(b, "%s%s", b->len ? "," : "", "all");
		return;
	case T_CIDRS:
		for (size_t i = 0; i < cfg->n_internal_hosts; i++) {
			char a[INET6_ADDRSTRLEN];
			const sv_cidr *ci = &cfg->internal_hosts[i];
			inet_ntop(ci->family, ci->addr, a, sizeof(a));
			sv_buf_printf(b, "%s%s/%d", i ? "," : "", a, ci->prefix);
		}
		return;
	case T_DOMAINS:
		for (char **p = cfg->skip_domains; p && *p; p++)
			sv_buf_printf(b, "%s%s", p == cfg->skip_domains ? "" : ",", *p);
		if (b->len == 0)
			sv_buf_puts(b, "(not set)");
		return;
	}
}

/* sv_config_dump - see config_int.h */
void sv_config_dump(const sv_config *cfg, FILE *fp)
{
	sv_buf b;

	sv_buf_init(&b, 0);
	for (size_t i = 0; i < NKEYS; i++) {
		sv_buf_reset(&b);
		format_value(cfg, &keys[i], &b);
		fprintf(fp, "%-16s %s\n", keys[i].name, b.data ? b.data : "");
	}
	sv_buf_free(&b);
}

/* sv_config_key_name - i-th key of the table, NULL past the end */
const char *sv_config_key_name(size_t i)
{
	return i < NKEYS ? keys[i].name : NULL;
}
