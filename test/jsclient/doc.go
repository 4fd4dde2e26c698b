// Package jsclient holds an integration test (build tag integration) that
// drives `gowhisk standalone` with the official OpenWhisk JS client (npm
// openwhisk, pinned in test/integration/package.json): flows.js runs the
// action, activation, trigger, rule, package and namespace flows and
// asserts what the client returns. Run it with `make test-integration`.
package jsclient
