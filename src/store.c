/*-------------------------------------------------------------------------
 *
 * store.c
 *	  The shared-memory model store.
 *
 * With og_model in shared_preload_libraries, the postmaster reserves one
 * region of main shared memory holding:
 *
 *	  OgStoreControl			counters, the lock, sizes
 *	  OgSlot[max_models]		the directory: name -> published blob
 *	  OgRetired[max_retired]	replaced or unloaded blobs not yet freed
 *	  pins[procs][pins_per_proc]	per-process pins, indexed by pgprocno
 *	  a DSA area				og_model.shared_memory_size bytes for blobs
 *
 * The DSA area lives in place in main shared memory with its size limit set
 * to that size, so model memory is bounded and never spills into dynamic
 * segments.  A blob (blob.h) is immutable once published.
 *
 * LOCKING PROTOCOL
 *
 * OgControl->lock (named tranche "og_model"):
 *	  - LW_SHARED to look a model up by name and pin its blob, and to read
 *		blobs' metadata (the og_model.models view).
 *	  - LW_EXCLUSIVE to publish, unload, retire and free blobs, and to change
 *		used_bytes / the retired list.
 *
 * OgSlot.generation is written only under LW_EXCLUSIVE, after the slot's
 * other fields (write barrier).  Scorers read it without the lock, once per
 * row, to notice a swap: a changed value sends them back to the locked
 * lookup.  Generations are unique and never reused, so a slot emptied and
 * reused for another model is noticed too.
 *
 * Pins: each process owns pins_per_proc (max_models + 8) entries, holding
 * the generations it is reading.  It sets an entry only while holding the
 * lock in LW_SHARED mode (so a reclaimer, holding LW_EXCLUSIVE, sees every
 * pin taken on a blob it could still find), and clears entries without the
 * lock, after a memory barrier (no read of the blob may move past the
 * clear).  A reclaimer frees a retired blob only when no entry anywhere holds
 * its generation; reading a stale non-zero entry only delays the free.
 * Every clear bumps pin_releases, so scorers retry a reclaim only when some
 * pin went away since the last one, and never wait for the lock to do it.
 *
 * Pins are released when the query's memory context goes away (memory
 * context callback on the fn_extra handle), at the end of every transaction
 * (commit or abort: an ERROR never leaks a pin), and at process exit.  A
 * process that dies without running its exit callbacks makes the postmaster
 * reinitialize shared memory, which empties the store.  Retired blobs are
 * freed by whoever next takes the lock exclusively: a load, an unload, a
 * scorer's first lookup while something is retired, og_model.memory, or an
 * allocation that would not fit otherwise.
 *
 * Preload: while the worker (worker.c) loads its profile's models after a
 * server start, preload_pending is set; a lookup that finds no model waits
 * for it to clear (on preload_cv) and looks again, so the first queries
 * after a start see the profile's models.  Waits end at preload_deadline,
 * OG_PRELOAD_WAIT_MS after the worker began (or after the server started,
 * if the worker never does): a missing model costs no query more than that.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/dsa.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "errors.h"
#include "store.h"
#include "worker.h"


typedef struct OgSlot
{
	pg_atomic_uint64 generation;	/* 0: slot is empty */
	char		name[OG_MAX_NAME_LEN + 1];
	dsa_pointer blob;
	Size		size;
} OgSlot;

typedef struct OgRetired
{
	uint64		generation;
	dsa_pointer blob;
	Size		size;
} OgRetired;


typedef struct OgStoreControl
{
	LWLock	   *lock;
	int			dsa_tranche;
	int			max_models;
	int			max_retired;
	int			n_pin_sets;
	int			pins_per_proc;
	Size		area_bytes;
	Size		used_bytes;		/* published + retired blobs */
	int			n_retired;
	pg_atomic_uint32 retired_hint;	/* n_retired, for lock-free checks */
	pg_atomic_uint64 pin_releases;	/* pins cleared so far */
	uint64		reclaimed_at;	/* pin_releases seen by the last reclaim */
	uint64		next_generation;
	pg_atomic_uint32 preload_pending;	/* the worker's start-up loads run */
	pg_atomic_uint64 preload_deadline;	/* TimestampTz: no waiting after it */
	ConditionVariable preload_cv;	/* broadcast when they are done */
} OgStoreControl;

#define OG_PRELOAD_WAIT_MS		30000

/* GUCs */
static int	og_shared_memory_size_kb = 64 * 1024;
static int	og_max_models = 64;

/* Shared memory, as mapped in this process */
static OgStoreControl *OgControl = NULL;
static OgSlot *OgSlots;
static OgRetired *OgRetiredList;
static pg_atomic_uint64 *OgPins;	/* [n_pin_sets][pins_per_proc] */
static void *OgAreaPlace;

/* This process */
static dsa_area *OgArea = NULL;
static pg_atomic_uint64 *MyPins = NULL;	/* this process's row of OgPins */
static int	MyPinCount = 0;
static uint64 *LocalPinGen = NULL;
static uint32 *LocalPinCount = NULL;
uint64		OgPinEpoch = 1;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*
 * Create a DSA area of exactly bytes in place in main shared memory, never
 * growing into dynamic segments; backends attach with dsa_attach_in_place.
 */
void
OgAreaCreateInPlace(void *place, Size bytes, int tranche)
{
	dsa_area   *area = dsa_create_in_place(place, bytes, tranche, NULL);

	dsa_pin(area);
	dsa_set_size_limit(area, bytes);
	dsa_detach(area);
}

int
OgStoreMaxModels(void)
{
	return og_max_models;
}

static int
OgPinSetCount(void)
{
	return MaxBackends + NUM_AUXILIARY_PROCS + max_prepared_xacts;
}

static int
OgPinsPerProc(void)
{
	return og_max_models + 8;
}

static Size
OgPinBytes(void)
{
	return mul_size(mul_size(OgPinSetCount(), OgPinsPerProc()), sizeof(pg_atomic_uint64));
}

static int
OgMaxRetired(void)
{
	return 4 * og_max_models + 64;
}

static Size
OgControlBytes(void)
{
	Size		size = MAXALIGN(sizeof(OgStoreControl));

	size = add_size(size, MAXALIGN(mul_size(og_max_models, sizeof(OgSlot))));
	size = add_size(size, MAXALIGN(mul_size(OgMaxRetired(), sizeof(OgRetired))));
	size = add_size(size, MAXALIGN(OgPinBytes()));
	return size;
}

static Size
OgAreaBytes(void)
{
	return mul_size((Size) og_shared_memory_size_kb, 1024);
}

static Size
OgStoreShmemSize(void)
{
	return add_size(OgControlBytes(), OgAreaBytes());
}

static void
og_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(OgStoreShmemSize());
	RequestNamedLWLockTranche("og_model", 1);
}

static void
og_shmem_startup(void)
{
	bool		found;
	char	   *base;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	base = ShmemInitStruct("og_model", OgStoreShmemSize(), &found);
	OgControl = (OgStoreControl *) base;
	base += MAXALIGN(sizeof(OgStoreControl));
	OgSlots = (OgSlot *) base;
	base += MAXALIGN(mul_size(og_max_models, sizeof(OgSlot)));
	OgRetiredList = (OgRetired *) base;
	base += MAXALIGN(mul_size(OgMaxRetired(), sizeof(OgRetired)));
	OgPins = (pg_atomic_uint64 *) base;
	base += MAXALIGN(OgPinBytes());
	OgAreaPlace = base;

	if (!found)
	{
		int			i,
					j;

		OgControl->lock = &(GetNamedLWLockTranche("og_model"))->lock;
		OgControl->dsa_tranche = LWLockNewTrancheId();
		OgControl->max_models = og_max_models;
		OgControl->max_retired = OgMaxRetired();
		OgControl->n_pin_sets = OgPinSetCount();
		OgControl->pins_per_proc = OgPinsPerProc();
		OgControl->area_bytes = OgAreaBytes();
		OgControl->used_bytes = 0;
		OgControl->n_retired = 0;
		pg_atomic_init_u32(&OgControl->retired_hint, 0);
		pg_atomic_init_u64(&OgControl->pin_releases, 0);
		OgControl->reclaimed_at = 0;
		OgControl->next_generation = 1;
		pg_atomic_init_u32(&OgControl->preload_pending, OgWorkerWillPreload() ? 1 : 0);
		pg_atomic_init_u64(&OgControl->preload_deadline,
						   (uint64) TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
																OG_PRELOAD_WAIT_MS));
		ConditionVariableInit(&OgControl->preload_cv);
		for (i = 0; i < og_max_models; i++)
		{
			pg_atomic_init_u64(&OgSlots[i].generation, 0);
			OgSlots[i].name[0] = '\0';
			OgSlots[i].blob = InvalidDsaPointer;
			OgSlots[i].size = 0;
		}
		for (i = 0; i < OgControl->n_pin_sets; i++)
			for (j = 0; j < OgControl->pins_per_proc; j++)
				pg_atomic_init_u64(&OgPins[i * OgControl->pins_per_proc + j], 0);

		OgAreaCreateInPlace(OgAreaPlace, OgControl->area_bytes, OgControl->dsa_tranche);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
OgStoreInit(void)
{
	/* the store's settings and hooks exist only when preloaded */
	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomIntVariable("og_model.shared_memory_size",
							"Shared memory reserved for loaded models.",
							"Compiled models of all loaded versions, including a replaced version "
							"still being read, must fit in it.",
							&og_shared_memory_size_kb,
							64 * 1024, 1024, INT_MAX / 2,
							PGC_POSTMASTER, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("og_model.max_models",
							"Maximum number of models loaded at once.",
							NULL,
							&og_max_models,
							64, 1, 10000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = og_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = og_shmem_startup;
}

/*
 * Pins held by this process.
 */
static void
OgUnpinAll(void)
{
	int			j;
	bool		released = false;

	for (j = 0; j < MyPinCount; j++)
	{
		if (LocalPinGen[j] != 0)
		{
			if (!released)
				pg_memory_barrier();
			pg_atomic_write_u64(&MyPins[j], 0);
			released = true;
		}
		LocalPinGen[j] = 0;
		LocalPinCount[j] = 0;
	}
	if (released)
		pg_atomic_fetch_add_u64(&OgControl->pin_releases, 1);
	OgPinEpoch++;
}

/* Caller holds the lock (shared or exclusive). */
static void
OgPin(uint64 gen)
{
	int			j,
				free_j = -1;

	for (j = 0; j < MyPinCount; j++)
	{
		if (LocalPinGen[j] == gen)
		{
			LocalPinCount[j]++;
			return;
		}
		if (LocalPinGen[j] == 0 && free_j < 0)
			free_j = j;
	}
	if (free_j < 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many model versions in use in one session"),
				 errdetail("A process can read at most %d model versions at once.",
						   MyPinCount)));
	LocalPinGen[free_j] = gen;
	LocalPinCount[free_j] = 1;
	pg_atomic_write_u64(&MyPins[free_j], gen);
}

static void
OgUnpin(uint64 gen)
{
	int			j;

	for (j = 0; j < MyPinCount; j++)
	{
		if (LocalPinGen[j] == gen)
		{
			if (--LocalPinCount[j] == 0)
			{
				LocalPinGen[j] = 0;
				pg_memory_barrier();
				pg_atomic_write_u64(&MyPins[j], 0);
				pg_atomic_fetch_add_u64(&OgControl->pin_releases, 1);
			}
			return;
		}
	}
}

static void
OgStoreXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			OgUnpinAll();
			break;
		default:
			break;
	}
}

static void
OgStoreProcExit(int code, Datum arg)
{
	OgUnpinAll();
}

void
OgStoreCheckAvailable(void)
{
	if (OgControl == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("og_model must be loaded via shared_preload_libraries"),
				 errhint("Add og_model to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/* Attach this process to the store once. */
static void
OgStoreAttach(void)
{
	MemoryContext oldcxt;
	int			j;

	if (OgArea != NULL)
		return;
	OgStoreCheckAvailable();
	if (MyProc == NULL || MyProc->pgprocno < 0 ||
		MyProc->pgprocno >= OgControl->n_pin_sets)
		elog(ERROR, "og_model: process has no usable PGPROC slot");

	MyPinCount = OgControl->pins_per_proc;
	MyPins = &OgPins[(Size) MyProc->pgprocno * MyPinCount];
	for (j = 0; j < MyPinCount; j++)
		pg_atomic_write_u64(&MyPins[j], 0);
	LocalPinGen = MemoryContextAllocZero(TopMemoryContext, sizeof(uint64) * MyPinCount);
	LocalPinCount = MemoryContextAllocZero(TopMemoryContext, sizeof(uint32) * MyPinCount);

	LWLockRegisterTranche(OgControl->dsa_tranche, "og_model_dsa");
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	OgArea = dsa_attach_in_place(OgAreaPlace, NULL);
	dsa_pin_mapping(OgArea);
	MemoryContextSwitchTo(oldcxt);
	on_shmem_exit(dsa_on_shmem_exit_release_in_place,
				  PointerGetDatum(OgAreaPlace));
	before_shmem_exit(OgStoreProcExit, (Datum) 0);
	RegisterXactCallback(OgStoreXactCallback, NULL);
}

static bool
OgGenerationPinned(uint64 gen)
{
	Size		n = (Size) OgControl->n_pin_sets * OgControl->pins_per_proc;
	Size		i;

	for (i = 0; i < n; i++)
		if (pg_atomic_read_u64(&OgPins[i]) == gen)
			return true;
	return false;
}

/* Free every retired blob nobody reads any more.  Caller holds LW_EXCLUSIVE. */
static void
OgStoreReclaim(void)
{
	int			i = 0;

	OgControl->reclaimed_at = pg_atomic_read_u64(&OgControl->pin_releases);

	while (i < OgControl->n_retired)
	{
		OgRetired  *r = &OgRetiredList[i];

		if (OgGenerationPinned(r->generation))
		{
			i++;
			continue;
		}
		dsa_free(OgArea, r->blob);
		OgControl->used_bytes -= r->size;
		*r = OgRetiredList[--OgControl->n_retired];
	}
	pg_atomic_write_u32(&OgControl->retired_hint, OgControl->n_retired);
}

static OgSlot *
OgStoreFind(const char *name, int name_len)
{
	int			i;

	for (i = 0; i < OgControl->max_models; i++)
	{
		OgSlot	   *slot = &OgSlots[i];

		if (pg_atomic_read_u64(&slot->generation) != 0 &&
			strncmp(slot->name, name, name_len) == 0 &&
			slot->name[name_len] == '\0')
			return slot;
	}
	return NULL;
}

/* Move a slot's blob to the retired list.  Caller holds LW_EXCLUSIVE. */
static bool
OgStoreRetire(OgSlot *slot)
{
	OgRetired  *r;

	if (OgControl->n_retired >= OgControl->max_retired)
		OgStoreReclaim();
	if (OgControl->n_retired >= OgControl->max_retired)
		return false;
	r = &OgRetiredList[OgControl->n_retired++];
	r->generation = pg_atomic_read_u64(&slot->generation);
	r->blob = slot->blob;
	r->size = slot->size;
	pg_atomic_write_u32(&OgControl->retired_hint, OgControl->n_retired);
	return true;
}

static void
OgHandleRelease(OgModelHandle *h)
{
	if (h->generation != 0 && h->epoch == OgPinEpoch)
		OgUnpin(h->generation);
	h->generation = 0;
	h->blob = NULL;
}

static void
OgHandleReset(void *arg)
{
	OgHandleRelease((OgModelHandle *) arg);
}

/* A handle whose pin is released when mcxt is reset or deleted. */
OgModelHandle *
OgHandleCreate(MemoryContext mcxt)
{
	OgModelHandle *h;
	MemoryContextCallback *cb;

	h = MemoryContextAllocZero(mcxt, sizeof(OgModelHandle));
	h->slot = -1;
	cb = MemoryContextAlloc(mcxt, sizeof(MemoryContextCallback));
	cb->func = OgHandleReset;
	cb->arg = h;
	MemoryContextRegisterResetCallback(mcxt, cb);
	return h;
}

/*
 * While the worker's start-up loads run, wait for them, until a deadline
 * shared by all (OG_PRELOAD_WAIT_MS after the worker began, or after the
 * server's start if it never did); false when there was nothing to wait for.
 */
static bool
OgStoreWaitForPreload(void)
{
	TimestampTz deadline;

	if (pg_atomic_read_u32(&OgControl->preload_pending) == 0)
		return false;
	deadline = (TimestampTz) pg_atomic_read_u64(&OgControl->preload_deadline);
	if (GetCurrentTimestamp() >= deadline)
		return false;
	ConditionVariablePrepareToSleep(&OgControl->preload_cv);
	while (pg_atomic_read_u32(&OgControl->preload_pending) != 0)
	{
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);

		if (left <= 0)
			break;
		(void) ConditionVariableTimedSleep(&OgControl->preload_cv, left, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	return true;
}

/* The worker begins its start-up loads: queries wait up to OG_PRELOAD_WAIT_MS. */
void
OgStorePreloadBegin(void)
{
	OgStoreAttach();
	pg_atomic_write_u64(&OgControl->preload_deadline,
						(uint64) TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
															 OG_PRELOAD_WAIT_MS));
}

/* The worker's start-up loads are done (or will not happen): wake waiters. */
void
OgStorePreloadDone(void)
{
	OgStoreAttach();
	if (pg_atomic_exchange_u32(&OgControl->preload_pending, 0) != 0)
		ConditionVariableBroadcast(&OgControl->preload_cv);
}

/*
 * Slow path of OgStoreGet(): (re)pin the published version of a model.
 */
const OgBlobHeader *
OgStoreLookup(OgModelHandle *h, const char *name, int name_len)
{
	OgSlot	   *slot;
	uint64		gen;
	bool		waited = false;

	OgStoreAttach();
	OgHandleRelease(h);

	if (name_len > OG_MAX_NAME_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" is not loaded", OgEcho(pnstrdup(name, name_len))),
				 errdetail("Model names are at most %d bytes long.",
						   OG_MAX_NAME_LEN)));
	memcpy(h->name, name, name_len);
	h->name[name_len] = '\0';
	h->name_len = name_len;

	/*
	 * Free replaced versions if a pin went away since the last try; never
	 * wait for the lock to do so.  (reclaimed_at is read without the lock:
	 * a stale value only costs or saves one try.)
	 */
	if (pg_atomic_read_u32(&OgControl->retired_hint) > 0 &&
		pg_atomic_read_u64(&OgControl->pin_releases) != OgControl->reclaimed_at &&
		LWLockConditionalAcquire(OgControl->lock, LW_EXCLUSIVE))
	{
		OgStoreReclaim();
		LWLockRelease(OgControl->lock);
	}

	for (;;)
	{
		LWLockAcquire(OgControl->lock, LW_SHARED);
		slot = OgStoreFind(name, name_len);
		if (slot != NULL)
			break;
		LWLockRelease(OgControl->lock);
		if (!waited && OgStoreWaitForPreload())
		{
			waited = true;
			continue;
		}
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" is not loaded", h->name),
				 errhint("Load it with og_load_model(); models are kept in shared memory and must be loaded again after a server restart.")));
	}
	gen = pg_atomic_read_u64(&slot->generation);
	OgPin(gen);
	h->slot = (int) (slot - OgSlots);
	h->slot_generation = &slot->generation;
	h->generation = gen;
	h->epoch = OgPinEpoch;
	h->blob = (const OgBlobHeader *) dsa_get_address(OgArea, slot->blob);
	LWLockRelease(OgControl->lock);

	return h->blob;
}

/*
 * Publish a compiled model under a name, replacing (hot-swapping) the
 * version loaded under that name, if any.  On any error nothing changes.
 * Returns the new generation.
 */
uint64
OgStorePublish(const char *name, const OgBlobHeader *blob, Size size)
{
	dsa_pointer dp;
	OgBlobHeader *dest;
	OgSlot	   *slot;
	uint64		gen;
	int			i;

	OgStoreAttach();

	dp = dsa_allocate_extended(OgArea, size, DSA_ALLOC_HUGE | DSA_ALLOC_NO_OOM);
	if (!DsaPointerIsValid(dp))
	{
		LWLockAcquire(OgControl->lock, LW_EXCLUSIVE);
		OgStoreReclaim();
		LWLockRelease(OgControl->lock);
		dp = dsa_allocate_extended(OgArea, size, DSA_ALLOC_HUGE | DSA_ALLOC_NO_OOM);
	}
	if (!DsaPointerIsValid(dp))
	{
		OgStoreUsage usage;

		OgStoreGetUsage(&usage);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("not enough shared memory to load model \"%s\"", name),
				 errdetail("The compiled model needs %zu bytes; models use %zu of the %zu bytes set by og_model.shared_memory_size.",
						   size, usage.used_bytes, usage.area_bytes),
				 errhint("Increase og_model.shared_memory_size and restart the server, or unload models that are no longer needed.")));
	}
	dest = (OgBlobHeader *) dsa_get_address(OgArea, dp);
	memcpy(dest, blob, size);

	LWLockAcquire(OgControl->lock, LW_EXCLUSIVE);
	slot = OgStoreFind(name, strlen(name));
	if (slot == NULL)
	{
		for (i = 0; i < OgControl->max_models; i++)
		{
			if (pg_atomic_read_u64(&OgSlots[i].generation) == 0)
			{
				slot = &OgSlots[i];
				break;
			}
		}
		if (slot == NULL)
		{
			LWLockRelease(OgControl->lock);
			dsa_free(OgArea, dp);
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("cannot load model \"%s\": %d models are loaded already",
							name, OgControl->max_models),
					 errhint("Unload a model with og_unload_model(), or increase og_model.max_models and restart the server.")));
		}
	}
	else if (!OgStoreRetire(slot))
	{
		LWLockRelease(OgControl->lock);
		dsa_free(OgArea, dp);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("cannot replace model \"%s\": too many replaced versions are still being read",
						name),
				 errhint("Retry when long-running queries and open cursors that score models have finished.")));
	}

	gen = OgControl->next_generation++;
	dest->generation = gen;
	strlcpy(slot->name, name, sizeof(slot->name));
	slot->blob = dp;
	slot->size = size;
	OgControl->used_bytes += size;
	pg_write_barrier();
	pg_atomic_write_u64(&slot->generation, gen);
	OgStoreReclaim();
	LWLockRelease(OgControl->lock);

	return gen;
}

/* Remove a model; false if it was not loaded. */
bool
OgStoreUnload(const char *name)
{
	OgSlot	   *slot;

	OgStoreAttach();
	LWLockAcquire(OgControl->lock, LW_EXCLUSIVE);
	slot = OgStoreFind(name, strlen(name));
	if (slot == NULL)
	{
		LWLockRelease(OgControl->lock);
		return false;
	}
	if (!OgStoreRetire(slot))
	{
		LWLockRelease(OgControl->lock);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("cannot unload model \"%s\": too many replaced versions are still being read",
						name),
				 errhint("Retry when long-running queries and open cursors that score models have finished.")));
	}
	slot->blob = InvalidDsaPointer;
	slot->size = 0;
	slot->name[0] = '\0';
	pg_write_barrier();
	pg_atomic_write_u64(&slot->generation, 0);
	OgStoreReclaim();
	LWLockRelease(OgControl->lock);
	return true;
}

/* Call visit() on every published blob, under LW_SHARED, in slot order. */
void
OgStoreForEach(OgStoreVisitor visit, void *arg)
{
	int			i;

	OgStoreAttach();
	LWLockAcquire(OgControl->lock, LW_SHARED);
	for (i = 0; i < OgControl->max_models; i++)
	{
		if (pg_atomic_read_u64(&OgSlots[i].generation) == 0)
			continue;
		visit((const OgBlobHeader *) dsa_get_address(OgArea, OgSlots[i].blob),
			  arg);
	}
	LWLockRelease(OgControl->lock);
}

/* Call visit() on one model's published blob; false if not loaded. */
bool
OgStoreVisitOne(const char *name, OgStoreVisitor visit, void *arg)
{
	OgSlot	   *slot;

	OgStoreAttach();
	LWLockAcquire(OgControl->lock, LW_SHARED);
	slot = OgStoreFind(name, strlen(name));
	if (slot)
		visit((const OgBlobHeader *) dsa_get_address(OgArea, slot->blob), arg);
	LWLockRelease(OgControl->lock);
	return slot != NULL;
}

/* Memory accounting, after freeing what can be freed. */
void
OgStoreGetUsage(OgStoreUsage *usage)
{
	int			i;

	bool		reclaim;

	OgStoreAttach();
	memset(usage, 0, sizeof(*usage));
	reclaim = pg_atomic_read_u32(&OgControl->retired_hint) > 0;
	LWLockAcquire(OgControl->lock, reclaim ? LW_EXCLUSIVE : LW_SHARED);
	if (reclaim)
		OgStoreReclaim();
	usage->area_bytes = OgControl->area_bytes;
	usage->used_bytes = OgControl->used_bytes;
	usage->max_models = OgControl->max_models;
	for (i = 0; i < OgControl->max_models; i++)
		if (pg_atomic_read_u64(&OgSlots[i].generation) != 0)
			usage->models++;
	usage->retired = OgControl->n_retired;
	for (i = 0; i < OgControl->n_retired; i++)
		usage->retired_bytes += OgRetiredList[i].size;
	LWLockRelease(OgControl->lock);
}
