/*
 * test_tc3sign.c - TC3-HMAC-SHA256 against Tencent's worked example.
 *	Vector A (older English doc, published key): every intermediate.
 *	Vector B (current CN doc, key masked): the published derived-key
 *	chain from SecretDate on and its signature, with x-tc-action signed.
 *	Vector C and D (computed independently, tencent-api.md 1.6).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tap.h"
#include "tc3sign.h"

#define KEY_A "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
#define ID_A  "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
#define PAYLOAD_A                                                                                  \
	"{\"Limit\": 1, \"Filters\": [{\"Values\": [\"\\u672a\\u547d\\u540d\"], \"Name\": "        \
	"\"instance-name\"}]}"
#define CT_CHARSET "application/json; charset=utf-8"

/* input - the doc example's common inputs */
static sv_tc3_input input(const char *host, const char *service, const char *ct, bool action,
                          const char *payload)
{
	sv_tc3_input in = {0};

	in.secret_id = ID_A;
	in.secret_key = KEY_A;
	in.service = service;
	in.host = host;
	in.content_type = ct;
	in.action =
	    action ? (strcmp(service, "cvm") == 0 ? "DescribeInstances" : "UpdateEmailIdentity")
	           : NULL;
	in.sign_action = action;
	in.payload = payload;
	in.payload_len = strlen(payload);
	in.timestamp = 1551113065;
	return in;
}

/* unhex - 32 bytes from 64 hex digits */
static void unhex(const char *h, unsigned char out[32])
{
	for (int i = 0; i < 32; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (unsigned char)v;
	}
}

/* hmac_hex - HMAC-SHA256(key32, msg) as hex */
static void hmac_hex(const unsigned char key[32], const char *msg, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;

	HMAC(EVP_sha256(), key, 32, (const unsigned char *)msg, strlen(msg), md, &len);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static void vector_a(void)
{
	sv_tc3_input in = input("cvm.tencentcloudapi.com", "cvm", CT_CHARSET, false, PAYLOAD_A);
	sv_tc3_result r;
	char err[128];

	is_int(strlen(PAYLOAD_A), 86, "A: payload is 86 bytes");
	ok(sv_tc3_sign(&in, &r, err, sizeof(err)) == 0, "A: signs");
	is_str(r.date, "2019-02-25", "A: UTC date (not UTC+8's 2019-02-26)");
	is_str(r.hashed_payload, "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064",
	       "A: HashedRequestPayload");
	is_str(r.canonical_request,
	       "POST\n/\n\ncontent-type:application/json; charset=utf-8\n"
	       "host:cvm.tencentcloudapi.com\n\ncontent-type;host\n"
	       "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064",
	       "A: CanonicalRequest");
	is_str(r.hashed_canonical_request,
	       "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031",
	       "A: HashedCanonicalRequest");
	is_str(r.string_to_sign,
	       "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
	       "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031",
	       "A: StringToSign");
	is_str(r.secret_date, "d1308c81fe71cfd4e06437bbc067b2b8a3d2d8c0e375d547f15c41d5214b395a",
	       "A: SecretDate");
	is_str(r.secret_service, "3c7cb7c7795393edc14fd2e0e6434a518564b4504b88e94f5d11bf59ba3e7050",
	       "A: SecretService");
	is_str(r.secret_signing, "ac658d5dde49e9bfdd14e04e062f66b05d9f637d44b8a8d845327d4a77f666b1",
	       "A: SecretSigning");
	is_str(r.signature, "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
	       "A: Signature (published)");
	is_str(r.authorization,
	       "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/"
	       "tc3_request, SignedHeaders=content-type;host, "
	       "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
	       "A: Authorization");
	sv_tc3_result_clear(&r);
	ok(r.authorization == NULL && r.secret_signing[0] == 0, "A: clear wipes the result");
}

static void vector_b(void)
{
	static const char *date =
	    "da98fb70dcf6b112dc21038d1eeeb3a95c74b4dcb12c1131f864f6066bd02be0";
	static const char *service =
	    "8d70cbefb03939f929db64d32dc2ba89b1095620119fe3e050e2b18c5bd2752f";
	static const char *signing =
	    "b596b923aad85185e2d1f6659d2a062e0a86731226e021e61bfe06f7ed05f5af";
	sv_tc3_input in = input("cvm.tencentcloudapi.com", "cvm", CT_CHARSET, true, PAYLOAD_A);
	unsigned char k[32];
	sv_tc3_result r;
	char err[128], got[65];

	ok(sv_tc3_sign(&in, &r, err, sizeof(err)) == 0, "B: signs with x-tc-action");
	is_str(r.signed_headers, "content-type;host;x-tc-action", "B: SignedHeaders");
	is_str(r.canonical_request,
	       "POST\n/\n\ncontent-type:application/json; charset=utf-8\n"
	       "host:cvm.tencentcloudapi.com\nx-tc-action:describeinstances\n\n"
	       "content-type;host;x-tc-action\n"
	       "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064",
	       "B: CanonicalRequest (action value lower-cased)");
	is_str(r.hashed_canonical_request,
	       "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84",
	       "B: HashedCanonicalRequest");
	is_str(r.string_to_sign,
	       "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
	       "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84",
	       "B: StringToSign");
	/* B's key is masked: follow its published chain with the same HMAC order */
	unhex(date, k);
	hmac_hex(k, "cvm", got);
	is_str(got, service, "B: HMAC(SecretDate, service) = published SecretService");
	unhex(service, k);
	hmac_hex(k, "tc3_request", got);
	is_str(got, signing, "B: HMAC(SecretService, tc3_request) = published SecretSigning");
	unhex(signing, k);
	hmac_hex(k, r.string_to_sign, got);
	is_str(got, "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f",
	       "B: HMAC(SecretSigning, our StringToSign) = published Signature");
	sv_tc3_result_clear(&r);
}

static void vector_c(void)
{
	sv_tc3_input in = input("cvm.tencentcloudapi.com", "cvm", CT_CHARSET, true, PAYLOAD_A);
	sv_tc3_result r;
	char err[128];

	ok(sv_tc3_sign(&in, &r, err, sizeof(err)) == 0, "C: signs");
	is_str(r.signature, "644be983de9a8a3f00db8eadaba61467c3b429e2215758ba897b738ca469fd26",
	       "C: A's key with B's canonical form");
	sv_tc3_result_clear(&r);
}

static void vector_d(void)
{
	static const char *payload = "{\"EmailIdentity\":\"mail.qcloud.com\"}";
	static const struct {
		const char *ct;
		bool action;
		const char *hcr, *sig;
	} rows[] = {
	    {CT_CHARSET, false, "29c59e17473b736f448d291f0178eaf2192ef87904d0e2dc7b1f7b71966ac403",
	     "dc273a8a4e5f35748c8b5db9036f9ff866448b901dd4ad582738b141660c1f6d"},
	    {CT_CHARSET, true, "cddb0f3a03007ee65fd463b0a3652d2bc5dbe85cf26929851df9691dc1c7015a",
	     "da9a026d08bca4e5065b7d4175a85777c8d1e7b8fd1883095b3b6c0a89019612"},
	    {"application/json", false,
	     "54dea27e9a4cb75671dc3f2eefd38ebafb37265d279e9755d994ab8cabfb865c",
	     "6f2e7f37531eb5715010913812b595aecad0553bf619a44368d809204023f91a"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sv_tc3_input in =
		    input("ses.tencentcloudapi.com", "ses", rows[i].ct, rows[i].action, payload);
		sv_tc3_result r;
		char err[128];

		ok(sv_tc3_sign(&in, &r, err, sizeof(err)) == 0, "D%zu: signs", i);
		is_str(r.hashed_payload,
		       "bbe51337a9cf0536fcd2ade7d793f3b85cd139733813d848c284c9a105058154",
		       "D%zu: payload hash", i);
		is_str(r.secret_service,
		       "9977d93d237dca981b877336a33f3902f61db71f27f75b527fb12a1117f6a2b1",
		       "D%zu: SecretService", i);
		is_str(r.secret_signing,
		       "ce3fe16c64cb195295204efb152d14e901811419a03fe203d25fd2512aa9f4bb",
		       "D%zu: SecretSigning", i);
		is_str(r.hashed_canonical_request, rows[i].hcr, "D%zu: HashedCanonicalRequest", i);
		is_str(r.signature, rows[i].sig, "D%zu: Signature", i);
		sv_tc3_result_clear(&r);
	}
}

static void edges(void)
{
	sv_tc3_input in = input("ses.tencentcloudapi.com", "ses", "application/json", false, "");
	sv_tc3_result r, r2;
	char date[11], err[128];

	ok(sv_tc3_sign(&in, &r, err, sizeof(err)) == 0, "empty payload signs");
	is_str(r.hashed_payload, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	       "empty payload hash is SHA-256 of nothing");
	sv_tc3_result_clear(&r);
	in.payload = NULL;
	ok(sv_tc3_sign(&in, &r, err, sizeof(err)) == 0, "NULL payload with length 0 signs");
	sv_tc3_result_clear(&r);

	in.host = "ses.TencentCloudAPI.com ";
	in.content_type = " Application/JSON";
	ok(sv_tc3_sign(&in, &r, err, sizeof(err)) == 0, "mixed-case values sign");
	in.host = "ses.tencentcloudapi.com";
	in.content_type = "application/json";
	ok(sv_tc3_sign(&in, &r2, err, sizeof(err)) == 0, "lower-case values sign");
	is_str(r.signature, r2.signature, "header values are trimmed and lower-cased");
	sv_tc3_result_clear(&r);
	sv_tc3_result_clear(&r2);

	in.host = "127.0.0.1:8443";
	ok(sv_tc3_sign(&in, &r, err, sizeof(err)) == 0 &&
	       strstr(r.canonical_request, "\nhost:127.0.0.1:8443\n") != NULL,
	   "host with port is signed as given");
	sv_tc3_result_clear(&r);

	in.host = "evil\r\nX-Injected: 1";
	ok(sv_tc3_sign(&in, &r, err, sizeof(err)) < 0, "CR/LF in Host refused");
	in.host = "ses.tencentcloudapi.com";
	in.secret_key = "";
	ok(sv_tc3_sign(&in, &r, err, sizeof(err)) < 0, "empty key refused");
	in.secret_key = "sesverify-test-secret-DO-NOT-LOG-0123456789\n";
	ok(sv_tc3_sign(&in, &r, err, sizeof(err)) < 0 &&
	       strstr(err, "sesverify-test-secret") == NULL,
	   "bad key refused without echoing it");

	ok(sv_tc3_date(0, date) == 0 && strcmp(date, "1970-01-01") == 0, "date of 0");
	ok(sv_tc3_date(1551139199, date) == 0 && strcmp(date, "2019-02-25") == 0,
	   "last second of a UTC day");
	ok(sv_tc3_date(1551139200, date) == 0 && strcmp(date, "2019-02-26") == 0,
	   "first second of the next UTC day");
	ok(sv_tc3_date(4102444800LL, date) == 0 && strcmp(date, "2100-01-01") == 0, "past 2038");
}

/* refusals - every input check, each with its own message (literals) */
static void refusals(void)
{
	static const struct {
		int field; /* 0 SecretId, 1 SecretKey, 2 service, 3 Host, 4 Content-Type, 5 action */
		const char *value;
		const char *err;
	} rows[] = {
	    {0, "", "TC3 signing: SecretId is empty or has non-printable characters"},
	    {0, "AKID\tx", "TC3 signing: SecretId is empty or has non-printable characters"},
	    {0, NULL, "TC3 signing: SecretId is empty or has non-printable characters"},
	    {1, "key\x7f", "TC3 signing: SecretKey is empty or has non-printable characters"},
	    {2, "", "TC3 signing: bad service name"},
	    {2, "s\xc3\xa9s", "TC3 signing: bad service name"},
	    {3, "host\x1f", "TC3 signing: bad Host value"},
	    {4, NULL, "TC3 signing: bad Content-Type value"},
	    {4, "application/json\r\nX: 1", "TC3 signing: bad Content-Type value"},
	    {5, NULL, "TC3 signing: bad action name"},
	    {5, "Update\nEmailIdentity", "TC3 signing: bad action name"},
	};
	sv_tc3_result r;
	char err[128];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sv_tc3_input in =
		    input("ses.tencentcloudapi.com", "ses", "application/json", true, "{}");
		const char **f[] = {&in.secret_id, &in.secret_key,   &in.service,
		                    &in.host,      &in.content_type, &in.action};
		*f[rows[i].field] = rows[i].value;
		err[0] = 0;
		memset(&r, 0x55, sizeof(r));
		ok(sv_tc3_sign(&in, &r, err, sizeof(err)) < 0 && r.authorization == NULL &&
		       r.canonical_request == NULL,
		   "refused, nothing allocated: row %zu", i);
		is_str(err, rows[i].err, "refusal message, row %zu", i);
	}

	/* an action is checked only when it is signed */
	{
		sv_tc3_input in =
		    input("ses.tencentcloudapi.com", "ses", "application/json", false, "{}");
		in.action = "Update\nEmailIdentity";
		ok(sv_tc3_sign(&in, &r, err, sizeof(err)) == 0 &&
		       strstr(r.canonical_request, "x-tc-action") == NULL,
		   "an unsigned action is neither checked nor signed");
		sv_tc3_result_clear(&r);
	}
	{
		sv_tc3_input in =
		    input("ses.tencentcloudapi.com", "ses", "application/json", false, "");
		in.payload = NULL;
		in.payload_len = 5;
		ok(sv_tc3_sign(&in, &r, err, sizeof(err)) < 0,
		   "NULL payload with a length refused");
		is_str(err, "TC3 signing: payload missing", "payload missing message");
		in.payload = "{}";
		in.payload_len = 2;
		in.timestamp = INT64_MAX;
		ok(sv_tc3_sign(&in, &r, err, sizeof(err)) < 0, "timestamp beyond any date refused");
		is_str(err, "TC3 signing: timestamp 9223372036854775807 out of range",
		       "timestamp message names the value");
	}
	{
		char date[11] = "unchanged";
		ok(sv_tc3_date(INT64_MAX, date) < 0, "sv_tc3_date: INT64_MAX has no date");
		ok(sv_tc3_date(-86400, date) == 0 && strcmp(date, "1969-12-31") == 0,
		   "sv_tc3_date: a day before the epoch");
	}
}

int main(void)
{
	vector_a();
	vector_b();
	vector_c();
	vector_d();
	edges();
	refusals();
	return tap_done();
}
