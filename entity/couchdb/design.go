package couchdb

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"

	kivik "github.com/go-kivik/kivik/v4"
)

// Design document ids and view names (OpenWhisk's whisk.db.*-ddoc names).
const (
	ddocWhisks      = "_design/whisks.v2.1.0"
	ddocFilters     = "_design/whisks-filters.v2.1.1"
	ddocSubjects    = "_design/subjects.v2.0.0"
	ddocThrottlings = "_design/namespaceThrottlings"
	// ddocCredentials is gowhisk's own: every subject's uuid:key, blocked
	// or not, to keep credentials unique (identities skips blocked ones).
	ddocCredentials = "_design/gowhisk-subjects.v1"

	viewActivations = "activations"
	viewIdentities  = "identities"
	viewCredentials = "credentials"
	viewBlocked     = "blockedNamespaces"
)

// view is a CouchDB view: a JavaScript map function and an optional reduce.
type view struct {
	Map    string `json:"map"`
	Reduce string `json:"reduce,omitempty"`
}

// designDoc is a design document with JavaScript views.
type designDoc struct {
	ID       string          `json:"_id"`
	Rev      string          `json:"_rev,omitempty"`
	Language string          `json:"language"`
	Views    map[string]view `json:"views"`
}

// entityKindJS sets `kind` to the document's entity kind: its entityType,
// or, for documents written without one, the kind its shape implies (as
// OpenWhisk's views classify them: exec, binding, trigger, parameters).
const entityKindJS = `
  var kind = doc.entityType;
  if (kind === undefined) {
    if (doc.exec !== undefined) kind = "action";
    else if (doc.binding !== undefined) kind = "package";
    else if (doc.trigger !== undefined) kind = "rule";
    else if (doc.parameters !== undefined) kind = "trigger";
  }`

// entityMap is the map function of the actions, triggers and rules views:
// key [namespace, updated], and also [root namespace, updated] for an
// entity inside a package.
func entityMap(kind, value string) string {
	return `function (doc) {` + entityKindJS + `
  if (kind !== "` + kind + `" || typeof doc.namespace !== "string") return;
  var value = ` + value + `;
  emit([doc.namespace, doc.updated], value);
  var root = doc.namespace.split("/")[0];
  if (root !== doc.namespace) emit([root, doc.updated], value);
}`
}

const summaryJS = `{
    namespace: doc.namespace,
    name: doc.name,
    version: doc.version,
    publish: doc.publish,
    annotations: doc.annotations,
    updated: doc.updated
  }`

const actionSummaryJS = `{
    namespace: doc.namespace,
    name: doc.name,
    version: doc.version,
    publish: doc.publish,
    annotations: doc.annotations,
    limits: doc.limits,
    exec: {binary: (doc.exec && doc.exec.binary) || false},
    updated: doc.updated
  }`

// packageMap is the map function of the packages views: key [namespace,
// updated], value the summary with binding false or the binding object.
func packageMap(publicOnly bool) string {
	cond := ""
	if publicOnly {
		cond = `
  if (!doc.publish || bound) return;`
	}
	return `function (doc) {` + entityKindJS + `
  if (kind !== "package" || typeof doc.namespace !== "string") return;
  var b = doc.binding;
  var bound = b !== null && typeof b === "object" && Object.keys(b).length > 0;` + cond + `
  var value = ` + summaryJS + `;
  value.binding = bound ? b : false;
  emit([doc.namespace, doc.updated], value);
}`
}

// activationSummaryJS defines summarize(doc): the list form of an
// activation; end, duration and statusCode only when it has an end.
const activationSummaryJS = `
  var summarize = function (doc) {
    var v = {
      namespace: doc.namespace,
      name: doc.name,
      version: doc.version,
      publish: doc.publish,
      annotations: doc.annotations,
      activationId: doc.activationId,
      start: doc.start,
      cause: doc.cause
    };
    if (doc.end) {
      v.end = doc.end;
      v.duration = doc.duration !== undefined ? doc.duration : doc.end - doc.start;
      if (doc.response && doc.response.statusCode !== undefined) v.statusCode = doc.response.statusCode;
    }
    return v;
  };`

// activationsMap: key [namespace, start].
const activationsMap = `function (doc) {` + activationSummaryJS + `
  if (doc.activationId === undefined || typeof doc.namespace !== "string") return;
  emit([doc.namespace, doc.start], summarize(doc));
}`

// activationsFilterMap: key [namespace/(pkg/)name, start], the package
// taken from the binding annotation ("ns/pkg"), else from the path
// annotation ("ns/pkg/name"); see entity.Activation.EntityPath.
const activationsFilterMap = `function (doc) {` + activationSummaryJS + `
  if (doc.activationId === undefined || typeof doc.namespace !== "string") return;
  var annotation = function (key) {
    if (!Array.isArray(doc.annotations)) return undefined;
    for (var i = 0; i < doc.annotations.length; i++) {
      var a = doc.annotations[i];
      if (a && a.key === key) return a.value;
    }
    return undefined;
  };
  var pkgOf = function (v, minSlashes) {
    if (typeof v !== "string") return "";
    var parts = v.split("/");
    return parts.length - 1 >= minSlashes ? parts[1] : "";
  };
  var pkg = pkgOf(annotation("binding"), 1) || pkgOf(annotation("path"), 2);
  var path = pkg ? pkg + "/" + doc.name : doc.name;
  emit([doc.namespace + "/" + path, doc.start], summarize(doc));
}`

// identitiesMap: keys [namespace] and [uuid, key] of every namespace of an
// unblocked subject; the value links the namespace's limits document.
const identitiesMap = `function (doc) {
  if (doc.blocked || !Array.isArray(doc.namespaces)) return;
  doc.namespaces.forEach(function (ns) {
    var v = {_id: ns.name + "/limits", namespace: ns.name, uuid: ns.uuid, key: ns.key};
    emit([ns.name], v);
    emit([ns.uuid, ns.key], v);
  });
}`

// credentialsMap: key [uuid, key] of every namespace of every subject.
const credentialsMap = `function (doc) {
  if (typeof doc.subject !== "string" || !Array.isArray(doc.namespaces)) return;
  doc.namespaces.forEach(function (ns) {
    emit([ns.uuid, ns.key], ns.name);
  });
}`

// blockedMap: namespaces whose limits allow no invocations.
const blockedMap = `function (doc) {
  var suffix = "/limits";
  var id = doc._id;
  if (id.length <= suffix.length || id.slice(-suffix.length) !== suffix) return;
  if (doc.invocationsPerMinute === 0 || doc.concurrentInvocations === 0) {
    emit(id.slice(0, -suffix.length), 1);
  }
}`

func whisksDesignDocs() []designDoc {
	return []designDoc{{
		ID: ddocWhisks, Language: "javascript",
		Views: map[string]view{
			"actions":         {Map: entityMap("action", actionSummaryJS), Reduce: "_count"},
			"triggers":        {Map: entityMap("trigger", summaryJS), Reduce: "_count"},
			"rules":           {Map: entityMap("rule", "1"), Reduce: "_count"},
			"packages":        {Map: packageMap(false), Reduce: "_count"},
			"packages-public": {Map: packageMap(true), Reduce: "_count"},
		},
	}}
}

func activationsDesignDocs() []designDoc {
	return []designDoc{
		{ID: ddocWhisks, Language: "javascript", Views: map[string]view{
			viewActivations: {Map: activationsMap, Reduce: "_count"},
		}},
		{ID: ddocFilters, Language: "javascript", Views: map[string]view{
			viewActivations: {Map: activationsFilterMap, Reduce: "_count"},
		}},
	}
}

func subjectsDesignDocs() []designDoc {
	return []designDoc{
		{ID: ddocSubjects, Language: "javascript", Views: map[string]view{
			viewIdentities: {Map: identitiesMap},
		}},
		{ID: ddocThrottlings, Language: "javascript", Views: map[string]view{
			viewBlocked: {Map: blockedMap, Reduce: "_sum"},
		}},
		{ID: ddocCredentials, Language: "javascript", Views: map[string]view{
			viewCredentials: {Map: credentialsMap},
		}},
	}
}

// sameViews reports whether a stored design document already has want's
// language and views.
func sameViews(have, want designDoc) bool {
	return have.Language == want.Language && maps.Equal(have.Views, want.Views)
}

// ensureDesignDoc creates the design document, or rewrites it when its
// views differ. A concurrent writer (another process opening the same
// databases) makes it read and compare again.
func ensureDesignDoc(ctx context.Context, db *kivik.DB, want designDoc, log *slog.Logger) error {
	for attempt := 0; ; attempt++ {
		var have designDoc
		err := db.Get(ctx, want.ID).ScanDoc(&have)
		switch {
		case isStatus(err, http.StatusNotFound):
			have = designDoc{}
		case err != nil:
			return storeError("read design document "+want.ID, err)
		case sameViews(have, want):
			return nil
		}
		doc := want
		doc.Rev = have.Rev
		body, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("couchdb: encode design document %s: %w", want.ID, err)
		}
		_, err = db.Put(ctx, want.ID, json.RawMessage(body))
		if err == nil {
			log.Info("couchdb design document written", "db", db.Name(), "id", want.ID, "replaced", have.Rev != "")
			return nil
		}
		if !isStatus(err, http.StatusConflict) || attempt >= 3 {
			return storeError("write design document "+want.ID, err)
		}
	}
}
