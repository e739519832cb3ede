/*
 * tc3sign.c - TC3-HMAC-SHA256 signatures for Tencent Cloud API 3.0.
 *	Owns the canonical request, string to sign, derived key chain and the
 *	Authorization value.  Does not own HTTP (sesapi.c sends exactly the
 *	headers signed here) nor where keys come from (credentials.c).
 *	The one-shot HMAC() and SHA256() of libcrypto are used: they exist
 *	unchanged in OpenSSL 1.1 and 3.x and need no context objects.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "buf.h"
#include "tc3sign.h"

#define ALGORITHM "TC3-HMAC-SHA256"

/* hex - lowercase hex of n bytes */
static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = 0;
}

/* sv_tc3_sha256_hex - HashedRequestPayload / HashedCanonicalRequest */
int sv_tc3_sha256_hex(const void *data, size_t len, char out[SV_TC3_HEX])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	if (SHA256(len ? data : (const void *)"", len, md) == NULL)
		return -1;
	hex(md, sizeof(md), out);
	return 0;
}

/* hmac - raw HMAC-SHA256(key, msg); key first, as the spec insists */
static int hmac(const void *key, size_t klen, const void *msg, size_t mlen,
                unsigned char out[SHA256_DIGEST_LENGTH])
{
	unsigned int olen = 0;

	if (klen > 0x7fffffff)
		return -1;
	if (HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &olen) == NULL ||
	    olen != SHA256_DIGEST_LENGTH)
		return -1;
	return 0;
}

/* sv_tc3_date - UTC, never local time: UTC+8 hosts would sign tomorrow's date */
int sv_tc3_date(int64_t timestamp, char date[11])
{
	struct tm tm;
	time_t t = (time_t)timestamp;

	if ((int64_t)t != timestamp || gmtime_r(&t, &tm) == NULL)
		return -1;
	if (strftime(date, 11, "%Y-%m-%d", &tm) != 10)
		return -1;
	return 0;
}

/* header_safe - printable ASCII only: these end up in HTTP headers */
static int header_safe(const char *s)
{
	if (s == NULL || *s == 0)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* put_canon_header - "key:value\n" with the value trimmed and lower-cased */
static void put_canon_header(sv_buf *b, const char *key, const char *value)
{
	const char *s = value, *e = value + strlen(value);

	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	sv_buf_printf(b, "%s:", key);
	for (; s < e; s++) {
		char c = *s;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		sv_buf_append(b, &c, 1);
	}
	sv_buf_append(b, "\n", 1);
}

/* check_input - refuse what would make a wrong or injectable request */
static int check_input(const sv_tc3_input *in, char *err, size_t errlen)
{
	const char *what = NULL;

	if (!header_safe(in->secret_id))
		what = "SecretId is empty or has non-printable characters";
	else if (!header_safe(in->secret_key))
		what = "SecretKey is empty or has non-printable characters";
	else if (!header_safe(in->service))
		what = "bad service name";
	else if (!header_safe(in->host))
		what = "bad Host value";
	else if (!header_safe(in->content_type))
		what = "bad Content-Type value";
	else if (in->sign_action && !header_safe(in->action))
		what = "bad action name";
	else if (in->payload == NULL && in->payload_len != 0)
		what = "payload missing";
	if (what == NULL)
		return 0;
	snprintf(err, errlen, "TC3 signing: %s", what);
	return -1;
}

/* canonical_request - step 1 of the spec, into r->canonical_request */
static int canonical_request(const sv_tc3_input *in, sv_tc3_result *r)
{
	sv_buf b;

	if (sv_tc3_sha256_hex(in->payload, in->payload_len, r->hashed_payload) < 0)
		return -1;
	snprintf(r->signed_headers, sizeof(r->signed_headers), "%s",
	         in->sign_action ? "content-type;host;x-tc-action" : "content-type;host");
	sv_buf_init(&b, 0);
	sv_buf_puts(&b, "POST\n/\n\n"); /* method, CanonicalURI, empty query */
	put_canon_header(&b, "content-type", in->content_type);
	put_canon_header(&b, "host", in->host);
	if (in->sign_action)
		put_canon_header(&b, "x-tc-action", in->action);
	sv_buf_printf(&b, "\n%s\n%s", r->signed_headers, r->hashed_payload);
	if (sv_buf_failed(&b)) {
		sv_buf_free(&b);
		return -1;
	}
	r->canonical_request = b.data;
	return sv_tc3_sha256_hex(b.data, b.len, r->hashed_canonical_request);
}

/* derive_and_sign - steps 3-4: key chain and signature */
static int derive_and_sign(const sv_tc3_input *in, sv_tc3_result *r)
{
	unsigned char kdate[32], kservice[32], ksigning[32], sig[32];
	size_t klen = strlen(in->secret_key) + 3;
	char *k;
	int rc = -1;

	if ((k = malloc(klen + 1)) == NULL)
		return -1;
	memcpy(k, "TC3", 3);
	memcpy(k + 3, in->secret_key, klen - 3 + 1);
	if (hmac(k, klen, r->date, strlen(r->date), kdate) < 0 ||
	    hmac(kdate, 32, in->service, strlen(in->service), kservice) < 0 ||
	    hmac(kservice, 32, "tc3_request", 11, ksigning) < 0 ||
	    hmac(ksigning, 32, r->string_to_sign, strlen(r->string_to_sign), sig) < 0)
		goto out;
	hex(kdate, 32, r->secret_date);
	hex(kservice, 32, r->secret_service);
	hex(ksigning, 32, r->secret_signing);
	hex(sig, 32, r->signature);
	rc = 0;
out:
	OPENSSL_cleanse(k, klen);
	OPENSSL_cleanse(kdate, sizeof(kdate));
	OPENSSL_cleanse(kservice, sizeof(kservice));
	OPENSSL_cleanse(ksigning, sizeof(ksigning));
	free(k);
	return rc;
}

/* sv_tc3_sign - the whole signature; every intermediate kept in out */
int sv_tc3_sign(const sv_tc3_input *in, sv_tc3_result *out, char *err, size_t errlen)
{
	sv_buf b;

	memset(out, 0, sizeof(*out));
	if (check_input(in, err, errlen) < 0)
		return -1;
	if (sv_tc3_date(in->timestamp, out->date) < 0) {
		snprintf(err, errlen, "TC3 signing: timestamp %lld out of range",
		         (long long)in->timestamp);
		return -1;
	}
	if (canonical_request(in, out) < 0)
		goto fail;
	sv_buf_init(&b, 0);
	sv_buf_printf(&b, ALGORITHM "\n%lld\n%s/%s/tc3_request\n%s", (long long)in->timestamp,
	              out->date, in->service, out->hashed_canonical_request);
	if (sv_buf_failed(&b)) {
		sv_buf_free(&b);
		goto fail;
	}
	out->string_to_sign = b.data;
	if (derive_and_sign(in, out) < 0)
		goto fail;
	sv_buf_init(&b, 0);
	sv_buf_printf(&b,
	              ALGORITHM " Credential=%s/%s/%s/tc3_request, SignedHeaders=%s, Signature=%s",
	              in->secret_id, out->date, in->service, out->signed_headers, out->signature);
	if (sv_buf_failed(&b)) {
		sv_buf_free(&b);
		goto fail;
	}
	out->authorization = b.data;
	return 0;
fail:
	sv_tc3_result_clear(out);
	snprintf(err, errlen, "TC3 signing failed (out of memory or libcrypto error)");
	return -1;
}

/* sv_tc3_result_clear - free and wipe (the derived keys are secret-equivalent) */
void sv_tc3_result_clear(sv_tc3_result *r)
{
	if (r == NULL)
		return;
	free(r->canonical_request);
	free(r->string_to_sign);
	if (r->authorization)
		OPENSSL_cleanse(r->authorization, strlen(r->authorization));
	free(r->authorization);
	OPENSSL_cleanse(r, sizeof(*r));
}
