// Package qlik is a client for the REST API of the Qlik Sense Proxy Service (QPS), which adds
// proxy sessions and requests login tickets over mutual TLS.
package qlik
