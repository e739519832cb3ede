/*
 * NAME
 *	tc3sign 3 - Tencent Cloud API 3.0 request signing (TC3-HMAC-SHA256)
 * SYNOPSIS
 *	#include "tc3sign.h"
 *
 *	int sv_tc3_sign(const sv_tc3_input *in, sv_tc3_result *out,
 *			char *err, size_t errlen);
 *	void sv_tc3_result_clear(sv_tc3_result *r);
 *	int sv_tc3_date(int64_t timestamp, char date[11]);
 * DESCRIPTION
 *	sv_tc3_sign() builds the canonical request of a POST to "/" with the
 *	given content-type, host and (optionally) x-tc-action as signed
 *	headers, the string to sign, the derived key chain
 *	("TC3"+SecretKey -> date -> service -> "tc3_request") and the
 *	Authorization header value.  Every intermediate value is kept in the
 *	result so that tests can compare them with Tencent's worked example.
 *
 *	Signed header values are lower-cased and trimmed, as the
 *	specification says; the caller must send exactly the same
 *	Content-Type and Host (curl adds nothing when they are set
 *	explicitly).  The date is the UTC date of the timestamp.
 *
 *	The derived keys are secret-equivalent for one day and one service;
 *	sv_tc3_result_clear() wipes them.  Callers must not log any field but
 *	the hashes and the canonical request.
 * DIAGNOSTICS
 *	-1 with a reason in err (never containing the key) when an input is
 *	missing, holds a control character, or OpenSSL fails.
 */
#ifndef SV_TC3SIGN_H
#define SV_TC3SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SV_TC3_HEX 65 /* 64 hex digits and a NUL */

typedef struct sv_tc3_input {
	const char *secret_id;
	const char *secret_key;
	const char *service;      /* "ses": first label of the API host */
	const char *host;         /* the Host header value as sent ("h" or "h:port") */
	const char *content_type; /* e.g. "application/json" */
	const char *action;       /* X-TC-Action; signed only when sign_action */
	bool sign_action;
	const void *payload; /* exact body bytes (may be NULL when payload_len is 0) */
	size_t payload_len;
	int64_t timestamp; /* X-TC-Timestamp */
} sv_tc3_input;

typedef struct sv_tc3_result {
	char date[11]; /* YYYY-MM-DD, UTC */
	char signed_headers[48];
	char hashed_payload[SV_TC3_HEX];
	char *canonical_request;
	char hashed_canonical_request[SV_TC3_HEX];
	char *string_to_sign;
	char secret_date[SV_TC3_HEX]; /* hex of the raw HMAC outputs */
	char secret_service[SV_TC3_HEX];
	char secret_signing[SV_TC3_HEX];
	char signature[SV_TC3_HEX];
	char *authorization; /* value of the Authorization header */
} sv_tc3_result;

int sv_tc3_sign(const sv_tc3_input *in, sv_tc3_result *out, char *err, size_t errlen);
void sv_tc3_result_clear(sv_tc3_result *r);
/* sv_tc3_date - UTC date of a Unix timestamp; 0 or -1 */
int sv_tc3_date(int64_t timestamp, char date[11]);
/* sv_tc3_sha256_hex - lowercase hex SHA-256 of data */
int sv_tc3_sha256_hex(const void *data, size_t len, char hex[SV_TC3_HEX]);

#endif
