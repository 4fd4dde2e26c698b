package messaging

import "github.com/gowhisk/gowhisk/entity"

// ErrClosed is what Send, Fetch and Commit return once their producer,
// consumer or transport is closed. It wraps entity.ErrUnavailable. A loop
// consuming a topic ends when it sees ErrClosed and retries other errors
// (a broker may be briefly unavailable).
var ErrClosed = entity.Errorf(entity.ErrUnavailable, "messaging: closed")
