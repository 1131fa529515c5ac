// Package qpstest runs a strict simulator of the Qlik Sense proxy service (QPS), its REST API
// over mutual TLS and its browser side, for tests and demos, as net/http/httptest does for HTTP.
//
// # Where Qlik's behaviour is unknown
//
// The simulator picks the stricter answer, so that a module that passes here does not depend
// on either answer:
//
//   - Xrfkey: the query parameter must be named exactly "xrfkey"; query and header must each
//     appear once and be equal, case included. The check comes before everything else.
//   - A body must be one JSON object sent as application/json; unknown fields, trailing data
//     and attributes with an empty key are refused with 400. Field names match in any case.
//   - POST session with a SessionId that a live session holds, on any virtual proxy: 409.
//     The SessionId must be usable as a cookie value unchanged.
//   - DELETE session/{id} for an unknown id: 404.
//   - Session and user calls see only the sessions of the virtual proxy in the path; NewUser
//     and LastSessionForUser look at the whole node. Users compare without regard to case.
//   - alive and error exist only at /qps/alive and /qps/error, as in Qlik's API description;
//     /qps/<prefix>/alive is 404.
//   - A ticket is consumed by the first attempt to redeem it, and redeems only at the
//     virtual proxy that issued it. A target id resolves once, only at its virtual proxy.
//   - After redeeming a ticket the browser is sent to the same path with the qlikTicket
//     parameter removed and every other parameter kept, in order.
//   - The session limit counts admitted sessions per user across virtual proxies; a session
//     is admitted at its first page, and the one over the limit is refused there (403).
//   - Attributes whose X-Qlik-Security header line exceeds the budget fail every page with
//     400, as HTTP.sys refuses a long header; the session is admitted first and keeps its
//     place in the count.
//   - The hub's logout (DELETE /<prefix>/qps/user) ends the session but leaves the cookie in
//     the browser; without a session it is 401.
//   - Of several cookies with the session cookie's name, only the first counts.
//
// One convenience departs from a real proxy: /favicon.ico is answered 404 without a session
// check, so that a browser's icon request does not start a login of its own.
package qpstest
