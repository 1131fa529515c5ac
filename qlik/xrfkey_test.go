package qlik

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func validXrfkey(k string) bool {
	if len(k) != 16 {
		return false
	}
	for _, r := range k {
		if !strings.ContainsRune(xrfkeyAlphabet, r) {
			return false
		}
	}
	return true
}

func TestNewXrfkey(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		k := NewXrfkey()
		if !validXrfkey(k) {
			t.Fatalf("key %q: want 16 characters of [0-9A-Za-z]", k)
		}
		if seen[k] {
			t.Fatalf("key %q repeated", k)
		}
		seen[k] = true
	}
}

// Regression: bytes at or above 248 are dropped, so that no character is more likely than
// another (256 is not a multiple of 62).
func TestXrfkeyRejectionSampling(t *testing.T) {
	tests := []struct {
		name  string
		input []byte
		want  string
	}{
		{"rejects 248 to 255",
			append([]byte{255, 0, 248, 61, 62, 247, 124, 186, 251}, bytes.Repeat([]byte{1}, 23)...),
			"0z0z001111111111"},
		{"reads on when a buffer is rejected",
			append(bytes.Repeat([]byte{250}, 32), bytes.Repeat([]byte{5}, 32)...),
			"5555555555555555"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := xrfkeyFrom(bytes.NewReader(tc.input))
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if xrfkeyLimit != 248 {
		t.Errorf("limit %d, want 248", xrfkeyLimit)
	}
}

func TestXrfkeyReadError(t *testing.T) {
	boom := errors.New("boom")
	if _, err := xrfkeyFrom(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("got %v", err)
	}
	if _, err := xrfkeyFrom(bytes.NewReader(make([]byte, 10))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("got %v", err)
	}
}
