/*
 * sesapi.c - Tencent Cloud SES 2020-10-02 client: UpdateEmailIdentity and
 *	ListEmailIdentities over HTTPS, their response parsers, and the
 *	classification of API error codes.
 *	Owns the libcurl easy handle of each sv_client (one per thread,
 *	reused so that connections stay alive) and the mapping of every
 *	failure onto an sv_identity with state error and an error class.
 *	Does not own signing (tc3sign.c), JSON syntax (json.c), credentials
 *	(credentials.c), rate limiting or retries (the refresher decides what
 *	to do with an error class).
 *	Secrets: the key, token and Authorization header are never logged or
 *	put into an error message; curl's verbose mode is never enabled.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "buf.h"
#include "credentials.h"
#include "json.h"
#include "log.h"
#include "sesapi.h"
#include "stats.h"
#include "tc3sign.h"

#define DEFAULT_ENDPOINT   "https://ses.tencentcloudapi.com"
#define DEFAULT_REGION     "ap-guangzhou"
#define DEFAULT_TIMEOUT_MS 5000
#define CONTENT_TYPE       "application/json"

struct sv_client {
	CURL *curl;
	sv_endpoint ep;
	char *region;
	char *ca_file; /* CAFile, or NULL: the system store */
	sv_credentials cred;
	long timeout_ms;
	sv_buf resp;
	char errbuf[CURL_ERROR_SIZE];
	int sends;              /* times libcurl was about to send the current request */
	int resends;            /* of those, re-sends granted by the pacer */
	const sv_pacer *resend; /* grants libcurl's own re-sends; NULL: libcurl's way */
	const int *stop;        /* non-zero: abandon the request in flight (stopping) */
};

/* ------------------------------------------------------------------ */
/* Error classification                                               */
/* ------------------------------------------------------------------ */

/* code_is - code equals base or is a sub-code of it ("base.X") */
static int code_is(const char *code, const char *base)
{
	size_t n = strlen(base);

	return strncmp(code, base, n) == 0 && (code[n] == 0 || code[n] == '.');
}

/*
 * sv_error_classify - what the refresher should do about an error code
 *	AuthFailure.SignatureExpire is a configuration error: the host clock
 *	is more than 5 minutes off, and retrying with the same clock fails
 *	the same way.  Our own Transport.* and Parse.* codes are retryable.
 */
sv_error_class sv_error_classify(const char *code)
{
	static const char *const rate[] = {"RequestLimitExceeded", "LimitExceeded"};
	static const char *const retry[] = {"FailedOperation.ServiceNotAvailable",
	                                    "InternalError",
	                                    "ServiceUnavailable",
	                                    "ResourceUnavailable",
	                                    "Transport",
	                                    "Parse"};
	static const char *const config[] = {
	    "AuthFailure",           "MissingParameter",      "InvalidParameter",
	    "InvalidParameterValue", "UnauthorizedOperation", "InvalidAction",
	    "UnsupportedRegion",     "NoSuchVersion",         "IpNotInWhitelist",
	    "OperationDenied",       "UnknownParameter",      "NoSuchProduct",
	    "ActionOffline",         "UnsupportedProtocol"};

	if (code == NULL || *code == 0)
		return SV_ECLASS_NONE;
	if (strcmp(code, "InvalidParameterValue.NotExistDomain") == 0)
		return SV_ECLASS_NOT_EXIST;
	for (size_t i = 0; i < SV_ARRAY_LEN(rate); i++)
		if (code_is(code, rate[i]))
			return SV_ECLASS_RATE_LIMITED;
	for (size_t i = 0; i < SV_ARRAY_LEN(retry); i++)
		if (code_is(code, retry[i]))
			return SV_ECLASS_RETRYABLE;
	for (size_t i = 0; i < SV_ARRAY_LEN(config); i++)
		if (code_is(code, config[i]))
			return SV_ECLASS_CONFIG;
	return SV_ECLASS_PERMANENT; /* FailedOperation.DKIMNotApplied and the unknown */
}

/* sv_error_class_name - stable names for logs and JSON */
const char *sv_error_class_name(sv_error_class cls)
{
	switch (cls) {
	case SV_ECLASS_NONE:
		return "none";
	case SV_ECLASS_RETRYABLE:
		return "retryable";
	case SV_ECLASS_RATE_LIMITED:
		return "rate_limited";
	case SV_ECLASS_NOT_EXIST:
		return "not_exist";
	case SV_ECLASS_CONFIG:
		return "config";
	case SV_ECLASS_PERMANENT:
		return "permanent";
	}
	return "invalid";
}

/* ------------------------------------------------------------------ */
/* Results                                                            */
/* ------------------------------------------------------------------ */

static void set_error(sv_identity *out, const char *code, sv_error_class cls, const char *fmt, ...)
    SV_PRINTF(4, 5);

/* set_error - state error with our own or the API's code and a message */
static void set_error(sv_identity *out, const char *code, sv_error_class cls, const char *fmt, ...)
{
	va_list ap;
	char msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out->state = SV_STATE_ERROR;
	out->verified = false;
	snprintf(out->error_code, sizeof(out->error_code), "%s", code);
	out->error_class = cls;
	free(out->error_message);
	out->error_message = strdup(msg);
}

/* reset_result - drop what a previous parse left, keep domain and status */
static void reset_result(sv_identity *out)
{
	sv_attrs_free(out->attrs, out->nattrs);
	free(out->error_message);
	out->attrs = NULL;
	out->nattrs = 0;
	out->error_message = NULL;
	out->error_code[0] = 0;
	out->error_class = SV_ECLASS_NONE;
	out->request_id[0] = 0;
	out->identity_type[0] = 0;
	out->verified = false;
	out->state = SV_STATE_UNKNOWN;
}

/* ------------------------------------------------------------------ */
/* Response parsing                                                   */
/* ------------------------------------------------------------------ */

typedef struct pctx {
	const sv_json *doc;
	char *why;
	size_t whylen;
} pctx;

static int bad(pctx *p, const char *fmt, ...) SV_PRINTF(2, 3);

/* bad - record why a body is not a valid answer; always -1 */
static int bad(pctx *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->why, p->whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * scrub - replace control characters in text taken from a response
 *	These strings end up in log lines, SMTP reply text and tables; a
 *	decoded \r\n from the server must not become a line break there.
 */
static void scrub(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* shorten - cut s to at most max bytes (ending in "...") on a UTF-8 boundary */
static void shorten(char *s, size_t max)
{
	size_t cut;

	if (strlen(s) <= max)
		return;
	cut = max - 3;
	while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
		cut--; /* do not split a multi-byte character */
	memcpy(s + cut, "...", 4);
}

/* field - key of obj, which must have the type (optional: missing or null is -1 without error) */
static int field(pctx *p, int obj, const char *key, sv_json_type type, int required, int *tok)
{
	int t = sv_json_get(p->doc, obj, key);
	sv_json_type got;

	*tok = -1;
	if (t == SV_JSON_DUPLICATE)
		return bad(p, "duplicate key %s", key);
	if (t < 0 || (!required && sv_json_type_of(p->doc, t) == SV_JSON_NULL))
		return required ? bad(p, "missing %s", key) : 0;
	if ((got = sv_json_type_of(p->doc, t)) != type)
		return bad(p, "%s is %s, expected %s", key, sv_json_type_name(got),
		           sv_json_type_name(type));
	*tok = t;
	return 0;
}

/* str_field - a string field into buf (size bytes) */
static int str_field(pctx *p, int obj, const char *key, int required, char *buf, size_t size)
{
	int t;

	buf[0] = 0;
	if (field(p, obj, key, SV_JSON_STRING, required, &t) < 0)
		return -1;
	if (t >= 0 && sv_json_get_string_buf(p->doc, t, buf, size) < 0)
		return bad(p, "%s is invalid or longer than %zu bytes", key, size - 1);
	scrub(buf);
	return 0;
}

/* dup_field - a string field, malloc'd ("" when optional and absent) */
static int dup_field(pctx *p, int obj, const char *key, int required, char **out)
{
	int t;

	*out = NULL;
	if (field(p, obj, key, SV_JSON_STRING, required, &t) < 0)
		return -1;
	if (t < 0)
		return (*out = strdup("")) ? 0 : bad(p, "out of memory");
	if (sv_json_get_string(p->doc, t, SV_API_VALUE_MAX, out) < 0)
		return bad(p, "%s is invalid or longer than %d bytes", key, SV_API_VALUE_MAX);
	scrub(*out);
	return 0;
}

/* bool_field - a boolean field */
static int bool_field(pctx *p, int obj, const char *key, int required, bool *out)
{
	int t;

	*out = false;
	if (field(p, obj, key, SV_JSON_BOOL, required, &t) < 0)
		return -1;
	if (t >= 0 && sv_json_get_bool(p->doc, t, out) < 0)
		return bad(p, "%s is not a boolean", key);
	return 0;
}

/* parse_attr - one DNSAttributes object */
static int parse_attr(pctx *p, int obj, sv_attr *a)
{
	if (sv_json_type_of(p->doc, obj) != SV_JSON_OBJECT)
		return bad(p, "Attributes element is not an object");
	if (str_field(p, obj, "Type", 1, a->type, sizeof(a->type)) < 0 ||
	    dup_field(p, obj, "SendDomain", 1, &a->send_domain) < 0 ||
	    dup_field(p, obj, "ExpectedValue", 1, &a->expected) < 0 ||
	    dup_field(p, obj, "CurrentValue", 0, &a->current) < 0 ||
	    bool_field(p, obj, "Status", 1, &a->status) < 0)
		return -1;
	return 0;
}

/* parse_attrs - the Attributes array (optional) */
static int parse_attrs(pctx *p, int resp, sv_identity *out)
{
	int arr, n, i, k = 0;

	if (field(p, resp, "Attributes", SV_JSON_ARRAY, 0, &arr) < 0)
		return -1;
	if (arr < 0 || (n = sv_json_size(p->doc, arr)) == 0)
		return 0;
	if (n > SV_API_MAX_ATTRS)
		return bad(p, "%d Attributes, more than %d", n, SV_API_MAX_ATTRS);
	if ((out->attrs = calloc((size_t)n, sizeof(*out->attrs))) == NULL)
		return bad(p, "out of memory");
	for (i = sv_json_next(p->doc, arr, -1); i >= 0; i = sv_json_next(p->doc, arr, i)) {
		out->nattrs = (size_t)k + 1; /* so that a partial element is freed */
		if (parse_attr(p, i, &out->attrs[k++]) < 0)
			return -1;
	}
	return 0;
}

/* parse_api_error - Response.Error {Code, Message} */
static int parse_api_error(pctx *p, int err, sv_identity *out)
{
	char *msg = NULL;
	int t;

	if (sv_json_type_of(p->doc, err) != SV_JSON_OBJECT)
		return bad(p, "Error is not an object");
	if (str_field(p, err, "Code", 1, out->error_code, sizeof(out->error_code)) < 0)
		return -1;
	if (out->error_code[0] == 0)
		return bad(p, "empty Error.Code");
	if (field(p, err, "Message", SV_JSON_STRING, 0, &t) < 0)
		return -1;
	if (t >= 0 && sv_json_get_string(p->doc, t, 0, &msg) < 0)
		return bad(p, "Error.Message is not valid text");
	if (msg) {
		shorten(msg, SV_API_MESSAGE_MAX);
		scrub(msg);
	}
	out->error_message = msg ? msg : strdup("");
	out->error_class = sv_error_classify(out->error_code);
	out->state = out->error_class == SV_ECLASS_NOT_EXIST ? SV_STATE_NOT_EXIST : SV_STATE_ERROR;
	out->verified = false;
	return 0;
}

/* response_object - the Response object, RequestId and a possible Error */
static int response_object(pctx *p, sv_identity *out, int *resp, int *err)
{
	if (field(p, 0, "Response", SV_JSON_OBJECT, 1, resp) < 0)
		return -1;
	if (str_field(p, *resp, "RequestId", 0, out->request_id, sizeof(out->request_id)) < 0)
		return -1;
	return field(p, *resp, "Error", SV_JSON_OBJECT, 0, err);
}

/* parse_update_doc - UpdateEmailIdentity / GetEmailIdentity answer */
static int parse_update_doc(pctx *p, sv_identity *out)
{
	int resp, err;
	bool v;

	if (response_object(p, out, &resp, &err) < 0)
		return -1;
	if (err >= 0)
		return parse_api_error(p, err, out);
	if (str_field(p, resp, "IdentityType", 0, out->identity_type, sizeof(out->identity_type)) <
	        0 ||
	    bool_field(p, resp, "VerifiedForSendingStatus", 1, &v) < 0 ||
	    parse_attrs(p, resp, out) < 0)
		return -1;
	out->verified = v;
	out->state = v ? SV_STATE_VERIFIED : SV_STATE_UNVERIFIED;
	return 0;
}

/* http_failure - a non-200 answer: keep the API's code when the body had one */
static void http_failure(sv_identity *out, long status, const char *origin, int have_api_error)
{
	char code[SV_ECODE_MAX], *msg = out->error_message;
	sv_error_class cls = SV_ECLASS_RETRYABLE;

	if (have_api_error && out->error_code[0]) {
		snprintf(code, sizeof(code), "%s", out->error_code);
		if (sv_error_classify(code) == SV_ECLASS_RATE_LIMITED)
			cls = SV_ECLASS_RATE_LIMITED;
	} else {
		snprintf(code, sizeof(code), "Transport.HTTP%ld", status);
		msg = NULL;
	}
	out->error_message = NULL;
	set_error(out, code, cls, "HTTP %ld from %s%s%s", status, origin, msg ? ": " : "",
	          msg ? msg : "");
	free(msg);
}

/* parse_update - body to result; origin names the server in messages */
static int parse_update(const char *body, size_t len, long status, const char *origin,
                        sv_identity *out)
{
	char why[256] = "", jerr[160] = "";
	sv_json *doc = NULL;
	pctx p = {NULL, why, sizeof(why)};
	int rc = -1, ok;

	reset_result(out);
	out->http_status = status;
	ok = sv_json_parse(body ? body : "", body ? len : 0, SV_API_BODY_MAX, &doc, jerr,
	                   sizeof(jerr)) == 0;
	if (ok) {
		p.doc = doc;
		ok = parse_update_doc(&p, out) == 0;
	} else {
		snprintf(why, sizeof(why), "%s", jerr);
	}
	if (status != 200 && status != 0) {
		http_failure(out, status, origin, ok && out->error_code[0]);
	} else if (!ok) {
		reset_result(out);
		set_error(out, "Parse.InvalidResponse", SV_ECLASS_RETRYABLE,
		          "invalid API response from %s: %s", origin, why);
	} else {
		rc = 0;
	}
	if (rc < 0) {
		/* a failed parse must not leave half an answer behind */
		out->state = SV_STATE_ERROR;
		out->verified = false;
	}
	sv_json_free(doc);
	return rc;
}

/* sv_sesapi_parse_update - parse without a network (tests, fuzzer) */
int sv_sesapi_parse_update(const char *body, size_t len, long http_status, sv_identity *out)
{
	return parse_update(body, len, http_status, "the API", out);
}

/* list_item - one EmailIdentity element; appended when its name is valid */
static int list_item(pctx *p, int obj, sv_listed **items, size_t *n)
{
	char raw[SV_DOMAIN_MAX * 4 + 1], norm[SV_DOMAIN_MAX + 1];
	const char *why = NULL;
	sv_listed *grown;
	bool enabled;

	if (sv_json_type_of(p->doc, obj) != SV_JSON_OBJECT)
		return bad(p, "EmailIdentities element is not an object");
	if (str_field(p, obj, "IdentityName", 1, raw, sizeof(raw)) < 0 ||
	    bool_field(p, obj, "SendingEnabled", 0, &enabled) < 0)
		return -1;
	if (sv_domain_normalize(raw, norm, &why) < 0) {
		sv_log(SV_LOG_WARNING, "api: ListEmailIdentities: skipping identity: %s", why);
		return 0;
	}
	if ((grown = realloc(*items, (*n + 1) * sizeof(**items))) == NULL)
		return bad(p, "out of memory");
	*items = grown;
	memcpy(grown[*n].name, norm, sizeof(norm));
	grown[*n].sending_enabled = enabled;
	(*n)++;
	return 0;
}

/* parse_list_doc - one page; returns the element count */
static int parse_list_doc(pctx *p, sv_identity *err, sv_listed **items, size_t *n, long long *total)
{
	int resp, e, arr, t, count = 0;

	if (response_object(p, err, &resp, &e) < 0)
		return -1;
	if (e >= 0)
		return parse_api_error(p, e, err) < 0 ? -1 : -2;
	/* missing or null is not "no identities": never an authoritative list */
	if (field(p, resp, "EmailIdentities", SV_JSON_ARRAY, 1, &arr) < 0 ||
	    field(p, resp, "Total", SV_JSON_NUMBER, 0, &t) < 0)
		return -1;
	*total = -1;
	if (t >= 0 && (sv_json_get_int(p->doc, t, total) < 0 || *total < 0))
		return bad(p, "Total is not a non-negative integer");
	for (int i = sv_json_next(p->doc, arr, -1); i >= 0; i = sv_json_next(p->doc, arr, i)) {
		if (list_item(p, i, items, n) < 0)
			return -1;
		count++;
	}
	return count;
}

/* parse_list - body of one ListEmailIdentities page */
static int parse_list(const char *body, size_t len, long status, const char *origin,
                      sv_listed **items, size_t *n, long long *total, sv_identity *err)
{
	char why[256] = "", jerr[160] = "";
	sv_json *doc = NULL;
	pctx p = {NULL, why, sizeof(why)};
	int rc;

	reset_result(err);
	err->http_status = status;
	*total = -1;
	if (sv_json_parse(body ? body : "", body ? len : 0, SV_API_BODY_MAX, &doc, jerr,
	                  sizeof(jerr)) == 0) {
		p.doc = doc;
		rc = parse_list_doc(&p, err, items, n, total);
	} else {
		snprintf(why, sizeof(why), "%s", jerr);
		rc = -1;
	}
	if (status != 200 && status != 0) {
		http_failure(err, status, origin, rc == -2);
		rc = -1;
	} else if (rc == -1) {
		reset_result(err);
		set_error(err, "Parse.InvalidResponse", SV_ECLASS_RETRYABLE,
		          "invalid API response from %s: %s", origin, why);
	} else if (rc == -2) {
		err->state = SV_STATE_ERROR; /* even NotExistDomain: a list has no domain */
		rc = -1;
	}
	sv_json_free(doc);
	return rc;
}

/* sv_sesapi_parse_list - parse one page without a network */
int sv_sesapi_parse_list(const char *body, size_t len, long http_status, sv_listed **items,
                         size_t *n, long long *total, sv_identity *err)
{
	return parse_list(body, len, http_status, "the API", items, n, total, err);
}

/* ------------------------------------------------------------------ */
/* Endpoint                                                           */
/* ------------------------------------------------------------------ */

/* host_char - characters of a DNS name or IPv4 literal */
static int host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

/* split_authority - host (lower case, brackets kept for IPv6) and port */
static int split_authority(const char *a, size_t alen, char *host, size_t hsize, long *port)
{
	size_t hlen;
	const char *colon = NULL, *p;

	if (alen && a[0] == '[') {
		const char *close = memchr(a, ']', alen);
		if (close == NULL)
			return -1;
		for (p = a + 1; p < close; p++)
			if (!(host_char((char)(*p | 0x20)) || *p == ':'))
				return -1;
		hlen = (size_t)(close - a) + 1;
		if (hlen < alen)
			colon = a + hlen;
	} else {
		colon = memchr(a, ':', alen);
		hlen = colon ? (size_t)(colon - a) : alen;
	}
	if (hlen == 0 || hlen >= hsize)
		return -1;
	for (size_t i = 0; i < hlen; i++) {
		char c = a[i];
		host[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		if (a[0] != '[' && !host_char(host[i]))
			return -1;
	}
	host[hlen] = 0;
	*port = 443;
	if (colon) {
		char *end;
		if (*colon != ':' || colon + 1 >= a + alen)
			return -1;
		*port = strtol(colon + 1, &end, 10);
		if (end != a + alen || *port < 1 || *port > 65535 || colon[1] == '+' ||
		    colon[1] == '-')
			return -1;
	}
	return 0;
}

/* service_of - first label of a tencentcloudapi.com host; "ses" otherwise (emulators, proxies) */
static void service_of(const char *host, char *out, size_t size)
{
	static const char suffix[] = ".tencentcloudapi.com";
	size_t hl = strlen(host), sl = sizeof(suffix) - 1;
	const char *dot = strchr(host, '.');

	if (hl > sl && strcmp(host + hl - sl, suffix) == 0 && dot && (size_t)(dot - host) < size) {
		memcpy(out, host, (size_t)(dot - host));
		out[dot - host] = 0;
		return;
	}
	snprintf(out, size, "ses");
}

/* sv_sesapi_endpoint - "https://HOST[:PORT][/]" only: API 3.0 always posts to "/" */
int sv_sesapi_endpoint(const char *url, sv_endpoint *ep, char *err, size_t errlen)
{
	static const char scheme[] = "https://";
	char host[256];
	const char *a, *rest;
	long port;

	memset(ep, 0, sizeof(*ep));
	if (url == NULL || strncasecmp(url, scheme, sizeof(scheme) - 1) != 0) {
		snprintf(err, errlen, "Endpoint %s: must start with https://",
		         url ? url : "(null)");
		return -1;
	}
	a = url + sizeof(scheme) - 1;
	rest = a + strcspn(a, "/?#");
	if (*rest && strcmp(rest, "/") != 0) {
		snprintf(err, errlen, "Endpoint %s: no path, query or fragment allowed", url);
		return -1;
	}
	if (memchr(a, '@', (size_t)(rest - a)) ||
	    split_authority(a, (size_t)(rest - a), host, sizeof(host), &port) < 0) {
		snprintf(err, errlen, "Endpoint %s: bad host or port", url);
		return -1;
	}
	/* curl leaves :443 out of Host; we set Host ourselves and sign that same text */
	if (port == 443)
		snprintf(ep->host, sizeof(ep->host), "%s", host);
	else
		snprintf(ep->host, sizeof(ep->host), "%s:%ld", host, port);
	snprintf(ep->url, sizeof(ep->url), "https://%s/", ep->host);
	service_of(host, ep->service, sizeof(ep->service));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Client                                                             */
/* ------------------------------------------------------------------ */

/* write_cb - append to the capped response buffer; a short count aborts the transfer */
static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	sv_buf *b = arg;
	size_t n = size * nmemb;

	if (sv_buf_append(b, data, n) < 0)
		return 0;
	return n;
}

static void count(const char *name);

/*
 * prereq_cb - libcurl is about to send the request on a connection
 *	When a reused connection dies before the first byte of the answer,
 *	libcurl sends the request again on a new connection by itself.  The
 *	first copy may well have reached the server (reset after reading it),
 *	so the copy is one more request for the account's rate.  With a
 *	resend pacer the copy needs a grant of its own; when the pacer
 *	refuses (shutting down) it is not sent and the call fails as
 *	Transport.Connection.  Without one, libcurl's behaviour is kept: the
 *	public API documents that a call may reach the server twice.
 */
static int prereq_cb(void *arg, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	sv_client *c = arg;

	(void)primary_ip;
	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	if (c->sends++ == 0)
		return CURL_PREREQFUNC_OK;
	count("api.resends");
	if (!c->resend)
		return CURL_PREREQFUNC_OK;
	if (!c->resend->before || c->resend->before(c->resend->arg) < 0)
		return CURL_PREREQFUNC_ABORT;
	c->resends++;
	return CURL_PREREQFUNC_OK;
}

/* progress_cb - abandon the transfer once the owner is stopping */
static int progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	sv_client *c = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return c->stop && sv_atomic_load(c->stop) ? 1 : 0;
}

/*
 * sv_client_set_stop_flag - a request in flight is abandoned (within about
 *	a second) once *stop becomes non-zero, so that a stop does not wait
 *	for ApiTimeout on a hanging server; NULL: never
 */
void sv_client_set_stop_flag(sv_client *c, const int *stop)
{
	if (c)
		c->stop = stop;
}

/* sv_client_set_resend_pacer - who grants libcurl's re-sends (NULL: libcurl alone) */
void sv_client_set_resend_pacer(sv_client *c, const sv_pacer *p)
{
	if (c)
		c->resend = p;
}

/* setup_handle - options that stay the same for every call */
static int setup_handle(sv_client *c, const sv_config *cfg)
{
	long connect_ms = c->timeout_ms < 3000 ? c->timeout_ms : 3000;
	CURLcode rc = CURLE_OK;

#define SETOPT(o, v)                                                                               \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(c->curl, o, v);                                      \
	} while (0)
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_URL, c->ep.url);
	SETOPT(CURLOPT_TIMEOUT_MS, c->timeout_ms);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	SETOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(CURLOPT_PROTOCOLS_STR, "https");
#else
	SETOPT(CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
	SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(CURLOPT_WRITEDATA, &c->resp);
	SETOPT(CURLOPT_POST, 1L);
	SETOPT(CURLOPT_USERAGENT, "sesverify/" PACKAGE_VERSION);
	SETOPT(CURLOPT_PREREQFUNCTION, prereq_cb);
	SETOPT(CURLOPT_PREREQDATA, c);
	SETOPT(CURLOPT_XFERINFOFUNCTION, progress_cb);
	SETOPT(CURLOPT_XFERINFODATA, c);
	SETOPT(CURLOPT_NOPROGRESS, 0L);
	if (cfg->ca_file) {
		/* CAFile replaces the system store: libcurl's built-in CA
		 * directory (Debian: /etc/ssl/certs) is dropped too */
		SETOPT(CURLOPT_CAINFO, cfg->ca_file);
		SETOPT(CURLOPT_CAPATH, NULL);
	}
#undef SETOPT
	return rc == CURLE_OK ? 0 : -1;
}

/* sv_client_new - resolve credentials, parse Endpoint, make the easy handle */
sv_client *sv_client_new(const sv_config *cfg, char *err, size_t errlen)
{
	sv_client *c;

	if (cfg == NULL) {
		snprintf(err, errlen, "no configuration");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sv_buf_init(&c->resp, SV_API_BODY_MAX);
	if (sv_sesapi_endpoint(cfg->endpoint ? cfg->endpoint : DEFAULT_ENDPOINT, &c->ep, err,
	                       errlen) < 0)
		goto fail;
	if (sv_credentials_resolve(cfg, &c->cred, err, errlen) < 0)
		goto fail;
	/* 0 or unset: the default; absurd values are capped at 10 minutes */
	c->timeout_ms = cfg->api_timeout <= 0       ? DEFAULT_TIMEOUT_MS
	                : cfg->api_timeout > 600000 ? 600000
	                                            : (long)cfg->api_timeout;
	if ((c->region = strdup(cfg->region ? cfg->region : DEFAULT_REGION)) == NULL ||
	    (cfg->ca_file && (c->ca_file = strdup(cfg->ca_file)) == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((c->curl = curl_easy_init()) == NULL || setup_handle(c, cfg) < 0) {
		snprintf(err, errlen, "cannot set up libcurl (was sv_library_init called?)");
		goto fail;
	}
	sv_log(SV_LOG_DEBUG, "api: client for %s (service %s, region %s, credentials from %s)",
	       c->ep.url, c->ep.service, c->region, sv_cred_source_name(c->cred.source));
	return c;
fail:
	sv_client_free(c);
	return NULL;
}

/* sv_client_free - close connections, wipe credentials */
void sv_client_free(sv_client *c)
{
	if (c == NULL)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	sv_credentials_clear(&c->cred);
	sv_buf_free(&c->resp);
	free(c->region);
	free(c->ca_file);
	free(c);
}

/* transport_code - our Transport.* code for a curl failure */
static const char *transport_code(CURLcode rc, const sv_buf *resp)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return "Transport.Timeout";
	case CURLE_COULDNT_CONNECT:
		return "Transport.ConnectFailed";
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return "Transport.Resolve";
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_INITFAILED:
		return "Transport.TLS";
	case CURLE_WRITE_ERROR:
		return sv_buf_failed(resp) ? "Transport.ResponseTooLarge" : "Transport.Error";
	case CURLE_ABORTED_BY_CALLBACK: /* prereq_cb: the connection died, no re-send */
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return "Transport.Connection";
	default:
		return "Transport.Error";
	}
}

/* add_header - append one "Name: value" line */
static int add_header(struct curl_slist **h, const char *name, const char *value)
{
	char line[2048];
	struct curl_slist *n;

	if ((size_t)snprintf(line, sizeof(line), "%s: %s", name, value) >= sizeof(line))
		return -1;
	if ((n = curl_slist_append(*h, line)) == NULL)
		return -1;
	*h = n;
	explicit_bzero(line, sizeof(line)); /* may have held the Authorization value */
	return 0;
}

/* free_headers - wipe (Authorization, X-TC-Token) and free the header list */
static void free_headers(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

/* build_headers - exactly the headers that were signed, plus the unsigned X-TC-* ones */
static struct curl_slist *build_headers(sv_client *c, const char *action, int64_t ts,
                                        const char *authorization)
{
	struct curl_slist *h = NULL;
	char tsbuf[32];
	int bad = 0;

	snprintf(tsbuf, sizeof(tsbuf), "%lld", (long long)ts);
	bad |= add_header(&h, "Content-Type", CONTENT_TYPE);
	bad |= add_header(&h, "Host", c->ep.host);
	bad |= add_header(&h, "X-TC-Action", action);
	bad |= add_header(&h, "X-TC-Version", SV_API_VERSION);
	bad |= add_header(&h, "X-TC-Region", c->region);
	bad |= add_header(&h, "X-TC-Timestamp", tsbuf);
	bad |= add_header(&h, "X-TC-RequestClient", "sesverify/" PACKAGE_VERSION);
	bad |= add_header(&h, "Authorization", authorization);
	if (c->cred.token)
		bad |= add_header(&h, "X-TC-Token", c->cred.token);
	bad |= add_header(&h, "Expect", ""); /* no 100-continue round trip */
	if (bad) {
		free_headers(h);
		return NULL;
	}
	return h;
}

/* call - sign and POST one request; the body lands in c->resp */
static int call(sv_client *c, const char *action, const sv_buf *body, long *status,
                sv_identity *out)
{
	sv_tc3_input in = {0};
	sv_tc3_result sig;
	struct curl_slist *h;
	char err[256];
	long conns = 0;
	CURLcode rc;

	*status = 0;
	in.secret_id = c->cred.secret_id;
	in.secret_key = c->cred.secret_key;
	in.service = c->ep.service;
	in.host = c->ep.host;
	in.content_type = CONTENT_TYPE;
	in.action = action;
	in.payload = body->data;
	in.payload_len = body->len;
	in.timestamp = (int64_t)time(NULL);
	if (sv_tc3_sign(&in, &sig, err, sizeof(err)) < 0) {
		set_error(out, "Client.SigningFailed", SV_ECLASS_CONFIG, "%s", err);
		return -1;
	}
	h = build_headers(c, action, in.timestamp, sig.authorization);
	sv_tc3_result_clear(&sig);
	if (h == NULL) {
		set_error(out, "Client.OutOfMemory", SV_ECLASS_RETRYABLE, "cannot build headers");
		return -1;
	}
	sv_buf_reset(&c->resp);
	c->errbuf[0] = 0;
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body->data);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)body->len);
	c->sends = c->resends = 0;
	rc = curl_easy_perform(c->curl);
	/* each granted re-send has its answer (or failure) now */
	for (; c->resends > 0; c->resends--)
		if (c->resend->after)
			c->resend->after(c->resend->arg);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
	free_headers(h);
	if (rc != CURLE_OK) {
		const char *code = transport_code(rc, &c->resp);
		int tls_ca = c->ca_file && strcmp(code, "Transport.TLS") == 0;

		set_error(
		    out, code, SV_ECLASS_RETRYABLE, "%s %s: %s%s%s%s", action, c->ep.url,
		    rc == CURLE_WRITE_ERROR && sv_buf_failed(&c->resp)
		        ? "response larger than 1 MiB"
		    : rc == CURLE_ABORTED_BY_CALLBACK && c->stop && *c->stop ? "abandoned: stopping"
		    : rc == CURLE_ABORTED_BY_CALLBACK
		        ? "connection closed before the answer (not sent again: stopping)"
		    : c->errbuf[0] ? c->errbuf
		                   : curl_easy_strerror(rc),
		    tls_ca ? " (trusted: only the CA certificates in CAFile " : "",
		    tls_ca ? c->ca_file : "", tls_ca ? ", which replaces the system store)" : "");
		return -1;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	if (curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK && conns > 0)
		sv_stat_inc(sv_stat_counter("api.connections"), (uint64_t)conns); /* 0 = reused */
	return 0;
}

/* count - bump a named counter */
static void count(const char *name)
{
	sv_stat_inc(sv_stat_counter(name), 1);
}

/* note_error - counters and one log line for a failed call (never the secret) */
static void note_error(const char *action, const char *what, const sv_identity *r)
{
	count("api.errors");
	if (r->error_class == SV_ECLASS_RATE_LIMITED)
		count("api.errors.rate_limited");
	if (strncmp(r->error_code, "Transport.", 10) == 0)
		count("api.errors.transport");
	if (strncmp(r->error_code, "Parse.", 6) == 0)
		count("api.errors.parse");
	sv_log(r->error_class == SV_ECLASS_CONFIG ? SV_LOG_ERR : SV_LOG_WARNING,
	       "api: %s%s%s: %s (%s)%s%s%s%s", action, *what ? " " : "", what, r->error_code,
	       sv_error_class_name(r->error_class), r->error_message ? ": " : "",
	       r->error_message ? r->error_message : "", r->request_id[0] ? " RequestId " : "",
	       r->request_id);
}

/* observe - one request's latency and result class by action (lock-free) */
static void observe(const char *action, const struct timespec *start, const sv_identity *r)
{
	char name[64];
	struct timespec now;
	int64_t us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us =
	    (int64_t)(now.tv_sec - start->tv_sec) * 1000000 + (now.tv_nsec - start->tv_nsec) / 1000;
	snprintf(name, sizeof(name), "api.latency.%s", action);
	sv_stat_observe(sv_stat_histogram(name), us > 0 ? (uint64_t)us : 0);
	snprintf(name, sizeof(name), "api.result.%s.%s", action,
	         r->error_code[0] ? sv_error_class_name(r->error_class) : "ok");
	count(name);
}

/* elapsed_ms - since start */
static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)((now.tv_sec - start->tv_sec) * 1000 +
	              (now.tv_nsec - start->tv_nsec) / 1000000);
}

/* sv_client_update_identity - one UpdateEmailIdentity; *out always filled */
int sv_client_update_identity(sv_client *c, const char *domain, sv_identity *out)
{
	const char *why = NULL;
	struct timespec start;
	sv_buf body;
	long status;
	int rc;

	memset(out, 0, sizeof(*out));
	if (c == NULL || domain == NULL || sv_domain_normalize(domain, out->domain, &why) < 0) {
		snprintf(out->domain, sizeof(out->domain), "%.*s", SV_DOMAIN_MAX,
		         domain ? domain : "");
		set_error(out, "Client.InvalidDomain", SV_ECLASS_PERMANENT, "invalid domain: %s",
		          why ? why : "no client or domain");
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	count("api.calls");
	count("api.calls.UpdateEmailIdentity");
	sv_buf_init(&body, 0);
	sv_buf_puts(&body, "{\"EmailIdentity\":");
	sv_buf_json_string(&body, out->domain);
	sv_buf_puts(&body, "}");
	if (sv_buf_failed(&body)) {
		set_error(out, "Client.OutOfMemory", SV_ECLASS_RETRYABLE, "out of memory");
		rc = -1;
	} else if ((rc = call(c, "UpdateEmailIdentity", &body, &status, out)) == 0) {
		out->http_status = status;
		rc = parse_update(c->resp.data, c->resp.len, status, c->ep.url, out);
	}
	sv_buf_free(&body);
	observe("UpdateEmailIdentity", &start, out);
	if (out->error_code[0])
		note_error("UpdateEmailIdentity", out->domain, out);
	sv_log(SV_LOG_DEBUG, "api: UpdateEmailIdentity %s -> %s%s%s in %ld ms", out->domain,
	       sv_state_name(out->state), out->request_id[0] ? " RequestId " : "", out->request_id,
	       elapsed_ms(&start));
	return rc;
}

/* list_page - one ListEmailIdentities call; element count or -1 */
static int list_page(sv_client *c, long offset, sv_listed **items, size_t *n, long long *total,
                     sv_identity *err)
{
	struct timespec start;
	sv_buf body;
	long status;
	int rc = -1;

	clock_gettime(CLOCK_MONOTONIC, &start);
	count("api.calls");
	count("api.calls.ListEmailIdentities");
	sv_buf_init(&body, 0);
	sv_buf_printf(&body, "{\"Limit\":%d,\"Offset\":%ld}", SV_API_LIST_LIMIT, offset);
	if (sv_buf_failed(&body))
		set_error(err, "Client.OutOfMemory", SV_ECLASS_RETRYABLE, "out of memory");
	else if (call(c, "ListEmailIdentities", &body, &status, err) == 0)
		rc = parse_list(c->resp.data, c->resp.len, status, c->ep.url, items, n, total, err);
	sv_buf_free(&body);
	observe("ListEmailIdentities", &start, err);
	return rc;
}

/* sv_client_list_identities - all pages; stops on Total, an empty page or a page cap */
int sv_client_list_identities(sv_client *c, sv_listed **items, size_t *n, sv_identity *err)
{
	return sv_client_list_identities_paced(c, NULL, items, n, err);
}

/* paced_page - one page between the pacer's hooks */
static int paced_page(sv_client *c, const sv_pacer *p, long offset, sv_listed **items, size_t *n,
                      long long *total, sv_identity *err)
{
	int got;

	if (p && p->before && p->before(p->arg) < 0) {
		set_error(err, "Client.Cancelled", SV_ECLASS_RETRYABLE,
		          "stopped while waiting to send the next page");
		return -1;
	}
	got = list_page(c, offset, items, n, total, err);
	if (p && p->after)
		p->after(p->arg);
	return got;
}

/* sv_client_list_identities_paced - all pages, each between p's hooks */
int sv_client_list_identities_paced(sv_client *c, const sv_pacer *p, sv_listed **items, size_t *n,
                                    sv_identity *err)
{
	long long total = -1;
	long offset = 0;
	int page, got;

	*items = NULL;
	*n = 0;
	memset(err, 0, sizeof(*err));
	if (c == NULL) {
		set_error(err, "Client.Invalid", SV_ECLASS_PERMANENT, "no client");
		return -1;
	}
	for (page = 0; page < SV_API_LIST_MAX_PAGES; page++) {
		if ((got = paced_page(c, p, offset, items, n, &total, err)) < 0)
			goto fail;
		offset += got;
		/* without Total, a short page is the last one */
		if (got == 0 || (total >= 0 ? offset >= total : got < SV_API_LIST_LIMIT))
			break;
	}
	if (page == SV_API_LIST_MAX_PAGES)
		sv_log(SV_LOG_WARNING,
		       "api: ListEmailIdentities: stopped after %d pages (%ld items)", page,
		       offset);
	if (total >= 0 && offset != total) {
		/* a partial or padded list would make listed domains "not set up" */
		set_error(err, "Parse.InvalidResponse", SV_ECLASS_RETRYABLE,
		          "invalid API response: ListEmailIdentities Total %lld, but %ld "
		          "identities received over %d pages",
		          total, offset, page < SV_API_LIST_MAX_PAGES ? page + 1 : page);
		goto fail;
	}
	sv_log(SV_LOG_DEBUG, "api: ListEmailIdentities: %zu identities (Total %lld)", *n, total);
	return 0;
fail:
	note_error("ListEmailIdentities", "", err);
	free(*items);
	*items = NULL;
	*n = 0;
	return -1;
}
