/*
 * NAME
 *	milterfuncs 3 - libmilter callbacks of sesverify-milter
 * SYNOPSIS
 *	#include "milterfuncs.h"
 *
 *	struct smfiDesc *milter_desc(void)
 *	bool milter_enter(void)
 *	void milter_leave(void)
 *	void milter_drain(int64_t timeout_ms)
 * DESCRIPTION
 *	milter_desc() is the description for smfi_register().
 *	milter_enter() and milter_leave() bracket every use of the engine
 *	(milter_enter() is false once shutting down); milter_drain() waits
 *	up to timeout_ms for the callbacks inside such a bracket.
 */
#ifndef SV_MILTERFUNCS_H
#define SV_MILTERFUNCS_H

#include <stdbool.h>
#include <stdint.h>

struct smfiDesc;
struct smfiDesc *milter_desc(void);
bool milter_enter(void);
void milter_leave(void);
void milter_drain(int64_t timeout_ms);

#endif
