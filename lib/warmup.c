/*
 * warmup.c - the warm-up: fill the cache from the identity list at start
 *	(see refresh_int.h).
 *	Owns the rule for listed domains never asked about: enabled is
 *	verified at once, listed but not enabled is queued for its
 *	attributes (DESIGN.md).  It does not fetch the list itself
 *	(identity_list.c) and keeps answers it finds (a snapshot's).
 */
#include "config.h"

#include <stdlib.h>

#include "log.h"
#include "refresh_int.h"

/* sv_warm_up - fill the cache from a freshly fetched identity list */
void sv_warm_up(const sv_rules *r, sv_tools *w)
{
	sv_listed *items;
	size_t n;
	int64_t now;
	sv_cache_ttl t;

	if (sv_idlist_check(r->list, w, "", 1, sv_cache_now_ms()) == SV_L_UNAVAILABLE)
		return;
	items = sv_idlist_copy(r->list, &n);
	t = r->ttl(r->arg);
	now = sv_cache_now_ms();
	for (size_t i = 0; i < n; i++) {
		sv_cache_rec rec;
		if (sv_cache_get(r->cache, items[i].name, &rec) == 0 &&
		    (rec.state == SV_STATE_VERIFIED || rec.state == SV_STATE_UNVERIFIED)) {
			sv_cache_rec_clear(&rec);
			continue; /* a snapshot answer; reconcile queued it if contradicted */
		}
		sv_cache_rec_clear(&rec);
		if (items[i].sending_enabled) {
			rec.state = SV_STATE_VERIFIED;
			rec.flags = SV_REC_LISTED | SV_REC_ENABLED;
			rec.fetched_at = rec.api_checked_at = now;
			rec.expires_at = now + t.verified;
			sv_refresh_store(r, items[i].name, &rec);
		} else {
			/* DESIGN.md: listed but not enabled is unknown until its attributes are in
			 */
			sv_cache_mark(r->cache, items[i].name, SV_REC_LISTED, 0, 1);
			r->enqueue(r->arg, items[i].name, SV_PRIO_EXPIRED, 0);
		}
		if (r->env->done)
			r->env->done(items[i].name, r->env->done_arg);
	}
	sv_log(SV_LOG_INFO, "warm-up: %zu sender domains from ListEmailIdentities", n);
	free(items);
}
