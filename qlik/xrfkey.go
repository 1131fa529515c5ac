package qlik

import (
	"crypto/rand"
	"io"
)

const xrfkeyAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// xrfkeyLimit is the largest multiple of len(xrfkeyAlphabet) that fits in a byte: a byte at or
// above it is dropped, so that every letter is equally likely.
const xrfkeyLimit = 256 - 256%len(xrfkeyAlphabet)

// NewXrfkey returns a fresh 16-character key of [0-9A-Za-z] from crypto/rand, for the query
// parameter xrfkey and the header X-Qlik-Xrfkey that the QPS requires on every call.
func NewXrfkey() string {
	key, err := xrfkeyFrom(rand.Reader)
	if err != nil {
		panic("qlik: crypto/rand failed: " + err.Error()) // crypto/rand does not fail
	}
	return key
}

// xrfkeyFrom draws a key from r by rejection sampling.
func xrfkeyFrom(r io.Reader) (string, error) {
	var key [16]byte
	var buf [32]byte
	n := 0
	for n < len(key) {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < xrfkeyLimit && n < len(key) {
				key[n] = xrfkeyAlphabet[int(b)%len(xrfkeyAlphabet)]
				n++
			}
		}
	}
	return string(key[:]), nil
}
