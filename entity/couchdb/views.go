package couchdb

import (
	"context"
	"encoding/json"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/gowhisk/gowhisk/entity"
)

// topKey collates after every number and every string OpenWhisk puts in a
// view key: the open upper bound of a range (OpenWhisk's TOP).
const topKey = "\ufff0"

// viewRange returns the startkey and endkey, as sent on the wire for a
// descending query, that select the keys [prefix, n] with since <= n <=
// upto (0 meaning unbounded): OpenWhisk's startkey=[path, since||0] and
// endkey=[path, upto||TOP, TOP], swapped for descending=true.
func viewRange(prefix string, since, upto int64) (startKey, endKey []any) {
	if upto > 0 {
		startKey = []any{prefix, upto, topKey}
	} else {
		startKey = []any{prefix, topKey, topKey}
	}
	return startKey, []any{prefix, since}
}

// rangeQuery is a descending view query over a key range.
type rangeQuery struct {
	prefix       string
	since, upto  int64
	skip, limit  int
	reduce, docs bool
}

// params returns the query parameters of q. A limit of 0 sends no limit;
// a count (reduce) sends no skip, limit or include_docs.
func (q rangeQuery) params() map[string]any {
	start, end := viewRange(q.prefix, q.since, q.upto)
	p := map[string]any{
		"startkey":   start,
		"endkey":     end,
		"descending": true,
		"reduce":     q.reduce,
	}
	if q.reduce {
		return p
	}
	if q.skip > 0 {
		p["skip"] = q.skip
	}
	if q.limit > 0 {
		p["limit"] = q.limit
	}
	if q.docs {
		p["include_docs"] = true
	}
	return p
}

// entityView is the view of the whisks design document listing kind k.
func entityView(k entity.Kind) (string, error) {
	switch k {
	case entity.KindAction, entity.KindTrigger, entity.KindRule, entity.KindPackage:
		return k.Collection(), nil
	}
	return "", entity.Invalidf("unknown entity kind %q", k)
}

// activationView returns the design document and key prefix that select
// the activations of ns matching q: the activations view by namespace, or
// the filters view by namespace/(pkg/)name.
func activationView(ns string, q entity.ActivationQuery) (ddoc, prefix string) {
	if q.Name == "" {
		return ddocWhisks, ns
	}
	return ddocFilters, ns + "/" + q.Name
}

// queryDocs runs a view query with include_docs and returns each row's
// document. Rows whose document is gone (null) are skipped.
func queryDocs(ctx context.Context, db *kivik.DB, ddoc, viewName string, params map[string]any) ([]json.RawMessage, error) {
	rs := db.Query(ctx, ddoc, viewName, kivik.Params(params))
	defer rs.Close()
	var out []json.RawMessage
	for rs.Next() {
		var doc json.RawMessage
		if err := rs.ScanDoc(&doc); err != nil {
			return nil, storeError("read view "+viewName, err)
		}
		if len(doc) == 0 || string(doc) == "null" {
			continue
		}
		out = append(out, doc)
	}
	if err := rs.Err(); err != nil {
		return nil, storeError("query view "+viewName, err)
	}
	return out, nil
}

// queryCount runs a reduce=true query of a _count view: 0 without rows.
func queryCount(ctx context.Context, db *kivik.DB, ddoc, viewName string, params map[string]any) (int, error) {
	rs := db.Query(ctx, ddoc, viewName, kivik.Params(params))
	defer rs.Close()
	n := 0
	for rs.Next() {
		var v int
		if err := rs.ScanValue(&v); err != nil {
			return 0, storeError("read count of view "+viewName, err)
		}
		n += v
	}
	if err := rs.Err(); err != nil {
		return 0, storeError("count view "+viewName, err)
	}
	return n, nil
}
