/*-------------------------------------------------------------------------
 *
 * json.c
 *	  Strict cJSON parsing and checked value reads.
 *
 * cJSON reads 1e999 as infinity and clamps big integers, so numbers are
 * checked after parsing; it also stops at the end of the first value, so
 * trailing text is rejected here.
 *
 * cJSON allocates through hooks set once per process: palloc in the current
 * memory context, failing softly (NULL) so that cJSON reports it.  Its trees,
 * which take many times the size of the text, are thus accounted to and
 * bounded by PostgreSQL's memory contexts and freed with them, even when an
 * ERROR interrupts the code that holds them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/memutils.h"

#include "json.h"

static void *
OgJsonAlloc(size_t size)
{
	return MemoryContextAllocExtended(CurrentMemoryContext, Max(size, 1),
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

static void
OgJsonFree(void *ptr)
{
	if (ptr)
		pfree(ptr);
}

void
OgJsonInit(void)
{
	cJSON_Hooks hooks = {OgJsonAlloc, OgJsonFree};

	cJSON_InitHooks(&hooks);
}

/* 1-based line and column of a byte offset. */
static void
OgJsonPosition(const char *buf, Size len, Size off, int *line, int *col)
{
	Size		i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off && i < len; i++)
	{
		if (buf[i] == '\n')
		{
			(*line)++;
			*col = 1;
		}
		else
			(*col)++;
	}
}

cJSON *
OgJsonParse(const char *model, const char *what, const char *buf, Size len)
{
	const char *end = NULL;
	cJSON	   *root;
	int			line,
				col;

	root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
	if (root != NULL)
	{
		/* only white space may follow the value */
		while (end < buf + len &&
			   (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
			end++;
		if (end == buf + len || (*end == '\0' && end + 1 == buf + len))
			return root;
		cJSON_Delete(root);
		OgJsonPosition(buf, len, end - buf, &line, &col);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid JSON in %s of model \"%s\"", what, model),
				 errdetail("Unexpected text after the JSON value at line %d, column %d.",
						   line, col)));
	}
	if (end == NULL || end < buf || end > buf + len)
		end = buf + len;
	OgJsonPosition(buf, len, end - buf, &line, &col);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid JSON in %s of model \"%s\"", what, model),
			 errdetail("Syntax error at line %d, column %d.", line, col)));
	return NULL;				/* keep compiler quiet */
}

const cJSON *
OgJsonRequire(const cJSON *obj, const char *key, const char *model,
			  const char *what)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (item == NULL || cJSON_IsNull(item))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s of model \"%s\" has no \"%s\"", what, model, key)));
	return item;
}

double
OgJsonNumber(const cJSON *item, const char *model, const char *what,
			 const char *key)
{
	if (!cJSON_IsNumber(item))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("\"%s\" in %s of model \"%s\" must be a number",
						key, what, model)));
	if (!isfinite(item->valuedouble))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("\"%s\" in %s of model \"%s\" is out of range",
						key, what, model),
				 errdetail("Numbers must be finite double precision values.")));
	return item->valuedouble;
}

const char *
OgJsonString(const cJSON *item, const char *model, const char *what,
			 const char *key)
{
	if (!cJSON_IsString(item) || item->valuestring == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("\"%s\" in %s of model \"%s\" must be a string",
						key, what, model)));
	return item->valuestring;
}

int
OgJsonArraySize(const cJSON *item, const char *model, const char *what,
				const char *key, int max)
{
	int			n;

	if (!cJSON_IsArray(item))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("\"%s\" in %s of model \"%s\" must be an array",
						key, what, model)));
	n = cJSON_GetArraySize(item);
	if (n > max)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("\"%s\" in %s of model \"%s\" has too many elements",
						key, what, model),
				 errdetail("It has %d elements; the maximum is %d.", n, max)));
	return n;
}
