package entity

import "context"

// ListQuery pages a list. Limit 0 means no limit (the controller turns the
// API's limit=0 into 200 before calling a store).
type ListQuery struct {
	Skip  int
	Limit int
}

// Store keeps actions, packages, triggers and rules (OpenWhisk's whisks
// database). Documents are *Action, *Package, *Trigger or *Rule; each carries
// its store revision (Document.Revision).
type Store interface {
	// Get returns the document of kind k named name, with its revision.
	// ErrNotFound if there is none; ErrWrongCollection if the name holds
	// another kind of entity.
	Get(ctx context.Context, k Kind, name FQN) (Document, error)

	// Put writes doc and returns its new revision. With doc.Revision() == ""
	// it creates the document: ErrExists if the name is taken (by any kind).
	// Otherwise it updates the document at that revision: ErrConflict if
	// the stored revision differs or the document is gone.
	Put(ctx context.Context, doc Document) (rev string, err error)

	// Delete removes the document of kind k named name. With rev != "" the
	// stored revision must equal rev (ErrConflict otherwise). ErrNotFound if
	// there is none; ErrWrongCollection if the name holds another kind.
	Delete(ctx context.Context, k Kind, name FQN, rev string) error

	// List returns documents of kind k under path, newest update first,
	// paged by q. A namespace path ("guest") lists the namespace's entities
	// including, for actions, those inside its packages; a package path
	// ("guest/pkg") lists only that package's actions. Listed documents may
	// be in summary form: an action's exec may lack its code and kind.
	List(ctx context.Context, k Kind, path EntityPath, q ListQuery) ([]Document, error)

	// Count returns how many documents List would return without paging.
	Count(ctx context.Context, k Kind, path EntityPath) (int, error)
}

// ActivationQuery selects activations of one namespace: optionally those of
// one action or trigger Name ("name" or "pkg/name", matched against
// Activation.EntityPath), started in [Since, Upto] (epoch ms, 0 = unbounded),
// newest start first, paged by Skip and Limit (0 = no limit).
type ActivationQuery struct {
	Name  string
	Since int64
	Upto  int64
	Skip  int
	Limit int
}

// Activations keeps activation records (OpenWhisk's activations database).
type Activations interface {
	// Put queues a record for writing and returns without waiting for it
	// to be durable; records become durable within the store's durability
	// window (group commit). A record is visible to Get and List as soon as
	// Put returns. Errors: the store is closed, or ctx ended while the
	// queue was full.
	Put(ctx context.Context, a *Activation) error

	// Flush waits until every record queued before the call is durable.
	Flush(ctx context.Context) error

	// Get returns the record of activation id in namespace ns.
	// ErrNotFound if there is none.
	Get(ctx context.Context, ns, id string) (*Activation, error)

	// List returns the records of namespace ns selected by q.
	List(ctx context.Context, ns string, q ActivationQuery) ([]*Activation, error)

	// Count returns how many records List would return without paging.
	Count(ctx context.Context, ns string, q ActivationQuery) (int, error)
}

// Subjects authenticates callers (OpenWhisk's subjects database, read side).
type Subjects interface {
	// Authenticate returns the identity owning the credentials uuid:key,
	// with its namespace limits. ErrUnauthenticated if none matches or its
	// subject is blocked.
	Authenticate(ctx context.Context, uuid, key string) (Identity, error)

	// IdentityByNamespace returns the identity owning namespace ns.
	// ErrNotFound if no unblocked subject owns it.
	IdentityByNamespace(ctx context.Context, ns string) (Identity, error)
}

// SubjectAdmin manages subjects, their namespace keys and namespace limits
// (what OpenWhisk's wskadmin does).
type SubjectAdmin interface {
	Subjects

	// GetSubject returns a subject with its revision. ErrNotFound if absent.
	GetSubject(ctx context.Context, subject string) (Subject, error)

	// PutSubject writes s: creates it when s.Rev is "" (ErrExists if the
	// subject exists), else updates it at that revision (ErrConflict if
	// stale). A namespace uuid:key pair must be unique across subjects
	// (ErrExists otherwise). It returns the new revision.
	PutSubject(ctx context.Context, s Subject) (rev string, err error)

	// DeleteSubject removes a subject. ErrNotFound if absent.
	DeleteSubject(ctx context.Context, subject string) error

	// ListSubjects returns every subject, ordered by subject name.
	ListSubjects(ctx context.Context) ([]Subject, error)

	// GetLimits returns the limits of namespace ns (the zero UserLimits if
	// none are set).
	GetLimits(ctx context.Context, ns string) (UserLimits, error)

	// PutLimits sets (replaces) the limits of namespace ns.
	PutLimits(ctx context.Context, ns string, l UserLimits) error

	// DeleteLimits removes the limits of namespace ns. ErrNotFound if none.
	DeleteLimits(ctx context.Context, ns string) error
}
