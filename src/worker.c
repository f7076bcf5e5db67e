/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The og_model background worker, in the style of contrib's
 *	  autoprewarm: one process started with the server (og_model must be in
 *	  shared_preload_libraries) that
 *		- reads the YAML profile named by og_model.config_file (config.c)
 *		  and loads its models, so a server start serves them without any
 *		  SQL call; until that first pass is done, a lookup of a model that
 *		  is not loaded waits for it (store.c, at most 30 s);
 *		- every refresh interval asks MLflow where the alias of each model
 *		  loaded by alias ('@champion', 'models:/m@champion') points, and
 *		  loads the new version when it moved (a hot swap: queries keep
 *		  running on the old one until it is published);
 *		- re-reads its profile on SIGHUP (pg_ctl reload): models added or
 *		  given a new ref are loaded; a bad profile is logged and the old
 *		  one kept;
 *		- keeps serving through an MLflow outage: a failed check or load
 *		  changes nothing loaded, is logged, and is retried with exponential
 *		  backoff (1 s doubling up to the profile's limits.max_backoff).
 *
 * The worker connects to the profile's database (default postgres) as the
 * bootstrap superuser, where og_model's tables are read (the training
 * reference of a version); each load runs in a transaction of its own.
 * Changing the profile's database restarts the worker.  The profile's
 * limits (http_timeout_ms, max_artifact_bytes) apply to the worker's own
 * requests; its tracking URI and credentials are every backend's defaults
 * (registry.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "blob.h"
#include "config.h"
#include "load.h"
#include "source.h"
#include "store.h"
#include "worker.h"

#define OG_DEFAULT_REFRESH_MS	60000
#define OG_FIRST_RETRY_MS		1000

PGDLLEXPORT void og_model_worker_main(Datum arg);

/* GUCs */
char	   *og_config_file = NULL;
static int	og_refresh_interval_ms = -1;

/* A model of the profile, and whether it has been loaded as it says. */
typedef struct OgWorkerModel
{
	char	   *name;
	char	   *ref;
	bool		done;
	int			failures;
	TimestampTz next_try;
} OgWorkerModel;

/* A model loaded by alias, as the store has it. */
typedef struct OgFollowed
{
	char	   *name;
	char	   *ref;
	char	   *version;
} OgFollowed;

typedef struct OgFollowList
{
	int			n;
	int			cap;
	OgFollowed *items;
} OgFollowList;

/* The worker's state */
static MemoryContext profile_cxt = NULL;
static OgConfig *profile = NULL;
static OgWorkerModel *models = NULL;
static int	n_models = 0;
static int	follow_failures = 0;
static TimestampTz next_refresh = 0;

void
OgWorkerInit(void)
{
	BackgroundWorker worker;

	DefineCustomStringVariable("og_model.config_file",
							   "YAML profile of og_model: tracking server, credentials by environment variable, models to load at start.",
							   "A path relative to the data directory, or absolute.  Empty: no profile.",
							   &og_config_file,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("og_model.refresh_interval",
							"How often the og_model worker checks the aliases of models loaded by alias.",
							"-1: the profile's refresh_interval (default 60 s); 0: aliases are not followed.",
							&og_refresh_interval_ms,
							-1, -1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* on a hot standby too: its loads only read */
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = 10;
	strlcpy(worker.bgw_library_name, "og_model", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "og_model_worker_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "og_model worker", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "og_model worker", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

OgConfig *
OgWorkerProfile(void)
{
	return profile;
}

bool
OgWorkerWillPreload(void)
{
	return og_config_file != NULL && og_config_file[0] != '\0';
}

/* Log an error caught from a load or check as a WARNING, and forget it. */
static void
OgWorkerReport(MemoryContext cxt, const char *retry)
{
	OgWarnError(OgTakeError(cxt), "og_model worker: ", NULL, retry);
}

/* Read the profile; NULL (logged) when there is none or it is bad. */
static OgConfig *
OgWorkerReadProfile(MemoryContext *cxt_out)
{
	MemoryContext cxt;
	MemoryContext old = CurrentMemoryContext;
	OgConfig   *volatile cfg = NULL;

	*cxt_out = NULL;
	if (!OgWorkerWillPreload())
		return NULL;
	cxt = AllocSetContextCreate(TopMemoryContext, "og_model profile", ALLOCSET_SMALL_SIZES);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		cfg = OgConfigRead(og_config_file, WARNING);
	}
	PG_CATCH();
	{
		OgWorkerReport(old, "The worker keeps its previous profile, if any; fix the file and reload.");
		cfg = NULL;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	if (cfg == NULL)
		MemoryContextDelete(cxt);
	else
		*cxt_out = cxt;
	return cfg;
}

/* Take a new profile: its models are loaded unless loaded as they are. */
static void
OgWorkerUseProfile(OgConfig *cfg, MemoryContext cxt)
{
	OgWorkerModel *next = MemoryContextAllocZero(cxt, sizeof(OgWorkerModel) *
												 Max(cfg->n_models, 1));
	int			i,
				j;

	for (i = 0; i < cfg->n_models; i++)
	{
		next[i].name = cfg->models[i].name;
		next[i].ref = cfg->models[i].ref;
		for (j = 0; j < n_models; j++)
			if (strcmp(models[j].name, next[i].name) == 0 &&
				strcmp(models[j].ref, next[i].ref) == 0)
				next[i].done = models[j].done;
	}
	if (profile_cxt)
		MemoryContextDelete(profile_cxt);
	profile_cxt = cxt;
	profile = cfg;
	models = next;
	n_models = cfg->n_models;

	/*
	 * The profile's limits hold for the worker's own requests; a limit taken
	 * out of the profile gives the setting back.
	 */
	SetConfigOption("og_model.http_timeout_ms",
					cfg->http_timeout_ms > 0 ? psprintf("%d", cfg->http_timeout_ms) : NULL,
					PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("og_model.max_artifact_bytes",
					cfg->max_artifact_bytes > 0 ?
					psprintf(INT64_FORMAT, Min(cfg->max_artifact_bytes, (int64) INT_MAX)) : NULL,
					PGC_SUSET, PGC_S_OVERRIDE);
}

static int
OgWorkerRefreshMs(void)
{
	if (og_refresh_interval_ms >= 0)
		return og_refresh_interval_ms;
	return profile ? profile->refresh_interval_ms : OG_DEFAULT_REFRESH_MS;
}

/* The delay before retry number failures (1, 2, ...). */
static long
OgWorkerBackoffMs(int failures, long base_ms)
{
	long		max_ms = profile ? profile->max_backoff_ms : 600000;
	long		delay = Max(base_ms, OG_FIRST_RETRY_MS);
	int			i;

	for (i = 1; i < failures && delay < max_ms; i++)
		delay *= 2;
	return Min(delay, Max(max_ms, base_ms));
}

/*
 * Load name from ref in a transaction of its own; false (logged as a
 * WARNING, nothing changed) when it fails.  *version gets the version now
 * serving.
 */
static bool
OgWorkerLoad(const char *name, const char *ref, const char *retry, char **version)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, psprintf("loading model \"%s\" from \"%s\"", name, ref));
	PG_TRY();
	{
		OgBlobHeader *blob = OgLoadModel(name, ref);
		const char *v = OgBlobString(blob, blob->version);

		if (version)
			*version = MemoryContextStrdup(cxt, v ? v : "");
		PopActiveSnapshot();
		CommitTransactionCommand();
		ok = true;
	}
	PG_CATCH();
	{
		OgWorkerReport(cxt, retry);
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}

/* Load the profile's models not yet loaded whose time has come. */
static void
OgWorkerLoadProfileModels(TimestampTz now)
{
	int			i;

	for (i = 0; i < n_models; i++)
	{
		OgWorkerModel *m = &models[i];
		char	   *version = NULL;
		long		delay;

		if (ShutdownRequestPending)
			return;
		if (m->done || m->next_try > now)
			continue;
		delay = OgWorkerBackoffMs(m->failures + 1, OG_FIRST_RETRY_MS);
		if (OgWorkerLoad(m->name, m->ref,
						 psprintf("The worker tries again in %ld ms.", delay), &version))
		{
			ereport(LOG,
					(errmsg("og_model worker: loaded model \"%s\" version %s from \"%s\"",
							m->name, version[0] ? version : "(none)", m->ref)));
			m->done = true;
			m->failures = 0;
		}
		else
		{
			m->failures++;
			m->next_try = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay);
		}
		CHECK_FOR_INTERRUPTS();
	}
}

/* Is ref an alias, and of which registered model?  Fills model, alias. */
static bool
OgRefAlias(const char *name, const char *ref, char **model, char **alias)
{
	const char *at;

	if (ref[0] == '@')
	{
		*model = pstrdup(name);
		*alias = pstrdup(ref + 1);
		return (*alias)[0] != '\0';
	}
	if (strncmp(ref, "models:/", 8) != 0 || (at = strrchr(ref, '@')) == NULL)
		return false;
	*model = pnstrdup(ref + 8, at - (ref + 8));
	*alias = pstrdup(at + 1);
	return (*model)[0] != '\0' && (*alias)[0] != '\0';
}

static void
OgCollectFollowed(const OgBlobHeader *m, void *arg)
{
	OgFollowList *list = (OgFollowList *) arg;
	const char *ref = OgBlobString(m, m->ref);
	const char *version = OgBlobString(m, m->version);

	if (ref == NULL || (ref[0] != '@' && strncmp(ref, "models:/", 8) != 0) ||
		strchr(ref, '@') == NULL)
		return;
	if (list->n == list->cap)
	{
		list->cap = Max(list->cap * 2, 8);
		list->items = list->items ?
			repalloc(list->items, sizeof(OgFollowed) * list->cap) :
			palloc(sizeof(OgFollowed) * list->cap);
	}
	list->items[list->n].name = pstrdup(OgBlobString(m, m->name));
	list->items[list->n].ref = pstrdup(ref);
	list->items[list->n].version = pstrdup(version ? version : "");
	list->n++;
}

/* Where does the alias point?  false (logged) when MLflow did not say. */
static bool
OgWorkerAliasVersion(const char *model, const char *alias, char **version,
					 const char *retry)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = false;

	PG_TRY();
	{
		*version = OgRegistryAliasVersion(model, alias);
		ok = true;
	}
	PG_CATCH();
	{
		OgWorkerReport(cxt, retry);
	}
	PG_END_TRY();
	return ok;
}

/*
 * A version an alias moved to that would not load: tried again with
 * backoff while the alias points at it, so one bad version neither stops
 * the other models from following nor is downloaded at every turn.
 */
typedef struct OgBadVersion
{
	char		name[NAMEDATALEN];
	char		version[32];
	int			failures;
	TimestampTz next_try;
} OgBadVersion;

#define OG_MAX_BAD_VERSIONS 64
static OgBadVersion bad_versions[OG_MAX_BAD_VERSIONS];
static int	n_bad_versions = 0;

static OgBadVersion *
OgBadVersionFind(const char *name, const char *version, bool create)
{
	int			i;

	for (i = 0; i < n_bad_versions; i++)
		if (strcmp(bad_versions[i].name, name) == 0)
		{
			if (strcmp(bad_versions[i].version, version) != 0)
			{
				if (!create)
					return NULL;
				/* another version of that model: start over */
				strlcpy(bad_versions[i].version, version, sizeof(bad_versions[i].version));
				bad_versions[i].failures = 0;
			}
			return &bad_versions[i];
		}
	if (!create)
		return NULL;
	if (n_bad_versions == OG_MAX_BAD_VERSIONS)
		n_bad_versions--;		/* forget the last one */
	memset(&bad_versions[n_bad_versions], 0, sizeof(OgBadVersion));
	strlcpy(bad_versions[n_bad_versions].name, name, NAMEDATALEN);
	strlcpy(bad_versions[n_bad_versions].version, version, sizeof(bad_versions[0].version));
	return &bad_versions[n_bad_versions++];
}

static void
OgBadVersionForget(const char *name)
{
	int			i;

	for (i = 0; i < n_bad_versions; i++)
		if (strcmp(bad_versions[i].name, name) == 0)
		{
			bad_versions[i] = bad_versions[--n_bad_versions];
			return;
		}
}

/*
 * Check every model loaded by alias; load those whose alias moved.  An
 * MLflow server that does not answer ends the turn and backs off; a
 * version that does not load backs off alone.
 */
static void
OgWorkerFollowAliases(void)
{
	OgFollowList list = {0, 0, NULL};
	bool		failed = false;
	long		delay = OgWorkerBackoffMs(follow_failures + 1, OgWorkerRefreshMs());
	char	   *retry = psprintf("The worker tries again in %ld ms.", delay);
	int			i;

	OgStoreForEach(OgCollectFollowed, &list);
	for (i = 0; i < list.n && !failed && !ShutdownRequestPending; i++)
	{
		OgFollowed *f = &list.items[i];
		char	   *model;
		char	   *alias;
		char	   *version = NULL;
		OgBadVersion *bad;

		if (!OgRefAlias(f->name, f->ref, &model, &alias))
			continue;
		if (!OgWorkerAliasVersion(model, alias, &version, retry))
			failed = true;
		else if (version == NULL)
			ereport(LOG,
					(errmsg("og_model worker: alias \"%s\" of registered model \"%s\" is gone; model \"%s\" keeps version %s",
							alias, model, f->name, f->version)));
		else if (strcmp(version, f->version) == 0)
			OgBadVersionForget(f->name);
		else if ((bad = OgBadVersionFind(f->name, version, false)) == NULL ||
				 GetCurrentTimestamp() >= bad->next_try)
		{
			char	   *loaded = NULL;
			long		bad_delay = OgWorkerBackoffMs((bad ? bad->failures : 0) + 1,
													  OgWorkerRefreshMs());

			ereport(LOG,
					(errmsg("og_model worker: alias \"%s\" of registered model \"%s\" moved from version %s to %s; loading model \"%s\"",
							alias, model, f->version, version, f->name)));
			if (OgWorkerLoad(f->name, f->ref,
							 psprintf("Model \"%s\" keeps version %s; the worker tries again in %ld ms.",
									  f->name, f->version, bad_delay),
							 &loaded))
			{
				OgBadVersionForget(f->name);
				ereport(LOG,
						(errmsg("og_model worker: model \"%s\" now serves version %s",
								f->name, loaded)));
			}
			else
			{
				bad = OgBadVersionFind(f->name, version, true);
				bad->failures++;
				bad->next_try = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), bad_delay);
			}
		}
		CHECK_FOR_INTERRUPTS();
	}

	if (failed)
		follow_failures++;
	else
	{
		if (follow_failures > 0)
			ereport(LOG,
					(errmsg("og_model worker: MLflow answers again; aliases are followed every %d ms",
							OgWorkerRefreshMs())));
		follow_failures = 0;
	}
	next_refresh = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
											   failed ? delay : OgWorkerRefreshMs());
}

/* Milliseconds until something is due, or -1 when nothing is. */
static long
OgWorkerNextDue(TimestampTz now)
{
	TimestampTz due = 0;
	int			i;

	for (i = 0; i < n_models; i++)
		if (!models[i].done && (due == 0 || models[i].next_try < due))
			due = models[i].next_try;
	if (profile && OgWorkerRefreshMs() > 0 && (due == 0 || next_refresh < due))
		due = next_refresh;
	if (due == 0)
		return -1;
	return Max(TimestampDifferenceMilliseconds(now, due), 0);
}

static void
OgWorkerExit(int code, Datum arg)
{
	OgStorePreloadDone();
}

void
og_model_worker_main(Datum arg)
{
	MemoryContext loop_cxt;
	MemoryContext cxt;
	OgConfig   *cfg;
	char	   *database;
	bool		first_pass = true;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	before_shmem_exit(OgWorkerExit, (Datum) 0);

	/* a profile first: it names the database */
	cfg = OgWorkerReadProfile(&cxt);
	while (cfg == NULL)
	{
		OgStorePreloadDone();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if (ShutdownRequestPending)
			proc_exit(0);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			cfg = OgWorkerReadProfile(&cxt);
		}
	}
	database = MemoryContextStrdup(TopMemoryContext, cfg->database ? cfg->database : "postgres");
	BackgroundWorkerInitializeConnection(database, NULL, 0);
	pgstat_report_appname("og_model worker");
	OgWorkerUseProfile(cfg, cxt);
	OgStorePreloadBegin();
	ereport(LOG,
			(errmsg("og_model worker: profile \"%s\": %d models in database \"%s\", aliases followed every %d ms",
					og_config_file, n_models, database, OgWorkerRefreshMs())));
	next_refresh = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), OgWorkerRefreshMs());

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "og_model worker loop",
									 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		TimestampTz now;
		long		wait_ms;

		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			break;
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			cfg = OgWorkerReadProfile(&cxt);
			if (cfg != NULL)
			{
				const char *db = cfg->database ? cfg->database : "postgres";

				if (strcmp(db, database) != 0)
				{
					ereport(LOG,
							(errmsg("og_model worker: the profile's database changed from \"%s\" to \"%s\"; restarting",
									database, db)));
					proc_exit(1);
				}
				OgWorkerUseProfile(cfg, cxt);
				if (follow_failures == 0)
					next_refresh = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
															   OgWorkerRefreshMs());
				ereport(LOG,
						(errmsg("og_model worker: profile \"%s\" reloaded: %d models, aliases followed every %d ms",
								og_config_file, n_models, OgWorkerRefreshMs())));
			}
			else if (!OgWorkerWillPreload())
			{
				/* no profile any more: nothing to load or follow */
				if (profile_cxt)
					MemoryContextDelete(profile_cxt);
				profile_cxt = NULL;
				profile = NULL;
				models = NULL;
				n_models = 0;
			}
		}

		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);
		now = GetCurrentTimestamp();
		OgWorkerLoadProfileModels(now);
		if (first_pass)
		{
			/* every model was tried once: queries stop waiting */
			OgStorePreloadDone();
			first_pass = false;
		}
		now = GetCurrentTimestamp();
		if (profile && OgWorkerRefreshMs() > 0 && now >= next_refresh &&
			!ShutdownRequestPending)
			OgWorkerFollowAliases();
		MemoryContextSwitchTo(TopMemoryContext);

		wait_ms = OgWorkerNextDue(GetCurrentTimestamp());
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (wait_ms >= 0 ? WL_TIMEOUT : 0),
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	proc_exit(0);
}
