/*-------------------------------------------------------------------------
 *
 * stats.c
 *	  Serving statistics per model version, in shared memory.
 *
 * Every og_predict* call counts in backend-local memory (OgStatsPending,
 * one per model version the backend scored): calls, errors by kind, rows
 * with missing values, prediction moments and histogram; one row in
 * og_model.stats_sample_rate also has its latency timed and its features
 * binned against the version's training reference (nulls, out-of-range
 * values, histogram for PSI).  Nothing is locked per row.  The pending
 * counts are added to shared memory at the end of every query (ExecutorEnd)
 * and transaction (also on abort, so failed calls count) and every
 * OG_STATS_FLUSH_ROWS rows of a long query.
 *
 * Shared memory (og_model in shared_preload_libraries):
 *	  OgStatsControl
 *	  OgStatsEntry[max_entries]	one per model version, 4 per og_model.max_models
 *	  a DSA area in place (og_model.stats_memory_size) for each entry's
 *	  feature block: per-feature counters, the reference, feature names
 *
 * Entries are keyed by model name, version and sha256.  They are created
 * when a version is loaded (before it is published, so scorers always find
 * it), marked serving when published, dropped with og_unload_model(), and
 * a version no longer serving gives its place to a new one when the array
 * is full (oldest first).  At a clean shutdown the postmaster writes them
 * to pg_stat/og_model.stat and the next start reads them back (as
 * pg_stat_statements does); a crash loses them.
 *
 * LOCKING PROTOCOL
 *
 * OgStats->lock (named tranche "og_model_stats"):
 *	  - LW_SHARED to find an entry, to flush pending counts into it and to
 *		read entries for the views.  Counters are atomics, so flushes run
 *		concurrently; an entry's floating-point moments are merged under its
 *		spinlock (a few instructions).
 *	  - LW_EXCLUSIVE to create, drop, reset or re-reference entries and to
 *		change serving flags.
 * An entry's id is unique and never reused, and feat_gen changes whenever
 * its feature block is replaced: a flush checks both and drops counts that
 * belong to an entry or block that is gone.  The store's lock (store.c) may
 * be taken while this one is held (to see which version a name serves),
 * never the reverse.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/dsa.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "stats.h"
#include "store.h"

#define OG_STATS_FILE			"pg_stat/og_model.stat"
#define OG_STATS_FILE_MAGIC		0x53474F31	/* "1OGS" */
#define OG_STATS_FILE_VERSION	2
#define OG_MAX_VERSION_LEN		63
#define OG_SHA_LEN				64
#define OG_POOL_MAX				32

static const double OgValueLe[] = {-1e4, -1e3, -100, -10, -1, -0.1, 0, 0.1, 1, 10,
100, 1e3, 1e4, INFINITY};
static const double OgProbaLe[] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0,
INFINITY};
static double OgClassLe[OG_PRED_MAX_BUCKETS];
static const double OgLatencyLe[OG_LAT_BUCKETS] = {0.1, 0.5, 1, 2, 5, 10, 50, 100, 500,
1000, 5000, 10000, 50000, 100000, INFINITY};

typedef struct OgCounters
{
OG_COUNTER_FIELDS(pg_atomic_uint64)
} OgCounters;

StaticAssertDecl(sizeof(OgCounters) == OG_N_COUNTERS * sizeof(pg_atomic_uint64),
				 "OgCounters must be an array of atomics in disguise");

/* Set every counter to zero (init: the first time, in new memory). */
static void
OgCountersZero(OgCounters *c, bool init)
{
	pg_atomic_uint64 *a = (pg_atomic_uint64 *) c;
	int			i;

	for (i = 0; i < OG_N_COUNTERS; i++)
	{
		if (init)
			pg_atomic_init_u64(&a[i], 0);
		else
			pg_atomic_write_u64(&a[i], 0);
	}
}

typedef struct OgStatsEntry
{
	uint64		id;				/* 0: free */
	char		name[OG_MAX_NAME_LEN + 1];
	char		version[OG_MAX_VERSION_LEN + 1];	/* "" when none */
	char		sha256[OG_SHA_LEN + 1];
	bool		serving;
	bool		preparing;		/* created for a load not yet published */
	int16		pred_kind;
	int16		n_buckets;
	uint32		n_features;
	TimestampTz loaded_at;		/* 0 when not loaded since start */
	TimestampTz stats_since;

	OgCounters	c;

	slock_t		mutex;			/* protects the doubles below */
	uint64		pn;
	double		mean;
	double		m2;
	double		pmin;
	double		pmax;
	double		lat_sum_us;
	double		lat_max_us;

	uint64		feat_gen;
	dsa_pointer features;		/* OgFeatBlock, or InvalidDsaPointer */
	Size		features_size;
} OgStatsEntry;

/*
 * Feature block: this header, then pg_atomic_uint64 nulls[n], oor[n],
 * counts[total_bins], then the reference (when has_ref), then feature
 * names (uint32 offsets from names_off, then the strings).
 */
typedef struct OgFeatBlock
{
	uint32		n_features;
	uint32		has_ref;
	uint32		total_bins;
	uint32		ref_off;
	uint32		names_off;		/* 0: no names */
	uint32		size;
} OgFeatBlock;

#define OgFeatCounters(fb) \
	((pg_atomic_uint64 *) ((char *) (fb) + MAXALIGN(sizeof(OgFeatBlock))))
#define OgFeatRef(fb) \
	((fb)->has_ref ? (const OgRefHeader *) ((const char *) (fb) + (fb)->ref_off) : NULL)

typedef struct OgStatsControl
{
	LWLock	   *lock;
	int			dsa_tranche;
	int			max_entries;
	Size		area_bytes;
	uint64		next_id;
} OgStatsControl;

/* GUCs */
bool		og_stats_enabled = true;
static double og_stats_sample_rate = 0.01;
static int	og_stats_memory_kb = 8 * 1024;
static bool og_stats_save = true;

/* Shared memory */
static OgStatsControl *OgStats = NULL;
static OgStatsEntry *OgEntries;
static void *OgStatsAreaPlace;
static dsa_area *OgStatsArea = NULL;

/* This backend */
static OgStatsPending *OgPool[OG_POOL_MAX];
static int	OgPoolSize = 0;
static int	OgPoolNext = 0;
static bool OgStatsXactRegistered = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;

static void OgStatsFlushAll(void);
static void OgStatsLoadFile(void);
static void OgStatsSaveFile(int code, Datum arg);

/* --------------------------------------------------------------- memory */

static int
OgStatsMaxEntries(void)
{
	return 4 * OgStoreMaxModels();
}

static Size
OgStatsFixedBytes(void)
{
	return add_size(MAXALIGN(sizeof(OgStatsControl)),
					MAXALIGN(mul_size(OgStatsMaxEntries(), sizeof(OgStatsEntry))));
}

static Size
OgStatsShmemSize(void)
{
	return add_size(OgStatsFixedBytes(), mul_size((Size) og_stats_memory_kb, 1024));
}

static void
og_stats_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(OgStatsShmemSize());
	RequestNamedLWLockTranche("og_model_stats", 1);
}

static void
OgEntryInit(OgStatsEntry *e)
{
	memset(e, 0, sizeof(*e));
	OgCountersZero(&e->c, true);
	SpinLockInit(&e->mutex);
	e->features = InvalidDsaPointer;
}

static void
og_stats_shmem_startup(void)
{
	bool		found;
	char	   *base;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	base = ShmemInitStruct("og_model_stats", OgStatsShmemSize(), &found);
	OgStats = (OgStatsControl *) base;
	OgEntries = (OgStatsEntry *) (base + MAXALIGN(sizeof(OgStatsControl)));
	OgStatsAreaPlace = base + OgStatsFixedBytes();
	if (!found)
	{
		int			i;

		OgStats->lock = &(GetNamedLWLockTranche("og_model_stats"))->lock;
		OgStats->dsa_tranche = LWLockNewTrancheId();
		OgStats->max_entries = OgStatsMaxEntries();
		OgStats->area_bytes = mul_size((Size) og_stats_memory_kb, 1024);
		OgStats->next_id = 1;
		for (i = 0; i < OgStats->max_entries; i++)
			OgEntryInit(&OgEntries[i]);
		OgAreaCreateInPlace(OgStatsAreaPlace, OgStats->area_bytes, OgStats->dsa_tranche);
	}
	LWLockRelease(AddinShmemInitLock);
	LWLockRegisterTranche(OgStats->dsa_tranche, "og_model_stats_area");

	if (!IsUnderPostmaster)
	{
		on_shmem_exit(OgStatsSaveFile, (Datum) 0);
		if (!found)
			OgStatsLoadFile();
	}
}

static dsa_area *
OgStatsGetArea(void)
{
	if (OgStatsArea == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		OgStatsArea = dsa_attach_in_place(OgStatsAreaPlace, NULL);
		dsa_pin_mapping(OgStatsArea);
		MemoryContextSwitchTo(old);
	}
	return OgStatsArea;
}

/* ------------------------------------------------------------- hooks */

static void
og_stats_ExecutorEnd(QueryDesc *queryDesc)
{
	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
	OgStatsFlushAll();
}

static void
OgStatsXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			OgStatsFlushAll();
			break;
		default:
			break;
	}
}

static int	OgSampleEvery(void);

/* A new sample rate applies from this backend's next row on. */
static void
OgAssignSampleRate(double newval, void *extra)
{
	int			i;

	og_stats_sample_rate = newval;
	for (i = 0; i < OgPoolSize; i++)
		OgPool[i]->countdown = OgSampleEvery();
}

void
OgStatsInit(void)
{
	int			i;

	for (i = 0; i < OG_PRED_MAX_BUCKETS; i++)
		OgClassLe[i] = i;

	DefineCustomBoolVariable("og_model.stats",
							 "Collect serving statistics of og_predict calls.",
							 NULL,
							 &og_stats_enabled,
							 true,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);
	DefineCustomRealVariable("og_model.stats_sample_rate",
							 "Fraction of scored rows whose latency and features are recorded.",
							 "Feature null and out-of-range rates and drift (PSI) are computed over these rows; 1 records every row.",
							 &og_stats_sample_rate,
							 0.01, 0.0, 1.0,
							 PGC_SUSET, 0,
							 NULL, OgAssignSampleRate, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomIntVariable("og_model.stats_memory_size",
							"Shared memory for per-feature statistics and training references.",
							NULL,
							&og_stats_memory_kb,
							8 * 1024, 256, INT_MAX / 2,
							PGC_POSTMASTER, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("og_model.stats_save",
							 "Save serving statistics across server shutdowns.",
							 NULL,
							 &og_stats_save,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = og_stats_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = og_stats_shmem_startup;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = og_stats_ExecutorEnd;
}

/* ------------------------------------------------------------ entries */

static const char *
OgBlobVersion(const OgBlobHeader *blob)
{
	const char *v = OgBlobString(blob, blob->version);

	return v ? v : "";
}

static const char *
OgBlobSha(const OgBlobHeader *blob)
{
	const char *s = OgBlobString(blob, blob->sha256);

	return s ? s : "";
}

/* Caller holds the lock. */
static int
OgEntryFind(const char *name, const char *version, const char *sha)
{
	int			i;

	for (i = 0; i < OgStats->max_entries; i++)
	{
		OgStatsEntry *e = &OgEntries[i];

		if (e->id != 0 && strcmp(e->name, name) == 0 &&
			strncmp(e->version, version, OG_MAX_VERSION_LEN) == 0 &&
			strncmp(e->sha256, sha, OG_SHA_LEN) == 0)
			return i;
	}
	return -1;
}

/* The entry of a blob loaded under name, or -1; caller holds the lock. */
static int
OgEntryOfBlob(const char *name, const OgBlobHeader *blob)
{
	return OgEntryFind(name, OgBlobVersion(blob), OgBlobSha(blob));
}

/* Caller holds the lock exclusively. */
static void
OgEntryFree(OgStatsEntry *e)
{
	if (DsaPointerIsValid(e->features))
		dsa_free(OgStatsGetArea(), e->features);
	OgEntryInit(e);
}

/* The oldest entry not serving, or -1; caller holds the lock exclusively. */
static int
OgEntryVictim(void)
{
	int			i,
				best = -1;

	for (i = 0; i < OgStats->max_entries; i++)
		if (OgEntries[i].id != 0 && !OgEntries[i].serving && !OgEntries[i].preparing &&
			(best < 0 || OgEntries[i].id < OgEntries[best].id))
			best = i;
	return best;
}

/*
 * A new feature block for n features with reference ref (or NULL) and the
 * blob's feature names; InvalidDsaPointer when the area is full even after
 * evicting entries not serving.  Caller holds the lock exclusively.
 */
static dsa_pointer
OgFeatBlockCreate(uint32 n, const OgRefHeader *ref, const OgBlobHeader *blob,
				  int keep, Size *size_out)
{
	Size		counters = mul_size(add_size(mul_size(2, n), ref ? ref->total_bins : 0),
									sizeof(pg_atomic_uint64));
	Size		ref_off = add_size(MAXALIGN(sizeof(OgFeatBlock)), counters);
	Size		names_off = add_size(ref_off, ref ? MAXALIGN(OgRefSize(ref->n_features, ref->total_bins)) : 0);
	Size		names_bytes = 0;
	Size		size;
	dsa_pointer dp;
	OgFeatBlock *fb;
	pg_atomic_uint64 *c;
	uint32		i;

	if (blob && blob->feature_names)
	{
		names_bytes = mul_size(sizeof(uint32), n);
		for (i = 0; i < n; i++)
		{
			const char *fname = OgBlobFeatureName(blob, i);

			names_bytes = add_size(names_bytes, strlen(fname ? fname : "") + 1);
		}
	}
	size = add_size(names_off, names_bytes);
	if (size > PG_UINT32_MAX)
		return InvalidDsaPointer;

	for (;;)
	{
		int			victim;

		dp = dsa_allocate_extended(OgStatsGetArea(), size, DSA_ALLOC_NO_OOM | DSA_ALLOC_HUGE);
		if (DsaPointerIsValid(dp))
			break;
		victim = OgEntryVictim();
		if (victim < 0 || victim == keep)
			return InvalidDsaPointer;
		OgEntryFree(&OgEntries[victim]);
	}

	fb = dsa_get_address(OgStatsGetArea(), dp);
	memset(fb, 0, size);
	fb->n_features = n;
	fb->has_ref = ref != NULL;
	fb->total_bins = ref ? ref->total_bins : 0;
	fb->ref_off = ref ? ref_off : 0;
	fb->names_off = names_bytes ? names_off : 0;
	fb->size = size;
	c = OgFeatCounters(fb);
	for (i = 0; i < 2 * n + fb->total_bins; i++)
		pg_atomic_init_u64(&c[i], 0);
	if (ref)
		memcpy((char *) fb + ref_off, ref, OgRefSize(ref->n_features, ref->total_bins));
	if (names_bytes)
	{
		uint32	   *offs = (uint32 *) ((char *) fb + names_off);
		char	   *p = (char *) (offs + n);

		for (i = 0; i < n; i++)
		{
			const char *s = OgBlobFeatureName(blob, i);

			if (s == NULL)
				s = "";
			offs[i] = p - (char *) fb;
			strcpy(p, s);
			p += strlen(s) + 1;
		}
	}
	*size_out = size;
	return dp;
}

static void
OgEntryKind(OgStatsEntry *e, const OgBlobHeader *blob)
{
	if (blob->task == OG_TASK_MULTICLASS)
	{
		e->pred_kind = OG_PRED_CLASS;
		e->n_buckets = Min(blob->n_outputs, OG_PRED_MAX_BUCKETS - 1) + 1;
	}
	else if (blob->task == OG_TASK_BINARY &&
			 (blob->transform == OG_TRANSFORM_SIGMOID ||
			  blob->transform == OG_TRANSFORM_SIGMOID_EACH))
	{
		e->pred_kind = OG_PRED_PROBA;
		e->n_buckets = lengthof(OgProbaLe);
	}
	else
	{
		e->pred_kind = OG_PRED_VALUE;
		e->n_buckets = lengthof(OgValueLe);
	}
}

static const double *
OgBucketLe(int kind)
{
	switch (kind)
	{
		case OG_PRED_PROBA:
			return OgProbaLe;
		case OG_PRED_CLASS:
			return OgClassLe;
		default:
			return OgValueLe;
	}
}

/* The same error, with its hint, as everything else without the preload. */
static void
OgStatsRequireShmem(void)
{
	OgStoreCheckAvailable();
	if (OgStats == NULL)
		elog(ERROR, "og_model statistics are not in shared memory");
}

/*
 * Make sure the blob's version has an entry before it is published.  ref:
 * the reference to use (else the blob's own, if any).  Returns true if
 * an entry was created (OgStatsForget undoes that after a failed publish).
 */
bool
OgStatsPrepare(const OgBlobHeader *blob, const char *name,
			   const OgRefHeader *ref)
{
	int			i;
	OgStatsEntry *e;
	bool		created = false;
	bool		need_block;

	OgStatsRequireShmem();
	if (ref == NULL && blob->reference)
		ref = (const OgRefHeader *) OgBlobAt(blob, blob->reference);

	LWLockAcquire(OgStats->lock, LW_EXCLUSIVE);
	i = OgEntryOfBlob(name, blob);
	if (i < 0)
	{
		for (i = 0; i < OgStats->max_entries; i++)
			if (OgEntries[i].id == 0)
				break;
		if (i == OgStats->max_entries)
		{
			i = OgEntryVictim();
			if (i < 0)
			{
				LWLockRelease(OgStats->lock);
				ereport(WARNING,
						(errmsg("no room for statistics of model \"%s\"", name),
						 errdetail("All %d statistics entries belong to loaded models.",
								   OgStats->max_entries)));
				return false;
			}
			OgEntryFree(&OgEntries[i]);
		}
		e = &OgEntries[i];
		e->id = OgStats->next_id++;
		strlcpy(e->name, name, sizeof(e->name));
		strlcpy(e->version, OgBlobVersion(blob), sizeof(e->version));
		strlcpy(e->sha256, OgBlobSha(blob), sizeof(e->sha256));
		e->n_features = blob->n_features;
		e->stats_since = GetCurrentTimestamp();
		OgEntryKind(e, blob);
		created = true;
	}
	e = &OgEntries[i];
	e->preparing = true;
	need_block = !DsaPointerIsValid(e->features);
	if (!need_block && ref != NULL)
		need_block = !((OgFeatBlock *) dsa_get_address(OgStatsGetArea(),
													   e->features))->has_ref;
	if (need_block)
	{
		Size		size = 0;
		dsa_pointer dp = OgFeatBlockCreate(blob->n_features, ref, blob, i, &size);

		if (DsaPointerIsValid(dp))
		{
			if (DsaPointerIsValid(e->features))
				dsa_free(OgStatsGetArea(), e->features);
			e->features = dp;
			e->features_size = size;
			e->feat_gen = OgStats->next_id++;
			pg_atomic_write_u64(&e->c.sampled, 0);
		}
		else
			ereport(WARNING,
					(errmsg("no room for feature statistics of model \"%s\"", name),
					 errhint("Increase og_model.stats_memory_size.")));
	}
	LWLockRelease(OgStats->lock);
	return created;
}

/* Undo OgStatsPrepare's new entry after a failed publish. */
void
OgStatsForget(const OgBlobHeader *blob, const char *name)
{
	int			i;

	if (OgStats == NULL)
		return;
	LWLockAcquire(OgStats->lock, LW_EXCLUSIVE);
	i = OgEntryOfBlob(name, blob);
	if (i >= 0 && !OgEntries[i].serving)
		OgEntryFree(&OgEntries[i]);
	else if (i >= 0)
		OgEntries[i].preparing = false;
	LWLockRelease(OgStats->lock);
}

typedef struct OgPublished
{
	char		version[OG_MAX_VERSION_LEN + 1];
	char		sha256[OG_SHA_LEN + 1];
} OgPublished;

static void
OgPublishedVisit(const OgBlobHeader *blob, void *arg)
{
	OgPublished *pub = (OgPublished *) arg;

	strlcpy(pub->version, OgBlobVersion(blob), sizeof(pub->version));
	strlcpy(pub->sha256, OgBlobSha(blob), sizeof(pub->sha256));
}

/*
 * Caller holds the lock exclusively: mark serving the version of name that
 * the store publishes now (none if it is not loaded), so that concurrent
 * loads and unloads of one name end with the flag where the store is,
 * whatever order they finish in.  Returns the serving entry, or -1.
 * (The stats lock is held while the store's is taken, never the reverse.)
 */
static int
OgMarkServing(const char *name)
{
	OgPublished pub;
	int			i,
				me = -1;

	if (OgStoreVisitOne(name, OgPublishedVisit, &pub))
		me = OgEntryFind(name, pub.version, pub.sha256);
	for (i = 0; i < OgStats->max_entries; i++)
	{
		OgStatsEntry *e = &OgEntries[i];

		if (e->id != 0 && strcmp(e->name, name) == 0)
			e->serving = (i == me);
	}
	return me;
}

/* The blob was published under name: it serves, other versions do not. */
void
OgStatsServing(const OgBlobHeader *blob, const char *name)
{
	int			i;

	if (OgStats == NULL)
		return;
	LWLockAcquire(OgStats->lock, LW_EXCLUSIVE);
	i = OgEntryOfBlob(name, blob);
	if (i >= 0)
	{
		OgEntries[i].preparing = false;
		OgEntries[i].loaded_at = blob->loaded_at;
	}
	(void) OgMarkServing(name);
	LWLockRelease(OgStats->lock);
}

/*
 * og_unload_model: statistics of every version of the model go, except of
 * a version that another session published meanwhile.
 */
void
OgStatsDrop(const char *name)
{
	int			i,
				keep;

	if (OgStats == NULL)
		return;
	LWLockAcquire(OgStats->lock, LW_EXCLUSIVE);
	keep = OgMarkServing(name);
	for (i = 0; i < OgStats->max_entries; i++)
		if (OgEntries[i].id != 0 && i != keep && !OgEntries[i].preparing &&
			strcmp(OgEntries[i].name, name) == 0)
			OgEntryFree(&OgEntries[i]);
	LWLockRelease(OgStats->lock);
}

/* og_set_reference: new reference, feature counts start again. */
bool
OgStatsSetReference(const OgBlobHeader *blob, const char *name,
					const OgRefHeader *ref)
{
	int			i;
	bool		ok = false;

	OgStatsRequireShmem();
	LWLockAcquire(OgStats->lock, LW_EXCLUSIVE);
	i = OgEntryOfBlob(name, blob);
	if (i >= 0)
	{
		OgStatsEntry *e = &OgEntries[i];
		Size		size = 0;
		dsa_pointer dp;

		if (DsaPointerIsValid(e->features))
		{
			dsa_free(OgStatsGetArea(), e->features);
			e->features = InvalidDsaPointer;
		}
		dp = OgFeatBlockCreate(blob->n_features, ref, blob, i, &size);
		e->features = dp;
		e->features_size = size;
		e->feat_gen = OgStats->next_id++;
		pg_atomic_write_u64(&e->c.sampled, 0);
		ok = DsaPointerIsValid(dp);
	}
	LWLockRelease(OgStats->lock);

	/*
	 * This backend's counts go to the new reference from the next row on;
	 * other backends notice at their next flush.
	 */
	for (i = 0; i < OgPoolSize; i++)
		if (OgPool[i]->generation == blob->generation)
		{
			OgStatsFlushOne(OgPool[i]);
			OgPool[i]->generation = 0;
		}
	return ok;
}

/* ------------------------------------------------------------ scoring */

static void
OgPendingReset(OgStatsPending *p)
{
	p->dirty = false;
	p->ny = 0;
	memset(&p->n, 0, sizeof(p->n));
	p->pn = 0;
	p->shift = p->s1 = p->s2 = p->pmin = p->pmax = 0;
	p->lat_sum_us = p->lat_max_us = 0;
	if (p->n_features)
	{
		memset(p->nulls, 0, sizeof(uint64) * p->n_features);
		memset(p->oor, 0, sizeof(uint64) * p->n_features);
	}
	if (p->ref)
		memset(p->counts, 0, sizeof(uint64) * p->ref->total_bins);
}

static int
OgSampleEvery(void)
{
	if (og_stats_sample_rate <= 0)
		return INT_MAX;
	return (int) Min(rint(1.0 / og_stats_sample_rate), (double) INT_MAX);
}

/*
 * The pending statistics for a published blob: found in this backend's
 * pool, else set up from its shared entry.  An entry that is missing
 * (no room) still gets a pending struct, whose counts are then dropped.
 */
OgStatsPending *
OgStatsResolve(const OgBlobHeader *m)
{
	OgStatsPending *p = NULL;
	MemoryContext old;
	const char *name = OgBlobString(m, m->name);
	int			i;

	if (OgStats == NULL || name == NULL)
		return NULL;
	for (i = 0; i < OgPoolSize; i++)
		if (OgPool[i]->generation == m->generation)
			return OgPool[i];

	if (!OgStatsXactRegistered)
	{
		RegisterXactCallback(OgStatsXactCallback, NULL);
		OgStatsXactRegistered = true;
	}

	/* a free or clean pool entry, else flush and take the next one */
	for (i = 0; i < OgPoolSize && p == NULL; i++)
		if (OgPool[i]->generation == 0)
			p = OgPool[i];
	if (p == NULL && OgPoolSize < OG_POOL_MAX)
	{
		p = MemoryContextAllocZero(TopMemoryContext, sizeof(OgStatsPending));
		OgPool[OgPoolSize++] = p;
	}
	for (i = 0; i < OgPoolSize && p == NULL; i++)
		if (!OgPool[i]->dirty)
			p = OgPool[i];
	if (p == NULL)
	{
		p = OgPool[OgPoolNext];
		OgPoolNext = (OgPoolNext + 1) % OG_POOL_MAX;
		OgStatsFlushOne(p);
	}

	/* take it over */
	if (p->nulls)
		pfree(p->nulls);
	if (p->ref)
		pfree(p->ref);
	p->nulls = p->oor = p->counts = NULL;
	p->ref = NULL;
	p->n_features = 0;
	p->entry = -1;
	p->entry_id = 0;
	p->feat_gen = 0;

	old = MemoryContextSwitchTo(TopMemoryContext);
	LWLockAcquire(OgStats->lock, LW_SHARED);
	i = OgEntryOfBlob(name, m);
	if (i >= 0)
	{
		OgStatsEntry *e = &OgEntries[i];

		p->entry = i;
		p->entry_id = e->id;
		p->bucket_le = OgBucketLe(e->pred_kind);
		p->n_buckets = e->n_buckets;
		p->pred_kind = e->pred_kind;
		if (DsaPointerIsValid(e->features))
		{
			OgFeatBlock *fb = dsa_get_address(OgStatsGetArea(), e->features);
			const OgRefHeader *ref = OgFeatRef(fb);
			Size		n = fb->n_features;

			p->feat_gen = e->feat_gen;
			p->n_features = n;
			p->nulls = palloc_extended(sizeof(uint64) * (2 * n + (ref ? ref->total_bins : 0)) + 8,
									   MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
			if (p->nulls == NULL)
				p->n_features = 0;
			else
			{
				p->oor = p->nulls + n;
				p->counts = p->oor + n;
				if (ref)
				{
					Size		rs = OgRefSize(ref->n_features, ref->total_bins);

					p->ref = palloc_extended(rs, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
					if (p->ref)
						memcpy(p->ref, ref, rs);
				}
			}
		}
	}
	else
	{
		p->bucket_le = OgValueLe;
		p->n_buckets = lengthof(OgValueLe);
		p->pred_kind = OG_PRED_VALUE;
	}
	LWLockRelease(OgStats->lock);
	MemoryContextSwitchTo(old);

	p->generation = m->generation;
	p->countdown = OgSampleEvery();
	OgPendingReset(p);
	return p;
}

static int
OgLatencyBucket(double us)
{
	int			b;

	for (b = 0; b < OG_LAT_BUCKETS - 1; b++)
		if (us <= OgLatencyLe[b])
			break;
	return b;
}

/* A sampled row: its latency and its features. */
void
OgStatsSample(OgStatsPending *p, const OgBlobHeader *m, const OgFeatures *x,
			  double latency_us)
{
	uint32		f;
	uint32		n = Min(p->n_features, (uint32) x->n);

	p->countdown = OgSampleEvery();
	p->dirty = true;
	p->n.sampled++;
	if (latency_us >= 0)
	{
		p->n.lat_samples++;
		p->lat_sum_us += latency_us;
		if (latency_us > p->lat_max_us)
			p->lat_max_us = latency_us;
		p->n.lat_buckets[OgLatencyBucket(latency_us)]++;
	}
	/* nothing to count for a model that takes no missing values, without a reference */
	if (p->nulls == NULL || (p->ref == NULL && !(m->flags & OG_BLOB_HANDLES_MISSING)))
		return;
	for (f = 0; f < n; f++)
	{
		double		v = OgFeatureIsNull(x, f) ? NAN : OgFeatureGet(x, f);

		if (isnan(v))
			p->nulls[f]++;
		else if (p->ref)
		{
			const double *edges;
			const double *fractions;
			uint32		nb = OgRefFeature(p->ref, f, &edges, &fractions);

			if (nb > 0)
			{
				bool		oor;
				int			b = OgRefBin(edges, nb, v, &oor);

				p->counts[OgRefStart(p->ref)[f] + b]++;
				p->oor[f] += oor;
			}
		}
	}
}

/* Count the buffered predictions: moments and histogram. */
static void
OgCountBuffered(OgStatsPending *p)
{
	int			j;
	int			n = p->ny;

	if (n > 0 && p->pn == 0)
	{
		for (j = 0; j < n && isnan(p->y[j]); j++)
			;
		if (j < n)
			p->shift = p->pmin = p->pmax = p->y[j];
	}
	for (j = 0; j < n; j++)
	{
		double		y = p->y[j];

		p->n.buckets[OgPredBucket(p, y)]++;
		if (likely(!isnan(y)))
		{
			double		d = y - p->shift;

			p->pn++;
			p->s1 += d;
			p->s2 += d * d;
			p->pmin = Min(p->pmin, y);
			p->pmax = Max(p->pmax, y);
		}
	}
	p->n.predictions += n;
	p->ny = 0;
}

/* The buffer is full: count it, and flush every OG_STATS_FLUSH_ROWS rows. */
void
OgStatsCountBatch(OgStatsPending *p)
{
	OgCountBuffered(p);
	if (unlikely(p->n.predictions >= OG_STATS_FLUSH_ROWS))
		OgStatsFlushOne(p);
}

/* Add p's counts to its shared entry and start again from zero. */
void
OgStatsFlushOne(OgStatsPending *p)
{
	OgStatsEntry *e;
	int			i;

	if (!p->dirty)
		return;
	OgCountBuffered(p);
	if (OgStats == NULL || p->entry < 0)
	{
		OgPendingReset(p);
		p->generation = 0;		/* look for an entry again next time */
		return;
	}

	LWLockAcquire(OgStats->lock, LW_SHARED);
	e = &OgEntries[p->entry];
	if (e->id != p->entry_id)
	{
		LWLockRelease(OgStats->lock);
		OgPendingReset(p);
		p->generation = 0;
		return;
	}
	/* feature samples counted against another reference do not count */
	if (p->feat_gen != e->feat_gen)
		p->n.sampled = 0;
	for (i = 0; i < OG_N_COUNTERS; i++)
		if (((uint64 *) &p->n)[i])
			pg_atomic_fetch_add_u64(&((pg_atomic_uint64 *) &e->c)[i],
									((uint64 *) &p->n)[i]);

	if (p->pn > 0 || p->n.lat_samples > 0)
	{
		double		n_b = (double) p->pn;
		double		mean_b = n_b > 0 ? p->shift + p->s1 / n_b : 0;
		double		m2_b = n_b > 0 ? Max(p->s2 - p->s1 * p->s1 / n_b, 0) : 0;

		SpinLockAcquire(&e->mutex);
		if (p->pn > 0)
		{
			double		n_a = (double) e->pn;
			double		n = n_a + n_b;
			double		delta = mean_b - e->mean;

			/* Chan et al.: merge two (count, mean, M2) */
			if (e->pn == 0)
			{
				e->pmin = p->pmin;
				e->pmax = p->pmax;
			}
			e->mean += delta * n_b / n;
			e->m2 += m2_b + delta * delta * n_a * n_b / n;
			e->pn += p->pn;
			e->pmin = Min(e->pmin, p->pmin);
			e->pmax = Max(e->pmax, p->pmax);
		}
		e->lat_sum_us += p->lat_sum_us;
		e->lat_max_us = Max(e->lat_max_us, p->lat_max_us);
		SpinLockRelease(&e->mutex);
	}

	if (p->n.sampled && DsaPointerIsValid(e->features))
	{
		OgFeatBlock *fb = dsa_get_address(OgStatsGetArea(), e->features);
		pg_atomic_uint64 *c = OgFeatCounters(fb);
		uint32		n = Min(fb->n_features, p->n_features);
		uint32		f;

		if (p->nulls)
			for (f = 0; f < n; f++)
			{
				if (p->nulls[f])
					pg_atomic_fetch_add_u64(&c[f], p->nulls[f]);
				if (p->oor[f])
					pg_atomic_fetch_add_u64(&c[fb->n_features + f], p->oor[f]);
			}
		if (p->ref && fb->has_ref && fb->total_bins == p->ref->total_bins)
			for (f = 0; f < fb->total_bins; f++)
				if (p->counts[f])
					pg_atomic_fetch_add_u64(&c[2 * fb->n_features + f], p->counts[f]);
	}
	else if (p->feat_gen != e->feat_gen)
		p->generation = 0;		/* new reference: set up again */
	LWLockRelease(OgStats->lock);
	OgPendingReset(p);
}

static void
OgStatsFlushAll(void)
{
	int			i;

	for (i = 0; i < OgPoolSize; i++)
		if (OgPool[i]->dirty)
			OgStatsFlushOne(OgPool[i]);
}

/* -------------------------------------------------------------- views */

typedef struct OgEntrySnap
{
	OgStatsEntry e;				/* atomics read into plain values */
	OgCountValues v;
	OgFeatBlock *fb;			/* local copy, or NULL */
} OgEntrySnap;

/* Copies of every entry (and its features when want_features). */
static OgEntrySnap *
OgStatsSnapshot(int *count, bool want_features)
{
	OgEntrySnap *snaps;
	int			i,
				k,
				n = 0;

	OgStatsRequireShmem();
	snaps = palloc0(sizeof(OgEntrySnap) * OgStats->max_entries);
	LWLockAcquire(OgStats->lock, LW_SHARED);
	for (i = 0; i < OgStats->max_entries; i++)
	{
		OgStatsEntry *e = &OgEntries[i];
		OgEntrySnap *s = &snaps[n];

		if (e->id == 0)
			continue;
		SpinLockAcquire(&e->mutex);
		memcpy(&s->e, e, sizeof(OgStatsEntry));
		SpinLockRelease(&e->mutex);
		for (k = 0; k < OG_N_COUNTERS; k++)
			((uint64 *) &s->v)[k] = pg_atomic_read_u64(&((pg_atomic_uint64 *) &e->c)[k]);
		if (DsaPointerIsValid(e->features))
		{
			OgFeatBlock *fb = dsa_get_address(OgStatsGetArea(), e->features);

			if (want_features || fb->has_ref)
			{
				s->fb = palloc_extended(fb->size, MCXT_ALLOC_HUGE);
				memcpy(s->fb, fb, fb->size);
			}
		}
		n++;
	}
	LWLockRelease(OgStats->lock);
	*count = n;
	return snaps;
}

static Datum
OgFloatArray(const double *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, FLOAT8OID, sizeof(float8),
										   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

static Datum
OgCountArray(const uint64 *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Int64GetDatum((int64) v[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, sizeof(int64),
										   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* PSI of feature f, or NaN without a reference or samples. */
static double
OgFeaturePsi(const OgFeatBlock *fb, uint32 f, uint64 *nonnull)
{
	const OgRefHeader *ref = OgFeatRef(fb);
	const pg_atomic_uint64 *c = OgFeatCounters(fb);
	const double *edges;
	const double *fractions;
	uint32		nb,
				i;
	uint64		total = 0;
	uint64	   *counts;
	double		psi;

	*nonnull = 0;
	if (ref == NULL || f >= ref->n_features)
		return NAN;
	nb = OgRefFeature(ref, f, &edges, &fractions);
	if (nb == 0)
		return NAN;
	counts = palloc(sizeof(uint64) * nb);
	for (i = 0; i < nb; i++)
	{
		counts[i] = c[2 * fb->n_features + OgRefStart(ref)[f] + i].value;
		total += counts[i];
	}
	*nonnull = total;
	psi = total ? OgRefPsi(fractions, counts, nb, total) : NAN;
	pfree(counts);
	return psi;
}

static const char *
OgFeatName(const OgFeatBlock *fb, uint32 f)
{
	if (fb->names_off == 0)
		return NULL;
	return (const char *) fb + ((const uint32 *) ((const char *) fb + fb->names_off))[f];
}

PG_FUNCTION_INFO_V1(og_quality);
PG_FUNCTION_INFO_V1(og_feature_drift);
PG_FUNCTION_INFO_V1(og_reset_stats);

Datum
og_quality(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	OgEntrySnap *snaps;
	int			n,
				i;

	InitMaterializedSRF(fcinfo, 0);
	snaps = OgStatsSnapshot(&n, false);
	for (i = 0; i < n; i++)
	{
		OgEntrySnap *s = &snaps[i];
		OgStatsEntry *e = &s->e;
		Datum		values[27];
		bool		nulls[27];
		uint64		errors = 0;
		int			k = 0,
					j;
		double		max_psi = NAN;

		memset(nulls, 0, sizeof(nulls));
		for (j = 0; j < OG_N_ERROR_KINDS; j++)
			errors += s->v.errors[j];
		if (s->fb && s->fb->has_ref)
			for (j = 0; j < (int) s->fb->n_features; j++)
			{
				uint64		nonnull;
				double		psi = OgFeaturePsi(s->fb, j, &nonnull);

				if (!isnan(psi) && (isnan(max_psi) || psi > max_psi))
					max_psi = psi;
			}

		values[k++] = CStringGetTextDatum(e->name);
		nulls[k] = e->version[0] == '\0';
		values[k++] = CStringGetTextDatum(e->version);
		nulls[k] = e->sha256[0] == '\0';
		values[k++] = CStringGetTextDatum(e->sha256);
		values[k++] = BoolGetDatum(e->serving);
		nulls[k] = e->loaded_at == 0;
		values[k++] = TimestampTzGetDatum(e->loaded_at);
		values[k++] = TimestampTzGetDatum(e->stats_since);
		values[k++] = Int64GetDatum((int64) s->v.predictions);
		values[k++] = Int64GetDatum((int64) errors);
		for (j = 0; j < OG_N_ERROR_KINDS; j++)
			values[k++] = Int64GetDatum((int64) s->v.errors[j]);
		values[k++] = Int64GetDatum((int64) s->v.rows_missing);
		nulls[k] = e->pn == 0;
		values[k++] = Float8GetDatum(e->mean);
		nulls[k] = e->pn < 2;
		values[k++] = Float8GetDatum(e->pn >= 2 ? sqrt(e->m2 / (double) (e->pn - 1)) : 0);
		nulls[k] = e->pn == 0;
		values[k++] = Float8GetDatum(e->pmin);
		nulls[k] = e->pn == 0;
		values[k++] = Float8GetDatum(e->pmax);
		values[k++] = OgFloatArray(OgBucketLe(e->pred_kind), e->n_buckets);
		values[k++] = OgCountArray(s->v.buckets, e->n_buckets);
		values[k++] = Int64GetDatum((int64) s->v.lat_samples);
		values[k++] = Float8GetDatum(e->lat_sum_us);
		nulls[k] = s->v.lat_samples == 0;
		values[k++] = Float8GetDatum(s->v.lat_samples ? e->lat_sum_us / s->v.lat_samples : 0);
		nulls[k] = s->v.lat_samples == 0;
		values[k++] = Float8GetDatum(e->lat_max_us);
		values[k++] = OgFloatArray(OgLatencyLe, OG_LAT_BUCKETS);
		values[k++] = OgCountArray(s->v.lat_buckets, OG_LAT_BUCKETS);
		values[k++] = Int64GetDatum((int64) s->v.sampled);
		nulls[k] = isnan(max_psi);
		values[k++] = Float8GetDatum(max_psi);
		Assert(k == lengthof(values));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

Datum
og_feature_drift(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	OgEntrySnap *snaps;
	int			n,
				i;

	InitMaterializedSRF(fcinfo, 0);
	snaps = OgStatsSnapshot(&n, true);
	for (i = 0; i < n; i++)
	{
		OgEntrySnap *s = &snaps[i];
		OgStatsEntry *e = &s->e;
		OgFeatBlock *fb = s->fb;
		const OgRefHeader *ref;
		const pg_atomic_uint64 *c;
		uint32		f;

		if (fb == NULL)
			continue;
		ref = OgFeatRef(fb);
		c = OgFeatCounters(fb);
		for (f = 0; f < fb->n_features; f++)
		{
			Datum		values[15];
			bool		nulls[15];
			uint64		nonnull;
			double		psi = OgFeaturePsi(fb, f, &nonnull);
			uint64		fnulls = c[f].value;
			uint64		foor = c[fb->n_features + f].value;
			const char *fname = OgFeatName(fb, f);
			const double *edges = NULL;
			const double *fractions = NULL;
			uint32		nb = ref ? OgRefFeature(ref, f, &edges, &fractions) : 0;
			int			k = 0;

			memset(nulls, 0, sizeof(nulls));
			values[k++] = CStringGetTextDatum(e->name);
			nulls[k] = e->version[0] == '\0';
			values[k++] = CStringGetTextDatum(e->version);
			nulls[k] = e->sha256[0] == '\0';
			values[k++] = CStringGetTextDatum(e->sha256);
			values[k++] = BoolGetDatum(e->serving);
			values[k++] = Int32GetDatum((int32) f + 1);
			nulls[k] = fname == NULL;
			values[k++] = fname ? CStringGetTextDatum(fname) : (Datum) 0;
			values[k++] = Int64GetDatum((int64) s->v.sampled);
			values[k++] = Int64GetDatum((int64) fnulls);
			nulls[k] = s->v.sampled == 0;
			values[k++] = Float8GetDatum(s->v.sampled ? (double) fnulls / s->v.sampled : 0);
			nulls[k] = nb == 0;
			values[k++] = Int64GetDatum((int64) foor);
			nulls[k] = nb == 0 || s->v.sampled == 0;
			values[k++] = Float8GetDatum(s->v.sampled ? (double) foor / s->v.sampled : 0);
			nulls[k] = isnan(psi);
			values[k++] = Float8GetDatum(psi);
			if (nb > 0)
			{
				double	   *obs = palloc(sizeof(double) * nb);
				uint32		b;

				for (b = 0; b < nb; b++)
					obs[b] = nonnull ? (double) c[2 * fb->n_features + OgRefStart(ref)[f] + b].value / nonnull : 0;
				values[k++] = OgFloatArray(edges, nb + 1);
				values[k++] = OgFloatArray(fractions, nb);
				nulls[k] = nonnull == 0;
				values[k++] = OgFloatArray(obs, nb);
			}
			else
			{
				nulls[k++] = true;
				nulls[k++] = true;
				nulls[k++] = true;
			}
			Assert(k == lengthof(values));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}

/* og_model.reset_stats(name text DEFAULT NULL) */
Datum
og_reset_stats(PG_FUNCTION_ARGS)
{
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	TimestampTz now = GetCurrentTimestamp();
	int			i,
				k,
				n = 0;

	OgStatsRequireShmem();
	OgStatsFlushAll();
	LWLockAcquire(OgStats->lock, LW_EXCLUSIVE);
	for (i = 0; i < OgStats->max_entries; i++)
	{
		OgStatsEntry *e = &OgEntries[i];

		if (e->id == 0 || (name && strcmp(e->name, name) != 0))
			continue;
		OgCountersZero(&e->c, false);
		SpinLockAcquire(&e->mutex);
		e->pn = 0;
		e->mean = e->m2 = e->pmin = e->pmax = 0;
		e->lat_sum_us = e->lat_max_us = 0;
		SpinLockRelease(&e->mutex);
		if (DsaPointerIsValid(e->features))
		{
			OgFeatBlock *fb = dsa_get_address(OgStatsGetArea(), e->features);
			pg_atomic_uint64 *c = OgFeatCounters(fb);

			for (k = 0; k < (int) (2 * fb->n_features + fb->total_bins); k++)
				pg_atomic_write_u64(&c[k], 0);
		}
		e->stats_since = now;
		n++;
	}
	LWLockRelease(OgStats->lock);
	PG_RETURN_INT32(n);
}

/* ---------------------------------------------------- across restarts */

typedef struct OgStatsFileHeader
{
	uint32		magic;
	uint32		version;
	uint32		entry_size;
	uint32		count;
} OgStatsFileHeader;

/* postmaster, on_shmem_exit: write every entry (not after a crash) */
static void
OgStatsSaveFile(int code, Datum arg)
{
	FILE	   *fp;
	OgStatsFileHeader h;
	dsa_area   *area;
	int			i;

	if (code != 0 || !og_stats_save || OgStats == NULL)
		return;
	fp = AllocateFile(OG_STATS_FILE ".tmp", PG_BINARY_W);
	if (fp == NULL)
		goto error;
	h.magic = OG_STATS_FILE_MAGIC;
	h.version = OG_STATS_FILE_VERSION;
	h.entry_size = sizeof(OgStatsEntry);
	h.count = 0;
	for (i = 0; i < OgStats->max_entries; i++)
		h.count += OgEntries[i].id != 0;
	if (fwrite(&h, sizeof(h), 1, fp) != 1)
		goto error;
	area = dsa_attach_in_place(OgStatsAreaPlace, NULL);
	for (i = 0; i < OgStats->max_entries; i++)
	{
		OgStatsEntry *e = &OgEntries[i];
		uint32		size = 0;
		OgFeatBlock *fb = NULL;

		if (e->id == 0)
			continue;
		if (DsaPointerIsValid(e->features))
		{
			fb = dsa_get_address(area, e->features);
			size = fb->size;
		}
		if (fwrite(e, sizeof(*e), 1, fp) != 1 ||
			fwrite(&size, sizeof(size), 1, fp) != 1 ||
			(size && fwrite(fb, size, 1, fp) != 1))
		{
			dsa_detach(area);
			goto error;
		}
	}
	dsa_detach(area);
	if (FreeFile(fp))
	{
		fp = NULL;
		goto error;
	}
	(void) durable_rename(OG_STATS_FILE ".tmp", OG_STATS_FILE, LOG);
	return;

error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write og_model statistics file \"%s\": %m",
					OG_STATS_FILE ".tmp")));
	if (fp)
		FreeFile(fp);
	unlink(OG_STATS_FILE ".tmp");
}

/* A feature block read from the file is consistent with its entry and size. */
static bool
OgFeatBlockValid(const OgFeatBlock *fb, uint32 size, uint32 n_features)
{
	Size		counters;
	const OgRefHeader *ref;
	uint32		f,
				total = 0;

	if (fb->size != size || fb->n_features != n_features || fb->has_ref > 1)
		return false;
	counters = add_size(MAXALIGN(sizeof(OgFeatBlock)),
						mul_size(add_size(mul_size(2, n_features), fb->total_bins),
								 sizeof(pg_atomic_uint64)));
	if (counters > size || (fb->names_off != 0 &&
							(fb->names_off < counters ||
							 add_size(fb->names_off, mul_size(sizeof(uint32), n_features)) > size)))
		return false;
	if (fb->names_off != 0)
	{
		const uint32 *offs = (const uint32 *) ((const char *) fb + fb->names_off);

		if (((const char *) fb)[size - 1] != '\0')
			return false;
		for (f = 0; f < n_features; f++)
			if (offs[f] < fb->names_off || offs[f] >= size)
				return false;
	}
	if (!fb->has_ref)
		return fb->total_bins == 0;
	if (fb->ref_off < counters || add_size(fb->ref_off, sizeof(OgRefHeader)) > size)
		return false;
	ref = OgFeatRef(fb);
	if (ref->n_features != n_features || ref->total_bins != fb->total_bins ||
		add_size(fb->ref_off, OgRefSize(ref->n_features, ref->total_bins)) > size)
		return false;
	for (f = 0; f < n_features; f++)
	{
		if (OgRefStart(ref)[f] != total || OgRefNBins(ref)[f] > OG_REF_MAX_BINS)
			return false;
		total += OgRefNBins(ref)[f];
	}
	return total == ref->total_bins;
}

/* postmaster, at shared memory creation: read entries back, then unlink */
static void
OgStatsLoadFile(void)
{
	FILE	   *fp;
	OgStatsFileHeader h;
	dsa_area   *area = NULL;
	uint32		k;
	int			slot = 0;

	fp = AllocateFile(OG_STATS_FILE, PG_BINARY_R);
	if (fp == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read og_model statistics file \"%s\": %m",
							OG_STATS_FILE)));
		return;
	}
	if (fread(&h, sizeof(h), 1, fp) != 1 || h.magic != OG_STATS_FILE_MAGIC ||
		h.version != OG_STATS_FILE_VERSION || h.entry_size != sizeof(OgStatsEntry))
		goto bad;
	area = dsa_attach_in_place(OgStatsAreaPlace, NULL);
	for (k = 0; k < h.count && slot < OgStats->max_entries; k++)
	{
		OgStatsEntry *e = &OgEntries[slot];
		OgStatsEntry tmp;
		uint32		size;
		dsa_pointer dp = InvalidDsaPointer;

		if (fread(&tmp, sizeof(tmp), 1, fp) != 1 ||
			fread(&size, sizeof(size), 1, fp) != 1)
			goto bad;
		if (tmp.id == 0 ||
			(tmp.pred_kind == OG_PRED_VALUE && tmp.n_buckets != lengthof(OgValueLe)) ||
			(tmp.pred_kind == OG_PRED_PROBA && tmp.n_buckets != lengthof(OgProbaLe)) ||
			(tmp.pred_kind == OG_PRED_CLASS &&
			 (tmp.n_buckets < 2 || tmp.n_buckets > OG_PRED_MAX_BUCKETS)) ||
			tmp.pred_kind < OG_PRED_VALUE || tmp.pred_kind > OG_PRED_CLASS)
			goto bad;
		memcpy(e, &tmp, sizeof(tmp));
		SpinLockInit(&e->mutex);
		e->serving = false;
		e->preparing = false;
		e->loaded_at = 0;
		e->features = InvalidDsaPointer;
		e->name[OG_MAX_NAME_LEN] = '\0';
		e->version[OG_MAX_VERSION_LEN] = '\0';
		e->sha256[OG_SHA_LEN] = '\0';
		if (size)
		{
			OgFeatBlock *fb;

			if (size < sizeof(OgFeatBlock) || size > OgStats->area_bytes)
				goto bad;
			dp = dsa_allocate_extended(area, size, DSA_ALLOC_NO_OOM | DSA_ALLOC_HUGE);
			if (!DsaPointerIsValid(dp))
			{
				/* skip what no longer fits */
				if (fseek(fp, size, SEEK_CUR) != 0)
					goto bad;
				OgEntryInit(e);
				continue;
			}
			fb = dsa_get_address(area, dp);
			if (fread(fb, size, 1, fp) != 1 ||
				!OgFeatBlockValid(fb, size, e->n_features))
			{
				dsa_free(area, dp);
				goto bad;
			}
			e->features = dp;
		}
		OgStats->next_id = Max(OgStats->next_id, Max(e->id, e->feat_gen) + 1);
		slot++;
	}
	dsa_detach(area);
	FreeFile(fp);
	unlink(OG_STATS_FILE);
	return;

bad:
	ereport(LOG,
			(errmsg("ignoring invalid og_model statistics file \"%s\"", OG_STATS_FILE)));
	if (area)
	{
		int			i;

		for (i = 0; i < OgStats->max_entries; i++)
		{
			if (DsaPointerIsValid(OgEntries[i].features))
				dsa_free(area, OgEntries[i].features);
			OgEntryInit(&OgEntries[i]);
		}
		dsa_detach(area);
	}
	FreeFile(fp);
	unlink(OG_STATS_FILE);
}
