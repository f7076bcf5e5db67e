/*-------------------------------------------------------------------------
 *
 * formats.h
 *	  Model file parsers: each translates one format into a blob (blob.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_FORMATS_H
#define OG_FORMATS_H

#include "blob.h"
#include "mlmodel.h"

/* Our og_model flavor's model.json (kind "linear"). */
extern void OgLinearCompile(const OgMLmodel *mlm, const char *what,
							const char *buf, Size len, OgBlobBuilder *b);

#endif							/* OG_FORMATS_H */
