// Package adminapi is the admin API's contract: the route paths, the request
// and response bodies, the roles, the gate names and the header names that the
// server (runtime/admin), the baldur CLI and the console's tests share. It
// imports nothing from the runtime, so a client builds against it without
// linking a breaker or a store.
//
// # Adding a route
//
// A new admin route is three edits, in this order:
//
//  1. Here: a path constant in routes.go (relative to Prefix, no slashes at
//     the ends; "{name}" or "{id}" stands for one segment), and, when a client
//     builds the path, a function that fills the segment in (see BreakerPath).
//  2. Here: the request body (if the route reads more than ActionRequest) and
//     the response body, with json tags, in a file named for the area (e.g.
//     audit.go). Response types use only the standard library's types.
//  3. In runtime/admin: one entry in Handler.table (admin.go) naming the path
//     constant, the method, the lowest Role, whether it is destructive (unlock
//     and CONFIRM), and the handler function, which answers with the response
//     type from step 2.
//
// The route-table tests of runtime/admin derive every request they send from
// that table, so the new route meets every gate (host, origin, key, role,
// unlock, content type, body, confirmation) without a line of test code; the
// policy test pins that a GET needs a viewer key and is never destructive,
// that a POST needs at least an operator key and reads a JSON body, and that
// only health and metrics are open probes. The CLI then calls URL(path) and
// decodes the response type.
package adminapi
