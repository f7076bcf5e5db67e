/*-------------------------------------------------------------------------
 *
 * rows.h
 *	  Reading features (and a label) from a query's rows, for og_evaluate,
 *	  og_set_reference and og_train.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_ROWS_H
#define OG_ROWS_H

#include "executor/spi.h"

#include "blob.h"

typedef struct OgRowReader
{
	const char *model;			/* for messages */
	const OgBlobHeader *m;		/* the model, or NULL: features from the query */
	Portal		portal;
	TupleDesc	desc;
	int			label_col;		/* 1-based, 0 if none */
	int			array_col;		/* 1-based, 0 if scalar columns */
	Oid			array_elem;
	uint32		n_features;		/* without a model and with an array: from row 1 */
	int		   *cols;			/* [n_features] 1-based, scalar mode */
	const char **names;			/* without a model, scalar mode: column names */
	double	   *x;				/* [n_features] current row; NULL/NaN are NaN */
	double		label;
	int64		row;			/* rows read so far */
	/* batches of the cursor */
	MemoryContext cxt;			/* where x lives */
	MemoryContext rowcxt;		/* reset for every row */
	SPITupleTable *batch;
	uint64		batch_n;
	uint64		next;
} OgRowReader;

/*
 * Open query (inside SPI) and work out where label and features are: with
 * a model, as its features; without one (m == NULL), every column but the
 * label, or the only one besides it when that is an array.  label may be
 * NULL when there is none.  Errors name the model.
 */
extern void OgRowReaderOpen(OgRowReader *rr, const char *model,
							const OgBlobHeader *m, const char *query,
							const char *label);

/* Read the next row into rr->x and rr->label; false (cursor closed) at the end. */
extern bool OgRowReaderNext(OgRowReader *rr);

#endif							/* OG_ROWS_H */
