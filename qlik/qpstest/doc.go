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
//   - DELETE session/{id} for an unknown id (or one of another virtual proxy): 404. Qlik
//     answers GET with null for an unknown id, but what DELETE answers is unknown.
//   - GET and DELETE user/{dir}/{id} for a user without sessions: 200 with [].
//   - Session and user calls see only the sessions of the virtual proxy in the path; NewUser
//     and LastSessionForUser look at the whole node. Users compare without regard to case.
//   - alive and error exist only at /qps/alive and /qps/error, as in Qlik's API description;
//     /qps/<prefix>/alive is 404.
//   - A ticket is consumed by the first attempt to redeem it, and redeems only at the
//     virtual proxy that issued it. A target id resolves once, only at its virtual proxy.
//   - After redeeming a ticket the browser is sent to the same path with the qlikTicket
//     parameter removed and every other parameter kept, in order.
//   - The session limit counts admitted sessions per user across the node's virtual proxies
//     (several nodes: see below); a session is admitted at its first page, and the one
//     over the limit is refused there (403).
//   - Attributes whose X-Qlik-Security header line exceeds the budget fail every page with
//     400, as HTTP.sys refuses a long header; the session is admitted first and keeps its
//     place in the count.
//   - The hub's logout (DELETE /<prefix>/qps/user) ends the session but leaves the cookie in
//     the browser; without a session it is 401.
//   - Of several cookies with the session cookie's name, only the first counts.
//
// # Several nodes of one site
//
// A Site holds the CA and the client files the QMC exports; nodes started with the same
// Config.Site share them, so one client certificate reaches every node and one root.pem
// verifies each node's server certificate, CN=<the node's Hostname>. Nodes on one host
// name differ by port, in RESTURL and in the proxyRestUri they send.
//
// Each node keeps its sessions, tickets, target ids and call log (Requests) in its own
// memory, as a real proxy node does: a session lives on the node it was added to, and
// another node's browser side treats its cookie as no session. The same SessionId may be
// added to several nodes, which is how a module lets any node serve the user. A ticket
// redeems, and a target id resolves, only at the node that issued it.
//
// The session limit counts per node. Whether Qlik counts per virtual proxy, per node or
// per site is unknown; counting per node lets a user hold the limit on every node, so a
// module must not rely on the limit to stop a flood of sessions across nodes.
//
// # Logout
//
// The hub page (the one that shows "Logged in as") has a plain HTML form whose button,
// id="logout", posts to /<prefix>/qps/user/logout. That route is the simulator's own: the
// real hub calls DELETE /<prefix>/qps/user and then shows its own page. The route ends the
// session like the DELETE, expires the cookie, and sends the browser (303) to the virtual
// proxy's LogoutRedirectURI unchanged, or shows a page with id="logged-out" when none is
// set. Admins report such a setting but Qlik does not confirm it, nor whether it adds
// parameters; the simulator adds none. Without a session the route does the same, so a
// second click or a stale page still ends logged out.
//
// One convenience departs from a real proxy: /favicon.ico is answered 404 without a session
// check, so that a browser's icon request does not start a login of its own.
package qpstest
