/*-------------------------------------------------------------------------
 *
 * reference.h
 *	  Training reference histograms, the baseline of feature drift.
 *
 * A reference holds, per feature, bin edges e[0] < ... < e[k] and the
 * fraction of training rows in each of the k bins (a feature whose
 * training values were all equal has e[0] == e[1] and one bin).  It is
 * kept flat and pointer-free, in this layout, wherever it goes: a section
 * of the model blob, the statistics' shared memory, the statistics file:
 *
 *	  OgRefHeader
 *	  uint32 nbins[n_features]		0: no reference for that feature
 *	  uint32 start[n_features]		first bin of the feature
 *	  double edges[total_bins + n_features]	feature f at start[f] + f
 *	  double fractions[total_bins]			feature f at start[f]
 *
 * Values below e[0] or above e[k] are out of range and count in the first
 * or last bin; NULL and NaN are counted apart and in no bin.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_REFERENCE_H
#define OG_REFERENCE_H

#include <cjson/cJSON.h>

#define OG_REF_MAX_BINS			1000
#define OG_PSI_EPSILON			1e-4	/* fractions are floored at this for PSI */

typedef struct OgRefHeader
{
	uint32		n_features;
	uint32		total_bins;
} OgRefHeader;

#define OgRefNBins(r)	((const uint32 *) ((const char *) (r) + sizeof(OgRefHeader)))
#define OgRefStart(r)	(OgRefNBins(r) + (r)->n_features)
#define OgRefEdges(r) \
	((const double *) ((const char *) (r) + sizeof(OgRefHeader) + \
					   2 * sizeof(uint32) * (Size) (r)->n_features))
#define OgRefFractions(r)	(OgRefEdges(r) + (r)->total_bins + (r)->n_features)

extern Size OgRefSize(uint32 n_features, uint32 total_bins);

/* Edges and fractions of feature f; returns its number of bins. */
static inline uint32
OgRefFeature(const OgRefHeader *r, uint32 f, const double **edges,
			 const double **fractions)
{
	uint32		start = OgRefStart(r)[f];

	*edges = OgRefEdges(r) + start + f;
	*fractions = OgRefFractions(r) + start;
	return OgRefNBins(r)[f];
}

/* Bin of x (not NaN) among nbins bins; *out_of_range when outside them. */
static inline int
OgRefBin(const double *edges, uint32 nbins, double x, bool *out_of_range)
{
	int			lo,
				hi;

	if (x < edges[0])
	{
		*out_of_range = true;
		return 0;
	}
	if (x > edges[nbins])
	{
		*out_of_range = true;
		return nbins - 1;
	}
	*out_of_range = false;
	/* largest i < nbins with edges[i] <= x */
	lo = 0;
	hi = nbins - 1;
	while (lo < hi)
	{
		int			mid = (lo + hi + 1) / 2;

		if (edges[mid] <= x)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* Population stability index of observed counts against the fractions. */
extern double OgRefPsi(const double *fractions, const uint64 *counts,
					   uint32 nbins, uint64 total);

/*
 * From the "reference" object of our format ({"features": [{"name",
 * "edges", "fractions"}, ...]}); errors name the model and what.
 * feature_names (or NULL) are checked against the entries' names.  An
 * empty "features" list gives NULL: no reference.
 */
extern OgRefHeader *OgRefFromJson(const cJSON *obj, const char *model,
								  const char *what, uint32 n_features,
								  const char *const *feature_names);

/* The same object, as JSON text. */
extern char *OgRefToJson(const OgRefHeader *r,
						 const char *const *feature_names, int64 rows);

/*
 * Quantile bins of each feature's non-NaN values: values[f] holds n[f]
 * values, sorted in place.  At most max_bins bins per feature.
 */
extern OgRefHeader *OgRefFromSamples(uint32 n_features, double **values,
									 const int64 *n, int max_bins);

/*
 * The same, one feature at a time: column(arg, f, &n) returns feature f's
 * n non-NaN values, which may be sorted in place and are not used after
 * the next call (so one buffer can serve every feature).
 */
typedef double *(*OgRefColumn) (void *arg, uint32 f, int64 *n);
extern OgRefHeader *OgRefFromColumns(uint32 n_features, OgRefColumn column,
									 void *arg, int max_bins);

#endif							/* OG_REFERENCE_H */
