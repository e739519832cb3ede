/*
 * NAME
 *	cache 3h - the verification cache: records, TTL rules, backends
 * SYNOPSIS
 *	#include "cache.h"
 *
 *	sv_cache *sv_cache_open(const sv_cache_backend *be, size_t max_entries,
 *				char *err, size_t len);
 *	int  sv_cache_peek(sv_cache *c, const char *domain, int64_t now,
 *			   sv_entry_view *v, sv_cache_rec *meta);
 *	int  sv_cache_mark(sv_cache *c, const char *domain, unsigned set,
 *			   unsigned clear, int create);
 *	int  sv_cache_get(sv_cache *c, const char *domain, sv_cache_rec *out);
 *	int  sv_cache_put(sv_cache *c, const char *domain, const sv_cache_rec *rec);
 *	int  sv_cache_del(sv_cache *c, const char *domain);
 *	void sv_cache_walk(sv_cache *c, sv_cache_walk_fn fn, void *arg);
 *	size_t sv_cache_count(sv_cache *c);
 *	void sv_cache_close(sv_cache *c);
 *
 *	Pure rules (no cache object, "now" passed in; table-tested):
 *	void sv_cache_ttl_init(sv_cache_ttl *t, const sv_config *cfg);
 *	void sv_cache_apply_answer(sv_cache_rec *r, const sv_identity *id,
 *				   int64_t now, const sv_cache_ttl *t);
 *	void sv_cache_apply_error(sv_cache_rec *r, const sv_identity *id,
 *				  int64_t now, const sv_cache_ttl *t, unsigned rnd);
 *	int  sv_cache_apply_extend(sv_cache_rec *r, int64_t now, const sv_cache_ttl *t);
 *	void sv_cache_apply_not_exist(sv_cache_rec *r, const char *why, int64_t now,
 *				      const sv_cache_ttl *t);
 *	int  sv_cache_servable(const sv_cache_rec *r, int64_t now, const sv_cache_ttl *t);
 *	void sv_cache_fill_view(const sv_cache_rec *r, int64_t now, sv_entry_view *v);
 * DESCRIPTION
 *	The front (cache.c) owns the record type, its validation, the TTL
 *	and serve-stale rules and the counters; a backend (struct
 *	sv_cache_backend) owns storage only.  cache_mem.c is the in-process
 *	backend (sharded hash tables with LRU eviction); a shared backend
 *	(Redis) can fill the same vtable later.
 *
 *	Times are milliseconds of the cache clock (sv_cache_now_ms: monotonic,
 *	so a step of the wall clock changes no TTL); 0 means "never".  They
 *	become Unix ms only in CacheFile (snapshot.c) and in views' time_t
 *	fields (the engine converts).
 *	A record's state is the last answer; "stale" is derived: now is past
 *	expires_at.  A stale record keeps serving until expires_at+MaxStale
 *	(sv_cache_servable); past that it is reported as unknown.
 *
 *	Serve-stale rules (sv_cache_apply_error): a failed refresh of a
 *	verified, unverified or not_exist record keeps that state (so an
 *	outage neither rejects a verified sender nor verifies an unverified
 *	one) and only schedules a retry with jittered exponential backoff;
 *	once the record is past MaxStale, or when there is no older answer,
 *	the state becomes error for ErrorTTL (times the backoff factor).
 *
 *	sv_cache_peek() is the hot path: it copies into a fixed-size view
 *	(no allocation, no I/O) and fills meta's scalar fields only.
 * DIAGNOSTICS
 *	Functions returning int give 0 on success, -1 when absent or on
 *	allocation failure.  Counters: cache.evicted.
 */
#ifndef SV_CACHE_H
#define SV_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "sesverify.h"

/* record flags */
#define SV_REC_REFRESHING   0x01 /* queued or in flight (set by the refresher) */
#define SV_REC_LISTED       0x02 /* seen in ListEmailIdentities */
#define SV_REC_ENABLED      0x04 /* ... with SendingEnabled true */
#define SV_REC_PERSIST_MASK (SV_REC_LISTED | SV_REC_ENABLED)

#define SV_ATTR_MAX 32 /* attributes kept per record */

typedef struct sv_cache_rec {
	sv_state state;
	unsigned flags;
	int64_t fetched_at;     /* last answer or pre-check extension */
	int64_t expires_at;     /* stale from here */
	int64_t api_checked_at; /* last API answer (MaxApiAge counts from here) */
	int64_t next_try;       /* after a failure: no retry before this */
	unsigned failures;      /* consecutive failed refreshes */
	char request_id[SV_REQID_MAX];
	char error_code[SV_ECODE_MAX];
	char *error_message; /* owned, or NULL */
	sv_attr *attrs;      /* owned */
	size_t nattrs;
} sv_cache_rec;

/* TTLs in ms, DESIGN.md defaults for every 0 in the config */
typedef struct sv_cache_ttl {
	int64_t verified, unverified, not_exist, error;
	int64_t max_api_age, max_stale;
} sv_cache_ttl;

typedef void (*sv_cache_walk_fn)(const char *domain, const sv_cache_rec *rec, void *arg);

/*
 * struct sv_cache_backend - storage only; every function is thread-safe.
 *	peek copies into v/meta without allocating and refreshes LRU order;
 *	mark ORs set and clears clear in the flags, inserting an unknown
 *	record when absent and create is true, and returns the previous
 *	flags (-1 when absent and not created, -2 on ENOMEM); put replaces
 *	the whole record with a deep copy; get deep-copies out; walk holds
 *	the backend's lock of each part while fn runs (fn must not call back).
 */
typedef struct sv_cache_backend {
	const char *name;
	void *(*open)(size_t max_entries, char *err, size_t errlen);
	void (*close)(void *be);
	int (*peek)(void *be, const char *domain, int64_t now, sv_entry_view *v,
	            sv_cache_rec *meta);
	int (*mark)(void *be, const char *domain, unsigned set, unsigned clear, int create);
	int (*get)(void *be, const char *domain, sv_cache_rec *out);
	int (*put)(void *be, const char *domain, const sv_cache_rec *rec);
	int (*del)(void *be, const char *domain);
	void (*walk)(void *be, sv_cache_walk_fn fn, void *arg);
	size_t (*count)(void *be);
} sv_cache_backend;

extern const sv_cache_backend sv_cache_mem_backend;

typedef struct sv_cache sv_cache;

sv_cache *sv_cache_open(const sv_cache_backend *be, size_t max_entries, char *err, size_t errlen);
void sv_cache_close(sv_cache *c);
int sv_cache_peek(sv_cache *c, const char *domain, int64_t now, sv_entry_view *v,
                  sv_cache_rec *meta);
int sv_cache_mark(sv_cache *c, const char *domain, unsigned set, unsigned clear, int create);
int sv_cache_get(sv_cache *c, const char *domain, sv_cache_rec *out);
int sv_cache_put(sv_cache *c, const char *domain, const sv_cache_rec *rec);
int sv_cache_del(sv_cache *c, const char *domain);
void sv_cache_walk(sv_cache *c, sv_cache_walk_fn fn, void *arg);
size_t sv_cache_count(sv_cache *c);

/* records */
void sv_cache_rec_clear(sv_cache_rec *r);
int sv_cache_rec_copy(sv_cache_rec *dst, const sv_cache_rec *src);
int sv_cache_rec_set_attrs(sv_cache_rec *r, const sv_attr *attrs, size_t n);
int sv_cache_rec_valid(const sv_cache_rec *r, const char **why);
/* sv_cache_rec_answered - r holds an answer of SES (verified, unverified, not_exist) */
int sv_cache_rec_answered(const sv_cache_rec *r);

/* rules */
void sv_cache_ttl_init(sv_cache_ttl *t, const sv_config *cfg);
int64_t sv_cache_ttl_for(const sv_cache_ttl *t, sv_state state);
int sv_cache_servable(const sv_cache_rec *r, int64_t now, const sv_cache_ttl *t);
int64_t sv_cache_backoff(unsigned failures, int64_t base, unsigned rnd);
void sv_cache_apply_answer(sv_cache_rec *r, const sv_identity *id, int64_t now,
                           const sv_cache_ttl *t);
void sv_cache_apply_error(sv_cache_rec *r, const sv_identity *id, int64_t now,
                          const sv_cache_ttl *t, unsigned rnd);
int sv_cache_apply_extend(sv_cache_rec *r, int64_t now, const sv_cache_ttl *t);
void sv_cache_apply_not_exist(sv_cache_rec *r, const char *why, int64_t now, const sv_cache_ttl *t);

/* views */
void sv_cache_fill_view(const sv_cache_rec *r, int64_t now, sv_entry_view *v);
void sv_cache_fill_fail(const sv_attr *attrs, size_t n, sv_entry_view *v);
void sv_cache_shorten(char *dst, size_t dstlen, const char *src);

/* sv_cache_now_ms - the cache clock (monotonic ms); sv_cache_wall_shift -
 * what to add to a cache-clock time for Unix ms at this moment */
int64_t sv_cache_now_ms(void);
int64_t sv_cache_wall_shift(void);

#endif
