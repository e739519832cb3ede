/*
 * redis_url.c - the Redis key's URL: strict parser, redaction, and the
 *	default name of the shared budget (see redis.h).  Built with or
 *	without hiredis: the configuration checks the key either way.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"
#include "sesverify.h"

/* number - decimal digits only, no sign, no leading zero but "0", at most max */
static int number(const char *s, size_t len, long max, long *out)
{
	long v = 0;

	if (len == 0 || len > 9 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* unescape - a %XX-escaped URL part into a new string; NULL if malformed or empty */
static char *unescape(const char *s, size_t len)
{
	char *out, *o;

	if (len == 0 || (out = malloc(len + 1)) == NULL)
		return NULL;
	for (o = out; len > 0; len--, s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '%') {
			unsigned v;
			if (len < 3 || !isxdigit((unsigned char)s[1]) ||
			    !isxdigit((unsigned char)s[2]) || sscanf(s + 1, "%2x", &v) != 1 ||
			    v == 0)
				goto bad;
			*o++ = (char)v;
			s += 2;
			len -= 2;
		} else if (ch <= 0x20 || ch >= 0x7f || strchr("@/:?#[]", ch)) {
			goto bad;
		} else {
			*o++ = (char)ch;
		}
	}
	*o = 0;
	return out;
bad:
	free(out);
	return NULL;
}

/* wipe - zero and free a secret */
static void wipe(char *s)
{
	if (s) {
		volatile char *p = s;
		while (*p)
			*p++ = 0;
		free(s);
	}
}

/* sv_redis_url_clear - free the parts (the password wiped) */
void sv_redis_url_clear(sv_redis_url *url)
{
	free(url->host);
	free(url->path);
	free(url->user);
	wipe(url->password);
	memset(url, 0, sizeof(*url));
}

/* host_ok - a host name (LDH, dots) or an IPv4 address; [v6] handled by the caller */
static int host_ok(const char *s, size_t len)
{
	if (len == 0 || len > 253 || s[0] == '.' || s[0] == '-')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.' && s[i] != '_')
			return 0;
	return 1;
}

/* parse_unix - "unix:/PATH[?db=N]" */
static int parse_unix(const char *v, sv_redis_url *url, char *err, size_t errlen)
{
	const char *q = strchr(v, '?');
	size_t plen = q ? (size_t)(q - v) : strlen(v);
	long db = 0;

	if (v[0] != '/' || plen < 2 || plen >= 108) {
		snprintf(err, errlen, "unix: needs an absolute socket path of at most 107 bytes");
		return -1;
	}
	for (size_t i = 0; i < plen; i++)
		if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f) {
			snprintf(err, errlen,
			         "blank, control or non-ASCII character in the socket path");
			return -1;
		}
	if (q && (strncmp(q, "?db=", 4) != 0 ||
	          number(q + 4, strlen(q + 4), SV_REDIS_DB_MAX, &db) < 0)) {
		snprintf(err, errlen, "after the socket path only ?db=N (0-%d) may follow",
		         SV_REDIS_DB_MAX);
		return -1;
	}
	if ((url->path = strndup(v, plen)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	url->db = (int)db;
	return 0;
}

/* parse_tcp - the part after "redis://" */
static int parse_tcp(const char *v, sv_redis_url *url, char *err, size_t errlen)
{
	const char *slash = strchr(v, '/'), *end = slash ? slash : v + strlen(v), *at, *hp, *pe;
	long n;

	/* userinfo: up to the last '@' before the path */
	at = NULL;
	for (const char *p = v; p < end; p++)
		if (*p == '@')
			at = p;
	hp = v;
	if (at) {
		const char *colon = memchr(v, ':', (size_t)(at - v));
		if (colon == NULL) {
			snprintf(err, errlen,
			         "credentials must be written USER:PASSWORD@ or :PASSWORD@");
			return -1;
		}
		if (colon > v && (url->user = unescape(v, (size_t)(colon - v))) == NULL) {
			snprintf(err, errlen, "bad user name (escape reserved characters as %%XX)");
			return -1;
		}
		if ((url->password = unescape(colon + 1, (size_t)(at - colon - 1))) == NULL) {
			snprintf(err, errlen,
			         "bad or empty password (escape '@', ':', '/' and other reserved "
			         "characters as %%XX)");
			return -1;
		}
		hp = at + 1;
	}
	/* host */
	if (*hp == '[') {
		char tmp[INET6_ADDRSTRLEN + 1];
		unsigned char bin[16];
		const char *close = memchr(hp, ']', (size_t)(end - hp));
		size_t hl = close ? (size_t)(close - hp - 1) : 0;
		if (!close || hl == 0 || hl >= sizeof(tmp)) {
			snprintf(err, errlen, "bad [IPv6] host");
			return -1;
		}
		memcpy(tmp, hp + 1, hl);
		tmp[hl] = 0;
		if (inet_pton(AF_INET6, tmp, bin) != 1) {
			snprintf(err, errlen, "bad [IPv6] host");
			return -1;
		}
		url->host = strdup(tmp);
		pe = close + 1;
	} else {
		const char *colon = memchr(hp, ':', (size_t)(end - hp));
		pe = colon ? colon : end;
		if (!host_ok(hp, (size_t)(pe - hp))) {
			snprintf(err, errlen, "missing or bad host name");
			return -1;
		}
		url->host = strndup(hp, (size_t)(pe - hp));
	}
	if (url->host == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	url->port = 6379;
	if (pe < end) {
		if (*pe != ':' || number(pe + 1, (size_t)(end - pe - 1), 65535, &n) < 0 || n < 1) {
			snprintf(err, errlen, "bad port (1-65535)");
			return -1;
		}
		url->port = (int)n;
	}
	if (slash) {
		if (number(slash + 1, strlen(slash + 1), SV_REDIS_DB_MAX, &n) < 0) {
			snprintf(err, errlen,
			         "bad database after '/' (a number 0-%d, nothing else)",
			         SV_REDIS_DB_MAX);
			return -1;
		}
		url->db = (int)n;
	}
	return 0;
}

/* sv_redis_url_parse - see redis.h; 0, or -1 with err set (never quoting a password) */
int sv_redis_url_parse(const char *text, sv_redis_url *url, char *err, size_t errlen)
{
	int rc;

	memset(url, 0, sizeof(*url));
	if (strncmp(text, "redis://", 8) == 0)
		rc = parse_tcp(text + 8, url, err, errlen);
	else if (strncmp(text, "unix:", 5) == 0)
		rc = parse_unix(text + 5, url, err, errlen);
	else {
		snprintf(
		    err, errlen,
		    "expected redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or unix:/PATH[?db=N]");
		rc = -1;
	}
	if (rc < 0)
		sv_redis_url_clear(url);
	return rc;
}

/* userinfo_end - in a redis:// URL, the '@' ending the credentials, or NULL */
static const char *userinfo_end(const char *text)
{
	const char *v, *end, *at = NULL;

	if (strncmp(text, "redis://", 8) != 0)
		return NULL;
	v = text + 8;
	end = strchr(v, '/');
	if (end == NULL)
		end = v + strlen(v);
	for (const char *p = v; p < end; p++)
		if (*p == '@')
			at = p;
	return at;
}

/* sv_redis_url_has_password - the text holds a password (for the file-mode rule) */
int sv_redis_url_has_password(const char *text)
{
	const char *at = text ? userinfo_end(text) : NULL, *colon;

	if (at == NULL)
		return 0;
	colon = memchr(text + 8, ':', (size_t)(at - text - 8));
	return colon != NULL && colon + 1 < at;
}

/* sv_redis_url_redact - the URL with its password shown as "(set)" */
void sv_redis_url_redact(const char *text, char *out, size_t len)
{
	const char *at = userinfo_end(text), *colon;

	colon = at ? memchr(text + 8, ':', (size_t)(at - text - 8)) : NULL;
	if (colon == NULL)
		snprintf(out, len, "%s", text);
	else
		snprintf(out, len, "%.*s(set)%s", (int)(colon + 1 - text), text, at);
}

/* sv_redis_rl_key - REGION ":" first 16 hex digits of SHA-256(SecretId) */
int sv_redis_rl_key(const char *region, const char *secret_id, char *out, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char hex[17];

	if (!region || !secret_id ||
	    EVP_Digest(secret_id, strlen(secret_id), md, &mdlen, EVP_sha256(), NULL) != 1)
		return -1;
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return snprintf(out, len, "%s:%s", region, hex) < (int)len ? 0 : -1;
}

/* same - two optional strings equal */
static int same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* sv_redis_settings_equal - the Redis keys of a and b agree (1) */
int sv_redis_settings_equal(const sv_config *a, const sv_config *b)
{
	return same(a->redis, b->redis) && same(a->redis_prefix, b->redis_prefix) &&
	       same(a->api_rate_key, b->api_rate_key) && a->redis_timeout == b->redis_timeout &&
	       a->redis_down_api_rate == b->redis_down_api_rate;
}
