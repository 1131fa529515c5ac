package bridge

import (
	"bytes"
	"testing"
)

func TestSealerRotation(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	old, _ := newSealer([][]byte{k1})
	rotated, _ := newSealer([][]byte{k2, k1})
	retired, _ := newSealer([][]byte{k2})

	sealed, err := old.seal("p", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.open("p", sealed); err != nil || string(got) != "hello" {
		t.Fatalf("rotated.open = %q, %v; an old key must still open", got, err)
	}
	if _, err := retired.open("p", sealed); err == nil {
		t.Fatal("a retired key opened the value")
	}
	if _, err := old.open("other purpose", sealed); err == nil {
		t.Fatal("a value sealed for one purpose opened for another")
	}
	b := []byte(sealed)
	b[len(b)/2] ^= 1
	if _, err := old.open("p", string(b)); err == nil {
		t.Fatal("an altered value opened")
	}
	for _, junk := range []string{"", "x", "!!!", sealed[:10]} {
		if _, err := old.open("p", junk); err == nil {
			t.Errorf("open(%q) succeeded", junk)
		}
	}
}
