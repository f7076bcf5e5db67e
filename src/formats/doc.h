/*-------------------------------------------------------------------------
 *
 * doc.h
 *	  A small document tree read from JSON or UBJSON, for XGBoost models.
 *
 * XGBoost writes the same model as JSON (with NaN and Infinity tokens that
 * strict JSON parsers reject) or as UBJSON (typed binary arrays).  Both
 * readers build this tree in the current memory context; arrays whose
 * elements are all numbers are kept as one double[] (OG_DOC_NUMBERS), which
 * keeps large models compact.  Depth and element counts are capped.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_DOC_H
#define OG_DOC_H

#define OG_DOC_MAX_DEPTH	64

typedef enum OgDocType
{
	OG_DOC_NULL,
	OG_DOC_BOOL,
	OG_DOC_NUMBER,
	OG_DOC_STRING,
	OG_DOC_ARRAY,
	OG_DOC_OBJECT,
	OG_DOC_NUMBERS				/* array of numbers */
} OgDocType;

typedef struct OgDoc
{
	OgDocType	type;
	int			n;				/* items, members, numbers, string length */
	double		number;			/* OG_DOC_NUMBER, OG_DOC_BOOL */
	char	   *string;			/* OG_DOC_STRING */
	struct OgDoc *items;		/* OG_DOC_ARRAY, OG_DOC_OBJECT values */
	char	  **keys;			/* OG_DOC_OBJECT */
	double	   *numbers;		/* OG_DOC_NUMBERS */
} OgDoc;

extern OgDoc *OgDocParseJson(const char *model, const char *what,
							 const char *buf, Size len);
extern OgDoc *OgDocParseUbjson(const char *model, const char *what,
							   const char *buf, Size len);
extern const OgDoc *OgDocGet(const OgDoc *obj, const char *key);

#endif							/* OG_DOC_H */
