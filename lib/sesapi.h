/*
 * NAME
 *	sesapi 3 - Tencent Cloud SES 2020-10-02 client internals
 * SYNOPSIS
 *	#include "sesapi.h"
 *
 *	int sv_sesapi_parse_update(const char *body, size_t len, long http_status,
 *				   sv_identity *out);
 *	int sv_sesapi_parse_list(const char *body, size_t len, long http_status,
 *				 sv_listed **items, size_t *n, long long *total,
 *				 sv_identity *err);
 *	int sv_sesapi_endpoint(const char *url, sv_endpoint *ep, char *err, size_t errlen);
 * DESCRIPTION
 *	The public client (sv_client_*) is declared in sesverify.h.  This
 *	header exposes the pure parts so that tests, the fuzzer and the CLI
 *	can use them without a network.
 *
 *	sv_sesapi_parse_update() turns an UpdateEmailIdentity (or
 *	GetEmailIdentity) body into *out, leaving out->domain alone and
 *	overwriting every other field (clear *out first if it owned memory).
 *	It returns 0 when the body is a well-formed API answer, success or
 *	API error; -1 when it is not (state error, error_code
 *	"Parse.InvalidResponse", class retryable) or when http_status is not
 *	200 (state error, class retryable, error_code the API's code when the
 *	body carries one, else "Transport.HTTP<status>").  A malformed body
 *	is never "verified".
 *
 *	sv_sesapi_parse_list() appends one ListEmailIdentities page to *items
 *	(names normalised; invalid ones skipped with a warning) and returns
 *	the number of elements the page held (valid or not, for the next
 *	Offset), or -1 with *err filled.  *total is the Total field.
 *
 *	sv_sesapi_endpoint() splits Endpoint into the URL to POST to, the
 *	Host header value (host, or host:port for a non-443 port) and the
 *	service name used in the credential scope.
 *
 *	sv_client_list_identities_paced() and sv_client_set_resend_pacer(),
 *	with their sv_pacer hooks, are public (sesverify.h): the refresher
 *	takes a rate-limiter grant in before() and reports the answer in
 *	after(), for every page and for every libcurl re-send.
 */
#ifndef SV_SESAPI_H
#define SV_SESAPI_H

#include <stddef.h>
#include "sesverify.h"

#define SV_API_VERSION        "2020-10-02"
#define SV_API_BODY_MAX       (1024 * 1024) /* bytes of a response we read */
#define SV_API_MAX_ATTRS      32
#define SV_API_VALUE_MAX      4096 /* ExpectedValue / CurrentValue / SendDomain bytes */
#define SV_API_MESSAGE_MAX    1024
#define SV_API_LIST_LIMIT     100
#define SV_API_LIST_MAX_PAGES 100

typedef struct sv_endpoint {
	char url[320];    /* https://host[:port]/ */
	char host[300];   /* Host header value, lower case */
	char service[64]; /* credential-scope service, "ses" */
} sv_endpoint;

int sv_sesapi_parse_update(const char *body, size_t len, long http_status, sv_identity *out);
int sv_sesapi_parse_list(const char *body, size_t len, long http_status, sv_listed **items,
                         size_t *n, long long *total, sv_identity *err);
int sv_sesapi_endpoint(const char *url, sv_endpoint *ep, char *err, size_t errlen);
/* sv_client_set_stop_flag - *stop non-zero: the request in flight is abandoned */
void sv_client_set_stop_flag(sv_client *c, const int *stop);

#endif
