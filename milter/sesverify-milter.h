/*
 * NAME
 *	sesverify-milter 3 - the worker's process-wide state
 * SYNOPSIS
 *	#include "sesverify-milter.h"
 *
 *	MILTER_NAME
 *	extern sv_engine *milter_engine;
 *	extern bool milter_foreground;
 * DESCRIPTION
 *	MILTER_NAME is the program's name (syslog ident, libmilter name).
 *	milter_engine is the worker's engine (NULL until it runs);
 *	milter_foreground is -f.  The supervisor process never touches them.
 */
#ifndef SV_SESVERIFY_MILTER_H
#define SV_SESVERIFY_MILTER_H

#include <stdbool.h>

#include "sesverify.h"

#define MILTER_NAME "sesverify-milter"

extern sv_engine *milter_engine;
extern bool milter_foreground;

#endif
