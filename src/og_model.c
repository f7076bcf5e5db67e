/*-------------------------------------------------------------------------
 *
 * og_model.c
 *	  Entry point of the og_model extension: score MLflow models in SQL.
 *
 * _PG_init only dispatches: each subsystem defines its own settings and
 * hooks (store.c: shared memory; load.c: loading).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "json.h"
#include "load.h"
#include "stats.h"
#include "store.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	OgJsonInit();
	OgStoreInit();
	OgStatsInit();
	OgLoadInit();
	OgWorkerInit();
	MarkGUCPrefixReserved("og_model");
}
