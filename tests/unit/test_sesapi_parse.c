/*
 * test_sesapi_parse.c - SES response bodies into sv_identity / sv_listed,
 *	error classification, and Endpoint parsing; no network.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "sesapi.h"
#include "tap.h"

static const char verified_body[] =
    "{\"Response\":{\"IdentityType\":\"DOMAIN\",\"VerifiedForSendingStatus\":true,"
    "\"Attributes\":[{\"Type\":\"TXT\",\"SendDomain\":\"mail.qcloud.com\","
    "\"ExpectedValue\":\"v=spf1 include:qcloudmail.com ~all\","
    "\"CurrentValue\":\"v=spf1 include:qcloudmail.com ~all\",\"Status\":true},"
    "{\"Type\":\"TXT\",\"SendDomain\":\"mail._domainkey.mail.qcloud.com\","
    "\"ExpectedValue\":\"k=rsa;p=MIGfMA0G\\/+AB\",\"CurrentValue\":\"k=rsa;p=MIGfMA0G\\/+AB\","
    "\"Status\":true}],\"DKIMOption\":0,\"Unknown\":{\"x\":[1,2]},"
    "\"RequestId\":\"6a1f2b3c-0000-4000-8000-000000000001\"}}";

static const char unverified_body[] =
    "{\"Response\":{\"IdentityType\":\"DOMAIN\",\"VerifiedForSendingStatus\":false,"
    "\"Attributes\":[{\"Type\":\"MX\",\"SendDomain\":\"unverified.test\","
    "\"ExpectedValue\":\"mxbiz1.qq.com.\",\"CurrentValue\":\"\",\"Status\":false},"
    "{\"Type\":\"TXT\",\"SendDomain\":\"qcloud._domainkey.unverified.test\","
    "\"ExpectedValue\":\"v=DKIM1; k=rsa; p=MIIB\",\"CurrentValue\":null,\"Status\":false},"
    "{\"Type\":\"TXT\",\"SendDomain\":\"_dmarc.unverified.test\","
    "\"ExpectedValue\":\"v=DMARC1; p=none\",\"Status\":true}],"
    "\"RequestId\":\"r-unverified\"}}";

#define PL(body, ...) sv_sesapi_parse_list(body, strlen(body), __VA_ARGS__)

/* parse_raw - into a used identity */
static void parse_raw(const char *body, sv_identity *id)
{
	sv_sesapi_parse_update(body, strlen(body), 200, id);
}

/* parse - wrapper: fresh identity each time */
static int parse(const char *body, long status, sv_identity *id)
{
	memset(id, 0, sizeof(*id));
	strcpy(id->domain, "example.test");
	return sv_sesapi_parse_update(body, strlen(body), status, id);
}

static void update_bodies(void)
{
	sv_identity id;

	is_int(parse(verified_body, 200, &id), 0, "verified: parses");
	is_int(id.state, SV_STATE_VERIFIED, "verified: state");
	ok(id.verified, "verified: flag");
	is_str(id.request_id, "6a1f2b3c-0000-4000-8000-000000000001", "verified: RequestId");
	is_str(id.identity_type, "DOMAIN", "verified: IdentityType");
	is_int(id.nattrs, 2, "verified: two attributes");
	is_str(id.attrs[1].send_domain, "mail._domainkey.mail.qcloud.com", "attr SendDomain");
	is_str(id.attrs[1].expected, "k=rsa;p=MIGfMA0G/+AB", "attr ExpectedValue unescaped");
	ok(id.attrs[0].status && strcmp(id.attrs[0].type, "TXT") == 0, "attr Type and Status");
	is_str(id.domain, "example.test", "domain left alone");
	is_int(id.error_class, SV_ECLASS_NONE, "no error class");
	ok(id.error_message == NULL && id.error_code[0] == 0, "no error");
	sv_identity_clear(&id);

	is_int(parse(unverified_body, 200, &id), 0, "unverified: parses");
	is_int(id.state, SV_STATE_UNVERIFIED, "unverified: state");
	ok(!id.verified, "unverified: flag");
	is_int(id.nattrs, 3, "unverified: three attributes");
	is_str(id.attrs[0].type, "MX", "MX attribute");
	is_str(id.attrs[1].current, "", "CurrentValue null -> empty");
	is_str(id.attrs[2].current, "", "CurrentValue missing -> empty");
	ok(!id.attrs[0].status && id.attrs[2].status, "Status per record");
	sv_identity_clear(&id);

	is_int(parse("{\"Response\":{\"VerifiedForSendingStatus\":true,\"RequestId\":\"r\"}}", 200,
	             &id),
	       0, "no Attributes is fine");
	is_int(id.state, SV_STATE_VERIFIED, "... verified");
	sv_identity_clear(&id);

	is_int(
	    parse("{\"Response\":{\"Error\":{\"Code\":\"InvalidParameterValue.NotExistDomain\","
	          "\"Message\":\"\\u57df\\u540d\\u4e0d\\u5b58\\u5728\"},\"RequestId\":\"r-ne\"}}",
	          200, &id),
	    0, "NotExistDomain: an API answer");
	is_int(id.state, SV_STATE_NOT_EXIST, "NotExistDomain: state not_exist");
	is_int(id.error_class, SV_ECLASS_NOT_EXIST, "NotExistDomain: class");
	is_str(id.error_message, "\xe5\x9f\x9f\xe5\x90\x8d\xe4\xb8\x8d\xe5\xad\x98\xe5\x9c\xa8",
	       "Message unescaped from \\u");
	is_str(id.request_id, "r-ne", "RequestId of an error");
	sv_identity_clear(&id);

	is_int(parse("{\"Response\":{\"Error\":{\"Code\":\"RequestLimitExceeded\",\"Message\":"
	             "\"slow down\"},\"RequestId\":\"r-rl\",\"VerifiedForSendingStatus\":true}}",
	             200, &id),
	       0, "rate limited: an API answer");
	is_int(id.state, SV_STATE_ERROR, "error wins over a verified flag");
	ok(!id.verified, "... and verified is false");
	is_int(id.error_class, SV_ECLASS_RATE_LIMITED, "... class rate_limited");
	sv_identity_clear(&id);

	is_int(parse("{\"Response\":{\"Error\":{\"Code\":\"InternalError\",\"Message\":\"x\"},"
	             "\"RequestId\":\"r5\"}}",
	             500, &id),
	       -1, "HTTP 500 with API error: failure");
	is_int(id.state, SV_STATE_ERROR, "HTTP 500: state error");
	is_str(id.error_code, "InternalError", "HTTP 500: API code kept");
	is_int(id.error_class, SV_ECLASS_RETRYABLE, "HTTP 500: retryable");
	ok(id.error_message && strstr(id.error_message, "HTTP 500"), "message names HTTP 500: %s",
	   id.error_message);
	is_int(id.http_status, 500, "http_status kept");
	sv_identity_clear(&id);

	is_int(parse("<html>Bad Gateway</html>", 502, &id), -1, "HTTP 502 HTML: failure");
	is_str(id.error_code, "Transport.HTTP502", "HTTP 502: Transport.HTTP502");
	is_int(id.error_class, SV_ECLASS_RETRYABLE, "HTTP 502: retryable");
	ok(id.error_message && strstr(id.error_message, "HTTP 502 from"), "502 message: %s",
	   id.error_message);
	sv_identity_clear(&id);

	is_int(parse(verified_body, 503, &id), -1, "HTTP 503 with a verified body: failure");
	is_int(id.state, SV_STATE_ERROR, "... never verified");
	ok(!id.verified, "... flag false");
	sv_identity_clear(&id);
}

static void malformed(void)
{
	static const char *const bad[] = {
	    "",
	    "not json",
	    "{}",
	    "{\"Response\":[]}",
	    "{\"Response\":{}}",
	    "{\"Response\":{\"VerifiedForSendingStatus\":\"true\"}}",
	    "{\"Response\":{\"VerifiedForSendingStatus\":1}}",
	    "{\"Response\":{\"VerifiedForSendingStatus\":null}}",
	    "{\"Response\":{\"VerifiedForSendingStatus\":tru}}",
	    "{\"Response\":{\"VerifiedForSendingStatus\":true,\"VerifiedForSendingStatus\":true}}",
	    "{\"Response\":{\"VerifiedForSendingStatus\":true}}{\"x\":1}",
	    "{\"Response\":{\"VerifiedForSendingStatus\":true}} trailing",
	    "{\"Response\":{\"VerifiedForSendingStatus\":true,\"Attributes\":{}}}",
	    "{\"Response\":{\"VerifiedForSendingStatus\":true,\"Attributes\":[1]}}",
	    "{\"Response\":{\"VerifiedForSendingStatus\":true,\"Attributes\":[{\"Type\":\"TXT\"}]}"
	    "}",
	    "{\"Response\":{\"VerifiedForSendingStatus\":true,\"Attributes\":[{\"Type\":"
	    "\"TOOLONGTYPE\","
	    "\"SendDomain\":\"a\",\"ExpectedValue\":\"b\",\"Status\":true}]}}",
	    "{\"Response\":{\"VerifiedForSendingStatus\":true,\"Attributes\":[{\"Type\":\"TXT\","
	    "\"SendDomain\":\"a\",\"ExpectedValue\":\"b\",\"Status\":\"true\"}]}}",
	    "{\"Response\":{\"VerifiedForSendingStatus\":true,\"RequestId\":5}}",
	    "{\"Response\":{\"VerifiedForSendingStatus\":true,\"RequestId\":"
	    "\"0123456789012345678901234567890123456789012345678901234567890123456789\"}}",
	    "{\"Response\":{\"VerifiedForSendingStatus\":true,\"IdentityType\":\"\\uD800\"}}",
	    "{\"Response\":{\"Error\":\"InternalError\"}}",
	    "{\"Response\":{\"Error\":{\"Message\":\"no code\"}}}",
	    "{\"Response\":{\"Error\":{\"Code\":\"\"}}}",
	    "{\"Response\":{\"Error\":{\"Code\":7}}}",
	    "{\"Response\":{\"VerifiedForSendingStatus\":true,\"Attributes\":[{\"Type\":\"TXT\","
	    "\"SendDomain\":\"a\",\"ExpectedValue\":\"b\\u0000\",\"Status\":true}]}}",
	};
	sv_identity id;
	char *big;
	size_t o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i], 200, &id);
		ok(rc == -1 && id.state == SV_STATE_ERROR && !id.verified &&
		       strcmp(id.error_code, "Parse.InvalidResponse") == 0 &&
		       id.error_class == SV_ECLASS_RETRYABLE && id.nattrs == 0,
		   "malformed #%zu -> Parse.InvalidResponse (%s)", i,
		   id.error_message ? id.error_message : "?");
		sv_identity_clear(&id);
	}

	/* truncations of a verified body are never verified */
	{
		size_t len = strlen(verified_body), n_ok = 0;
		for (size_t i = 0; i < len; i++) {
			memset(&id, 0, sizeof(id));
			if (sv_sesapi_parse_update(verified_body, i, 200, &id) == -1 &&
			    id.state == SV_STATE_ERROR && !id.verified)
				n_ok++;
			sv_identity_clear(&id);
		}
		is_int(n_ok, len, "every truncation of a verified body is an error");
	}

	/* too many attributes, too long values */
	big = malloc(200000);
	o = (size_t)sprintf(big,
	                    "{\"Response\":{\"VerifiedForSendingStatus\":true,\"Attributes\":[");
	for (int i = 0; i < SV_API_MAX_ATTRS + 1; i++)
		o += (size_t)sprintf(big + o,
		                     "%s{\"Type\":\"TXT\",\"SendDomain\":\"a\",\"ExpectedValue\":"
		                     "\"b\",\"Status\":true}",
		                     i ? "," : "");
	strcpy(big + o, "]}}");
	is_int(parse(big, 200, &id), -1, "%d attributes refused", SV_API_MAX_ATTRS + 1);
	sv_identity_clear(&id);
	o = (size_t)sprintf(big, "{\"Response\":{\"VerifiedForSendingStatus\":true,\"Attributes\":["
	                         "{\"Type\":\"TXT\",\"SendDomain\":\"a\",\"ExpectedValue\":\"");
	memset(big + o, 'x', SV_API_VALUE_MAX + 1);
	o += SV_API_VALUE_MAX + 1;
	strcpy(big + o, "\",\"Status\":true}]}}");
	is_int(parse(big, 200, &id), -1, "ExpectedValue over %d bytes refused", SV_API_VALUE_MAX);
	sv_identity_clear(&id);
	o = (size_t)sprintf(big, "{\"Response\":{\"Error\":{\"Code\":\"InternalError\","
	                         "\"Message\":\"");
	memset(big + o, 'm', 5000);
	o += 5000;
	strcpy(big + o, "\"}}}");
	is_int(parse(big, 200, &id), 0, "long error message accepted");
	ok(id.error_message && strlen(id.error_message) == SV_API_MESSAGE_MAX &&
	       strcmp(id.error_message + SV_API_MESSAGE_MAX - 3, "...") == 0,
	   "... and shortened to %d bytes", SV_API_MESSAGE_MAX);
	sv_identity_clear(&id);
	/* a cut never splits a UTF-8 character */
	o = (size_t)sprintf(big, "{\"Response\":{\"Error\":{\"Code\":\"InternalError\","
	                         "\"Message\":\"");
	for (int i = 0; i < 1000; i++)
		o += (size_t)sprintf(big + o, "\xe4\xb8\xad");
	strcpy(big + o, "\"}}}");
	is_int(parse(big, 200, &id), 0, "long multi-byte message accepted");
	ok(id.error_message && strlen(id.error_message) <= SV_API_MESSAGE_MAX &&
	       (strlen(id.error_message) - 3) % 3 == 0,
	   "... cut on a character boundary (%zu bytes)",
	   id.error_message ? strlen(id.error_message) : 0);
	sv_identity_clear(&id);
	free(big);

	/* control characters from the server never reach logs or SMTP text */
	is_int(parse("{\"Response\":{\"VerifiedForSendingStatus\":false,\"Attributes\":[{\"Type\":"
	             "\"TXT\",\"SendDomain\":\"a\\r\\nb\",\"ExpectedValue\":\"x\\ty\",\"Status\":"
	             "false}],\"RequestId\":\"r\\n1\"}}",
	             200, &id),
	       0, "control characters parse");
	is_str(id.attrs[0].send_domain, "a??b", "CR LF scrubbed in SendDomain");
	is_str(id.attrs[0].expected, "x?y", "tab scrubbed in ExpectedValue");
	is_str(id.request_id, "r?1", "newline scrubbed in RequestId");
	sv_identity_clear(&id);

	/* reuse: a second parse into a used struct drops the old attributes */
	memset(&id, 0, sizeof(id));
	sv_sesapi_parse_update(verified_body, strlen(verified_body), 200, &id);
	parse_raw("{\"Response\":{\"VerifiedForSendingStatus\":false}}", &id);
	ok(id.nattrs == 0 && id.state == SV_STATE_UNVERIFIED, "reparse replaces old contents");
	sv_identity_clear(&id);
}

static void classify(void)
{
	static const struct {
		const char *code;
		sv_error_class cls;
	} rows[] = {
	    {"FailedOperation.ServiceNotAvailable", SV_ECLASS_RETRYABLE},
	    {"InternalError", SV_ECLASS_RETRYABLE},
	    {"InternalError.Unknown", SV_ECLASS_RETRYABLE},
	    {"ServiceUnavailable", SV_ECLASS_RETRYABLE},
	    {"ResourceUnavailable", SV_ECLASS_RETRYABLE},
	    {"Transport.Timeout", SV_ECLASS_RETRYABLE},
	    {"Parse.InvalidResponse", SV_ECLASS_RETRYABLE},
	    {"RequestLimitExceeded", SV_ECLASS_RATE_LIMITED},
	    {"RequestLimitExceeded.UinLimitExceeded", SV_ECLASS_RATE_LIMITED},
	    {"RequestLimitExceeded.IPLimitExceeded", SV_ECLASS_RATE_LIMITED},
	    {"RequestLimitExceeded.GlobalRegionUinLimitExceeded", SV_ECLASS_RATE_LIMITED},
	    {"LimitExceeded", SV_ECLASS_RATE_LIMITED},
	    {"InvalidParameterValue.NotExistDomain", SV_ECLASS_NOT_EXIST},
	    {"AuthFailure", SV_ECLASS_CONFIG},
	    {"AuthFailure.SignatureFailure", SV_ECLASS_CONFIG},
	    {"AuthFailure.SignatureExpire", SV_ECLASS_CONFIG},
	    {"AuthFailure.SecretIdNotFound", SV_ECLASS_CONFIG},
	    {"AuthFailure.TokenFailure", SV_ECLASS_CONFIG},
	    {"AuthFailure.InvalidSecretId", SV_ECLASS_CONFIG},
	    {"AuthFailure.UnauthorizedOperation", SV_ECLASS_CONFIG},
	    {"AuthFailure.InvalidAuthorization", SV_ECLASS_CONFIG},
	    {"AuthFailure.MFAFailure", SV_ECLASS_CONFIG},
	    {"MissingParameter", SV_ECLASS_CONFIG},
	    {"InvalidParameter", SV_ECLASS_CONFIG},
	    {"InvalidParameterValue", SV_ECLASS_CONFIG},
	    {"InvalidParameterValue.InvalidEmailIdentity", SV_ECLASS_CONFIG},
	    {"UnauthorizedOperation", SV_ECLASS_CONFIG},
	    {"InvalidAction", SV_ECLASS_CONFIG},
	    {"UnsupportedRegion", SV_ECLASS_CONFIG},
	    {"NoSuchVersion", SV_ECLASS_CONFIG},
	    {"IpNotInWhitelist", SV_ECLASS_CONFIG},
	    {"OperationDenied", SV_ECLASS_CONFIG},
	    {"FailedOperation.DKIMNotApplied", SV_ECLASS_PERMANENT},
	    {"FailedOperation", SV_ECLASS_PERMANENT},
	    {"ResourceNotFound", SV_ECLASS_PERMANENT},
	    {"SomethingNew.Entirely", SV_ECLASS_PERMANENT},
	    {"RequestSizeLimitExceeded", SV_ECLASS_PERMANENT},
	    {"InternalErrorish", SV_ECLASS_PERMANENT},
	    {"", SV_ECLASS_NONE},
	};
	static const char *const names[] = {"none",      "retryable", "rate_limited",
	                                    "not_exist", "config",    "permanent"};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sv_error_class got = sv_error_classify(rows[i].code);
		/* compared as literal names, not through sv_error_class_name() */
		is_str((unsigned)got < 6 ? names[got] : "(out of range)", names[rows[i].cls],
		       "classify '%s'", rows[i].code);
	}
	is_int(sv_error_classify(NULL), SV_ECLASS_NONE, "classify NULL");
	for (int c = SV_ECLASS_NONE; c <= SV_ECLASS_PERMANENT; c++)
		is_str(sv_error_class_name((sv_error_class)c), names[c], "class name %d", c);
}

static void lists(void)
{
	const char *p1 = "{\"Response\":{\"EmailIdentities\":[{\"IdentityName\":\"A.Example.COM\","
	                 "\"IdentityType\":\"DOMAIN\",\"SendingEnabled\":true,\"DailyQuota\":10},"
	                 "{\"IdentityName\":\"bad..name\",\"SendingEnabled\":true},"
	                 "{\"IdentityName\":\"\\u4f8b\\u3048.test\",\"SendingEnabled\":false}],"
	                 "\"Total\":3,\"MaxReputationLevel\":1,\"RequestId\":\"r-l\"}}";
	sv_listed *items = NULL;
	sv_identity err;
	long long total;
	size_t n = 0;

	memset(&err, 0, sizeof(err));
	is_int(sv_sesapi_parse_list(p1, strlen(p1), 200, &items, &n, &total, &err), 3,
	       "list page: three elements");
	is_int(n, 2, "invalid name skipped");
	is_int(total, 3, "Total read");
	is_str(items[0].name, "a.example.com", "name normalised");
	ok(items[0].sending_enabled, "SendingEnabled true");
	is_str(items[1].name, "xn--r8jz45g.test", "U-label converted to A-label");
	ok(!items[1].sending_enabled, "SendingEnabled false");
	sv_identity_clear(&err);

	is_int(PL("{\"Response\":{\"EmailIdentities\":[],\"Total\":0}}", 200, &items, &n, &total,
	          &err),
	       0, "empty page");
	is_int(n, 2, "appending nothing");
	sv_identity_clear(&err);

	is_int(PL("{\"Response\":{\"Error\":{\"Code\":\"AuthFailure."
	          "SignatureFailure\",\"Message\":\"sig\"},\"RequestId\":\"x\"}}",
	          200, &items, &n, &total, &err),
	       -1, "list API error: failure");
	is_str(err.error_code, "AuthFailure.SignatureFailure", "list API error code");
	is_int(err.error_class, SV_ECLASS_CONFIG, "list API error class");
	is_int(err.state, SV_STATE_ERROR, "list API error state");
	sv_identity_clear(&err);

	is_int(PL("{\"Response\":{\"EmailIdentities\":[{\"IdentityName\":5}]}}", 200, &items, &n,
	          &total, &err),
	       -1, "list wrong type: failure");
	is_str(err.error_code, "Parse.InvalidResponse", "list wrong type: parse error");
	sv_identity_clear(&err);

	is_int(
	    PL("{\"Response\":{\"Total\":0,\"RequestId\":\"r\"}}", 200, &items, &n, &total, &err),
	    -1, "EmailIdentities missing: not an empty account");
	is_str(err.error_code, "Parse.InvalidResponse", "EmailIdentities missing: parse error");
	is_int(err.error_class, SV_ECLASS_RETRYABLE, "EmailIdentities missing: retryable");
	sv_identity_clear(&err);
	is_int(PL("{\"Response\":{\"EmailIdentities\":null,\"Total\":0}}", 200, &items, &n, &total,
	          &err),
	       -1, "EmailIdentities null: not an empty account");
	is_str(err.error_code, "Parse.InvalidResponse", "EmailIdentities null: parse error");
	sv_identity_clear(&err);

	is_int(PL("{\"Response\":{\"EmailIdentities\":[],\"Total\":-1}}", 200, &items, &n, &total,
	          &err),
	       -1, "negative Total refused");
	sv_identity_clear(&err);
	is_int(PL("{\"Response\":{\"EmailIdentities\":[],\"Total\":1.5}}", 200, &items, &n, &total,
	          &err),
	       -1, "fractional Total refused");
	sv_identity_clear(&err);
	is_int(PL("oops", 500, &items, &n, &total, &err), -1, "list HTTP 500");
	is_str(err.error_code, "Transport.HTTP500", "list HTTP 500 code");
	sv_identity_clear(&err);
	free(items);
}

static void endpoints(void)
{
	static const struct {
		const char *url, *full, *host, *service;
	} good[] = {
	    {"https://ses.tencentcloudapi.com", "https://ses.tencentcloudapi.com/",
	     "ses.tencentcloudapi.com", "ses"},
	    {"HTTPS://SES.intl.TencentCloudAPI.com/", "https://ses.intl.tencentcloudapi.com/",
	     "ses.intl.tencentcloudapi.com", "ses"},
	    {"https://ses.ap-hongkong.tencentcloudapi.com:443/",
	     "https://ses.ap-hongkong.tencentcloudapi.com/", "ses.ap-hongkong.tencentcloudapi.com",
	     "ses"},
	    {"https://127.0.0.1:8443", "https://127.0.0.1:8443/", "127.0.0.1:8443", "ses"},
	    {"https://localhost:9000/", "https://localhost:9000/", "localhost:9000", "ses"},
	    {"https://[::1]:8443", "https://[::1]:8443/", "[::1]:8443", "ses"},
	    {"https://api.test.example", "https://api.test.example/", "api.test.example", "ses"},
	};
	static const char *const bad[] = {
	    "http://ses.tencentcloudapi.com",
	    "https://",
	    "https://:443",
	    "https://host:0",
	    "https://host:65536",
	    "https://host:x",
	    "https://host/path",
	    "https://host/?q=1",
	    "https://user@host",
	    "https://ho st",
	    "ftp://host",
	    "https://[::1",
	    "https://host:",
	    "https://host:-1",
	};
	sv_endpoint ep;
	char err[256];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ok(sv_sesapi_endpoint(good[i].url, &ep, err, sizeof(err)) == 0, "endpoint %s",
		   good[i].url);
		is_str(ep.url, good[i].full, "... url");
		is_str(ep.host, good[i].host, "... Host header");
		is_str(ep.service, good[i].service, "... service");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(sv_sesapi_endpoint(bad[i], &ep, err, sizeof(err)) < 0, "endpoint refused: %s",
		   bad[i]);
}

int main(void)
{
	update_bodies();
	malformed();
	classify();
	lists();
	endpoints();
	return tap_done();
}
