/*-------------------------------------------------------------------------
 *
 * store.h
 *	  Shared-memory model store: directory of loaded models, hot swap, pins.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_STORE_H
#define OG_STORE_H

#include "port/atomics.h"

#include "blob.h"

#define OG_MAX_NAME_LEN		63

/*
 * A scorer's handle on one model, kept in fn_extra.  OgStoreGet() is the
 * per-row fast path: two comparisons, no lock.
 */
typedef struct OgModelHandle
{
	char		name[OG_MAX_NAME_LEN + 1];
	int			name_len;
	int			slot;			/* -1 before the first lookup */
	uint64		generation;		/* generation pinned, 0 if none */
	uint64		epoch;			/* OgPinEpoch when pinned */
	pg_atomic_uint64 *slot_generation;
	const OgBlobHeader *blob;
} OgModelHandle;

extern PGDLLIMPORT uint64 OgPinEpoch;

extern void OgStoreInit(void);
extern int	OgStoreMaxModels(void);
extern void OgAreaCreateInPlace(void *place, Size bytes, int tranche);
extern void OgStoreCheckAvailable(void);
extern OgModelHandle *OgHandleCreate(MemoryContext mcxt);
extern const OgBlobHeader *OgStoreLookup(OgModelHandle *h, const char *name,
										 int name_len);

/* Whether h's pinned version is still the published one. */
static inline bool
OgStorePinned(const OgModelHandle *h)
{
	return h->generation != 0 &&
		h->epoch == OgPinEpoch &&
		pg_atomic_read_u64(h->slot_generation) == h->generation;
}

/* Per-row fast path: the pinned blob if it is still the published one. */
static inline const OgBlobHeader *
OgStoreGet(OgModelHandle *h, const char *name, int name_len)
{
	if (likely(name_len == h->name_len &&
			   memcmp(name, h->name, name_len) == 0 &&
			   OgStorePinned(h)))
		return h->blob;
	return OgStoreLookup(h, name, name_len);
}

extern uint64 OgStorePublish(const char *name, const OgBlobHeader *blob,
							 Size size);
extern bool OgStoreUnload(const char *name);

/* Iterating the directory for the view: callback runs under a shared lock. */
typedef void (*OgStoreVisitor) (const OgBlobHeader *blob, void *arg);
extern void OgStoreForEach(OgStoreVisitor visit, void *arg);
extern bool OgStoreVisitOne(const char *name, OgStoreVisitor visit, void *arg);

typedef struct OgStoreUsage
{
	Size		area_bytes;
	Size		used_bytes;
	int			models;
	int			max_models;
	int			retired;
	Size		retired_bytes;
} OgStoreUsage;

extern void OgStoreGetUsage(OgStoreUsage *usage);

extern void OgStorePreloadBegin(void);
extern void OgStorePreloadDone(void);

#endif							/* OG_STORE_H */
