/*
 * NAME
 *	snapshot 3h - the cache's persistent copy (CacheFile)
 * SYNOPSIS
 *	#include "snapshot.h"
 *
 *	int sv_snapshot_save(sv_cache *c, const char *path, int64_t now,
 *			     size_t *nrec, char *err, size_t len);
 *	int sv_snapshot_load(const char *path, int64_t now, const sv_cache_ttl *t,
 *			     sv_snapshot_put_fn put, void *arg, sv_snapshot_stats *st,
 *			     char *err, size_t len);
 *	int sv_snapshot_load_buffer(const char *buf, size_t len, int64_t now,
 *				    const sv_cache_ttl *t, sv_snapshot_put_fn put, void *arg,
 *				    sv_snapshot_stats *st, char *err, size_t len);
 *	int sv_snapshot_format(sv_cache *c, sv_buf *out, int64_t now, size_t *nrec);
 *	sv_snapshot_format_ex, sv_snapshot_save_ex, sv_snapshot_load_ex,
 *	sv_snapshot_load_buffer_ex: the same with a const sv_snapshot_ctx *x
 *	after now (the wall clock and the account, below).
 * DESCRIPTION
 *	Format, version 1 (UTF-8 text, one record per line, fields separated
 *	by one TAB, lines end in LF; in every field "\\" "\t" "\n" "\r" stand
 *	for backslash, TAB, LF, CR and no other backslash sequence is valid):
 *
 *	  sesverify-cache TAB 1 TAB written_at_ms [TAB account] LF
 *	  D TAB domain TAB state TAB flags TAB fetched_at_ms TAB expires_at_ms
 *	    TAB api_checked_at_ms TAB failures TAB request_id TAB error_code
 *	    TAB error_message TAB nattrs LF
 *	  A TAB type TAB send_domain TAB expected TAB current TAB status LF
 *	    (exactly nattrs A lines follow their D line; status is 0 or 1)
 *	  END TAB number_of_D_lines TAB checksum LF
 *
 *	state is a name of sv_state_name(); flags is decimal (only the
 *	"listed" 2 and "enabled" 4 bits are kept); times are Unix ms (wall
 *	time; the cache itself runs on a monotonic clock), 0 for never;
 *	checksum is 16 lowercase hex digits, FNV-1a 64 of every byte
 *	before the END line.  Unknown-state and error records are not
 *	written (they hold no answer).
 *
 *	Whole-file rejection (logged, the cache starts empty): wrong magic
 *	(foreign file), a version other than 1 (future), no END line
 *	(truncated), checksum or count mismatch (corrupt), an unknown line
 *	type or an A line without its D line.  Per-record rejection (counted
 *	in st->bad, the rest still loads): a domain that is not in normal
 *	form, an unknown state, bad numbers, too many attributes, bad
 *	escapes, times in the future.  Records past expires+MaxStale are
 *	dropped as st->expired.
 *
 *	Saving writes a temporary file in the same directory (mode 0600),
 *	fsyncs it, renames it over path and fsyncs the directory, so a crash
 *	leaves either the old or the new file.
 * DIAGNOSTICS
 *	0 on success; -1 with a reason in err.
 */
#ifndef SV_SNAPSHOT_H
#define SV_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cache.h"

#define SV_SNAPSHOT_MAGIC   "sesverify-cache"
#define SV_SNAPSHOT_VERSION 1

typedef struct sv_snapshot_stats {
	size_t loaded;  /* records handed to put */
	size_t bad;     /* records skipped as invalid */
	size_t expired; /* records past MaxStale */
} sv_snapshot_stats;

typedef int (*sv_snapshot_put_fn)(const char *domain, const sv_cache_rec *rec, void *arg);

/*
 * struct sv_snapshot_ctx - how the cache's records meet the file
 *	shift: Unix ms minus cache-clock ms (sv_cache_wall_shift); times are
 *	written as wall time and turned back into cache-clock time at load,
 *	within sane bounds (fetched in the past, expiring within a TTL).
 *	account: the account identity written in the header; at load a file
 *	of another account is refused (one that names none, from an older
 *	version or a tool, is taken as this account's).  NULL: not written, any
 *	file accepted.  The functions without _ex use shift 0 and no account.
 */
typedef struct sv_snapshot_ctx {
	int64_t shift;
	const char *account;
} sv_snapshot_ctx;

int sv_snapshot_format(sv_cache *c, sv_buf *out, int64_t now, size_t *nrec);
int sv_snapshot_format_ex(sv_cache *c, sv_buf *out, int64_t now, const sv_snapshot_ctx *x,
                          size_t *nrec);
int sv_snapshot_save_ex(sv_cache *c, const char *path, int64_t now, const sv_snapshot_ctx *x,
                        size_t *nrec, char *err, size_t errlen);
int sv_snapshot_load_ex(const char *path, int64_t now, const sv_snapshot_ctx *x,
                        const sv_cache_ttl *t, sv_snapshot_put_fn put, void *arg,
                        sv_snapshot_stats *st, char *err, size_t errlen);
int sv_snapshot_load_buffer_ex(const char *buf, size_t len, int64_t now, const sv_snapshot_ctx *x,
                               const sv_cache_ttl *t, sv_snapshot_put_fn put, void *arg,
                               sv_snapshot_stats *st, char *err, size_t errlen);
int sv_snapshot_save(sv_cache *c, const char *path, int64_t now, size_t *nrec, char *err,
                     size_t errlen);
int sv_snapshot_load(const char *path, int64_t now, const sv_cache_ttl *t, sv_snapshot_put_fn put,
                     void *arg, sv_snapshot_stats *st, char *err, size_t errlen);
int sv_snapshot_load_buffer(const char *buf, size_t len, int64_t now, const sv_cache_ttl *t,
                            sv_snapshot_put_fn put, void *arg, sv_snapshot_stats *st, char *err,
                            size_t errlen);

#endif
