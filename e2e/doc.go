// Package e2e holds the end-to-end tests, run against a real OpenID provider and Chromium.
package e2e
