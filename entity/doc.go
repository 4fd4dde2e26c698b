// Package entity holds gowhisk's data model — actions, packages, triggers,
// rules, activations, identities and limits — with JSON that matches Apache
// OpenWhisk field for field, the name rules, validation, and the storage
// seams (Store, Activations, Subjects) that the adapters in boltstore and
// couchdb implement.
package entity
