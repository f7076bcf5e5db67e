/*-------------------------------------------------------------------------
 *
 * reference.c
 *	  Training reference histograms: read from JSON, written as JSON, built
 *	  from samples, and compared with what was scored (PSI).  Layout and
 *	  binning rules in reference.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "common/shortest_dec.h"

#include "blob.h"
#include "json.h"
#include "reference.h"

Size
OgRefSize(uint32 n_features, uint32 total_bins)
{
	Size		size = sizeof(OgRefHeader);

	size = add_size(size, mul_size(2 * sizeof(uint32), n_features));
	size = add_size(size, mul_size(sizeof(double),
								   add_size(mul_size(2, total_bins), n_features)));
	return size;
}

static OgRefHeader *
OgRefAlloc(uint32 n_features, uint32 total_bins)
{
	OgRefHeader *r = palloc0(OgRefSize(n_features, total_bins));

	r->n_features = n_features;
	r->total_bins = total_bins;
	return r;
}

double
OgRefPsi(const double *fractions, const uint64 *counts, uint32 nbins,
		 uint64 total)
{
	double		psi = 0;
	uint32		i;

	for (i = 0; i < nbins; i++)
	{
		double		e = Max(fractions[i], OG_PSI_EPSILON);
		double		a = Max((double) counts[i] / (double) total, OG_PSI_EPSILON);

		psi += (a - e) * log(a / e);
	}
	return psi;
}

static void
OgRefBad(const char *model, const char *what, int f, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("reference of feature %d in %s of model \"%s\" is invalid", f + 1,
					what, model),
			 errdetail("%s", problem),
			 errhint("Each feature has \"edges\" (increasing numbers) and one \"fraction\" per bin between them.")));
}

OgRefHeader *
OgRefFromJson(const cJSON *obj, const char *model, const char *what,
			  uint32 n_features, const char *const *feature_names)
{
	const cJSON *features;
	const cJSON *item;
	uint32		total = 0;
	uint32		f = 0;
	OgRefHeader *r;
	uint32	   *nbins;
	uint32	   *start;
	double	   *edges;
	double	   *fractions;
	int			n;

	if (!cJSON_IsObject(obj))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("\"reference\" in %s of model \"%s\" is not an object", what, model),
				 errhint("The reference is {\"features\": [{\"name\": ..., \"edges\": [...], \"fractions\": [...]}, ...]}.")));
	features = OgJsonRequire(obj, "features", model, what);
	n = OgJsonArraySize(features, model, what, "features", OG_MAX_FEATURES);
	if (n == 0)
		return NULL;			/* an empty reference is no reference */
	if ((uint32) n != n_features)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("\"reference\" in %s of model \"%s\" describes %d features, the model has %u",
						what, model, n, n_features)));

	/* first pass: check and count bins */
	cJSON_ArrayForEach(item, features)
	{
		const cJSON *e;
		const cJSON *fr;
		const cJSON *name;
		int			ne,
					nf;

		if (cJSON_IsNull(item))
		{
			f++;
			continue;
		}
		if (!cJSON_IsObject(item))
			OgRefBad(model, what, f, "The entry is not an object.");
		name = cJSON_GetObjectItemCaseSensitive(item, "name");
		if (name && !cJSON_IsNull(name) && feature_names && feature_names[f])
		{
			const char *s = OgJsonString(name, model, what, "name");

			if (strcmp(s, feature_names[f]) != 0)
				OgRefBad(model, what, f,
						 psprintf("The entry is named \"%s\" but the model's feature %u is \"%s\".",
								  s, f + 1, feature_names[f]));
		}
		e = OgJsonRequire(item, "edges", model, what);
		fr = OgJsonRequire(item, "fractions", model, what);
		ne = OgJsonArraySize(e, model, what, "edges", OG_REF_MAX_BINS + 1);
		nf = OgJsonArraySize(fr, model, what, "fractions", OG_REF_MAX_BINS);
		if (ne < 2)
			OgRefBad(model, what, f, "There are fewer than two edges.");
		if (nf != ne - 1)
			OgRefBad(model, what, f,
					 psprintf("There are %d edges, so %d fractions are expected, not %d.",
							  ne, ne - 1, nf));
		total += nf;
		f++;
	}

	r = OgRefAlloc(n_features, total);
	nbins = (uint32 *) OgRefNBins(r);
	start = (uint32 *) OgRefStart(r);
	edges = (double *) OgRefEdges(r);
	fractions = (double *) OgRefFractions(r);

	total = 0;
	f = 0;
	cJSON_ArrayForEach(item, features)
	{
		const cJSON *x;
		double	   *fe = edges + total + f;
		double	   *ff = fractions + total;
		double		sum = 0;
		int			k = 0,
					i;

		start[f] = total;
		if (cJSON_IsNull(item))
		{
			f++;
			continue;
		}
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(item, "edges"))
			fe[k++] = OgJsonNumber(x, model, what, "edges");
		nbins[f] = k - 1;
		for (i = 1; i < k; i++)
			if (!(fe[i] > fe[i - 1]) && !(k == 2 && fe[1] == fe[0]))
				OgRefBad(model, what, f, "The edges are not strictly increasing.");
		k = 0;
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(item, "fractions"))
		{
			ff[k] = OgJsonNumber(x, model, what, "fractions");
			if (ff[k] < 0)
				OgRefBad(model, what, f, "A fraction is negative.");
			sum += ff[k++];
		}
		if (!(sum > 0))
			OgRefBad(model, what, f, "The fractions add up to zero.");
		for (i = 0; i < k; i++)
			ff[i] /= sum;
		total += nbins[f];
		f++;
	}
	return r;
}

static void
OgAppendDouble(StringInfo s, double d)
{
	char		buf[32];

	/* shortest text that reads back as the same double */
	if (isfinite(d))
	{
		int			len = double_to_shortest_decimal_buf(d, buf);

		appendBinaryStringInfo(s, buf, len);
	}
	else
		appendStringInfoString(s, "null");
}

static void
OgAppendJsonString(StringInfo s, const char *str)
{
	cJSON	   *item = cJSON_CreateString(str);
	char	   *text = item ? cJSON_PrintUnformatted(item) : NULL;

	if (text == NULL)
		elog(ERROR, "out of memory");
	appendStringInfoString(s, text);
	cJSON_free(text);
	cJSON_Delete(item);
}

char *
OgRefToJson(const OgRefHeader *r, const char *const *feature_names, int64 rows)
{
	StringInfoData s;
	uint32		f,
				i;

	initStringInfo(&s);
	appendStringInfoString(&s, "{\"features\": [");
	for (f = 0; f < r->n_features; f++)
	{
		const double *edges;
		const double *fractions;
		uint32		nb = OgRefFeature(r, f, &edges, &fractions);

		if (f > 0)
			appendStringInfoString(&s, ", ");
		if (nb == 0)
		{
			appendStringInfoString(&s, "null");
			continue;
		}
		appendStringInfoString(&s, "{\"name\": ");
		if (feature_names && feature_names[f])
			OgAppendJsonString(&s, feature_names[f]);
		else
			appendStringInfo(&s, "\"f%u\"", f);
		appendStringInfoString(&s, ", \"edges\": [");
		for (i = 0; i <= nb; i++)
		{
			if (i > 0)
				appendStringInfoString(&s, ", ");
			OgAppendDouble(&s, edges[i]);
		}
		appendStringInfoString(&s, "], \"fractions\": [");
		for (i = 0; i < nb; i++)
		{
			if (i > 0)
				appendStringInfoString(&s, ", ");
			OgAppendDouble(&s, fractions[i]);
		}
		appendStringInfoString(&s, "]}");
	}
	appendStringInfoString(&s, "]");
	if (rows >= 0)
		appendStringInfo(&s, ", \"rows\": " INT64_FORMAT, rows);
	appendStringInfoChar(&s, '}');
	return s.data;
}

static int
OgCompareDouble(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

OgRefHeader *
OgRefFromColumns(uint32 n_features, OgRefColumn column, void *arg, int max_bins)
{
	uint32	   *nb = palloc0(sizeof(uint32) * Max(n_features, 1));
	double	  **cuts = palloc0(sizeof(double *) * Max(n_features, 1));
	double	  **counts = palloc0(sizeof(double *) * Max(n_features, 1));
	uint32		total = 0;
	uint32		f;
	OgRefHeader *r;

	max_bins = Min(Max(max_bins, 1), OG_REF_MAX_BINS);
	for (f = 0; f < n_features; f++)
	{
		int64		m;
		double	   *v = column(arg, f, &m);
		int			k,
					count = 0;
		int64		i;

		if (m == 0)
			continue;
		qsort(v, m, sizeof(double), OgCompareDouble);
		cuts[f] = palloc(sizeof(double) * (max_bins + 1));
		/* nearest-rank quantiles k / max_bins, duplicates merged */
		for (k = 0; k <= max_bins; k++)
		{
			double		q = v[(int64) (((double) k * (double) (m - 1)) / max_bins + 0.5)];

			if (count == 0 || q > cuts[f][count - 1])
				cuts[f][count++] = q;
		}
		if (count == 1)
			cuts[f][count++] = cuts[f][0];	/* all values equal: one bin */
		nb[f] = count - 1;
		total += nb[f];
		counts[f] = palloc0(sizeof(double) * nb[f]);
		for (i = 0; i < m; i++)
		{
			bool		oor;

			counts[f][OgRefBin(cuts[f], nb[f], v[i], &oor)] += 1;
		}
		for (k = 0; k < (int) nb[f]; k++)
			counts[f][k] /= (double) m;
	}

	r = OgRefAlloc(n_features, total);
	total = 0;
	for (f = 0; f < n_features; f++)
	{
		uint32	   *nbins = (uint32 *) OgRefNBins(r);
		uint32	   *start = (uint32 *) OgRefStart(r);
		double	   *edges = (double *) OgRefEdges(r) + total + f;
		double	   *fractions = (double *) OgRefFractions(r) + total;

		start[f] = total;
		nbins[f] = nb[f];
		if (nb[f] == 0)
			continue;
		memcpy(edges, cuts[f], sizeof(double) * (nb[f] + 1));
		memcpy(fractions, counts[f], sizeof(double) * nb[f]);
		total += nb[f];
	}
	return r;
}

typedef struct OgSamples
{
	double	  **values;
	const int64 *n;
} OgSamples;

static double *
OgSamplesColumn(void *arg, uint32 f, int64 *n)
{
	OgSamples  *s = (OgSamples *) arg;

	*n = s->n[f];
	return s->values[f];
}

OgRefHeader *
OgRefFromSamples(uint32 n_features, double **values, const int64 *n,
				 int max_bins)
{
	OgSamples	s = {values, n};

	return OgRefFromColumns(n_features, OgSamplesColumn, &s, max_bins);
}
