/*
 * buf.h - a growable byte buffer, always NUL-terminated.
 *	Used by the HTTP client (response bodies), JSON output and reply
 *	formatting.  Allocation failure is sticky: sv_buf_failed() reports it
 *	once at the end instead of after every append.
 *
 *	sv_utf8_seq() is the one UTF-8 rule of the tree (RFC 3629): the
 *	length of the valid sequence at s (avail octets), 0 when invalid.
 *	The JSON writer (sv_buf_json_string) and the JSON reader (lib/json.c)
 *	both use it, so that reading and writing agree.
 *
 *	Part of libsvutil (util/): not installed, linked by libsesverify and
 *	by the programs of milter/ alike; it depends on libc only.
 */
#ifndef SV_BUF_H
#define SV_BUF_H

#include <stddef.h>
#include <stdarg.h>
#include "compat.h"

typedef struct sv_buf {
	char *data;
	size_t len, cap;
	size_t limit; /* 0: unlimited; appends past it set failed */
	int failed;
} sv_buf;

void sv_buf_init(sv_buf *b, size_t limit);
int sv_buf_append(sv_buf *b, const void *data, size_t len);
int sv_buf_puts(sv_buf *b, const char *s);
int sv_buf_printf(sv_buf *b, const char *fmt, ...) SV_PRINTF(2, 3);
/* sv_buf_json_string - append s as a quoted, escaped JSON string */
int sv_buf_json_string(sv_buf *b, const char *s);
void sv_buf_reset(sv_buf *b);
size_t sv_utf8_seq(const unsigned char *s, size_t avail);
void sv_buf_free(sv_buf *b);
static inline int sv_buf_failed(const sv_buf *b)
{
	return b->failed;
}

#endif
