package bridge

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func checkedTransform(t testing.TB, tr Transform) *Transform {
	t.Helper()
	p := &problems{}
	tr.check(p, "groups")
	if err := p.err(); err != nil {
		t.Fatal(err)
	}
	return &tr
}

func texts(vals []value) []string {
	var out []string
	for _, v := range vals {
		out = append(out, v.text)
	}
	return out
}

func TestTransform(t *testing.T) {
	names := map[string]string{"id-1": "Finance", "id-2": "Finance", "id-3": "Sales"}
	for _, tc := range []struct {
		name  string
		tr    Transform
		in    []string
		want  []string
		notes int
	}{
		{"zero value keeps all, once, in order", Transform{},
			[]string{"b", "a", "b", " a"}, []string{"b", "a", " a"}, 0},
		{"separator", Transform{Separator: ";"}, []string{"a;b", ";c;"}, []string{"a", "b", "c"}, 0},
		{"trim", Transform{Trim: true}, []string{" a ", "a", "\t"}, []string{"a"}, 0},
		{"strip a leading slash once", Transform{StripPrefix: "/"},
			[]string{"/a", "//b", "c", "/"}, []string{"a", "/b", "c"}, 0},
		{"names, keeping the unmapped", Transform{Names: names},
			[]string{"id-1", "id-9"}, []string{"Finance", "id-9"}, 0},
		{"names, dropping the unmapped", Transform{Names: names, Unmapped: "drop"},
			[]string{"id-1", "id-9", "id-3"}, []string{"Finance", "Sales"}, 1},
		{"two ids with one name are sent once", Transform{Names: names},
			[]string{"id-1", "id-2"}, []string{"Finance"}, 0},
		{"include glob", Transform{Include: []string{"Qlik-*"}},
			[]string{"Qlik-A", "qlik-b", "Other"}, []string{"Qlik-A"}, 1},
		{"glob star crosses slashes", Transform{Include: []string{"test/*"}},
			[]string{"test/dev/lead", "prod/x"}, []string{"test/dev/lead"}, 1},
		{"glob question mark and escapes", Transform{Include: []string{"a?c", "x.y"}},
			[]string{"abc", "ac", "x.y", "xzy"}, []string{"abc", "x.y"}, 1},
		{"include regexp matches the whole value", Transform{Include: []string{"re:(?i)qlik-.*"}},
			[]string{"Qlik-A", "my-qlik-b"}, []string{"Qlik-A"}, 1},
		{"exclude after include", Transform{Include: []string{"Qlik-*"}, Exclude: []string{"*-Old"}},
			[]string{"Qlik-A", "Qlik-Old"}, []string{"Qlik-A"}, 1},
		{"patterns see the names", Transform{Names: names, Exclude: []string{"Sales"}},
			[]string{"id-3", "id-1"}, []string{"Finance"}, 1},
		{"ldap_cn, then strip, then names", Transform{LDAPCN: true, StripPrefix: "G-",
			Names: map[string]string{"id-1": "One"}},
			[]string{"CN=G-id-1,OU=x", "plain", "OU=no-cn,DC=x"}, []string{"One", "plain"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, notes := checkedTransform(t, tc.tr).apply(tc.in)
			if !reflect.DeepEqual(texts(got), tc.want) || len(notes) != tc.notes {
				t.Fatalf("apply = %q, notes %q; want %q with %d notes", texts(got), notes,
					tc.want, tc.notes)
			}
		})
	}
}

func TestTransformSourceOfNames(t *testing.T) {
	got, _ := checkedTransform(t, Transform{Names: map[string]string{"id-1": "Finance"}}).
		apply([]string{"id-1", "x"})
	want := []value{{text: "Finance", from: "id-1"}, {text: "x"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("apply = %+v, want %+v", got, want)
	}
}

func TestLDAPCN(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		ok             bool
	}{
		{"C06 escaped comma", `CN=Sales\, EMEA,OU=Groups,DC=corp,DC=example`, "Sales, EMEA", true},
		{"space in the value", `CN=Qlik Users,OU=Groups,DC=corp,DC=example`, "Qlik Users", true},
		{"lowercase type, spaces after commas", `cn=Qlik Users, ou=Groups, dc=corp`, "Qlik Users", true},
		{"the OID of CN", `2.5.4.3=Admins,DC=x`, "Admins", true},
		{"hex pairs form UTF-8", `CN=Z\C3\B6e,DC=x`, "Zöe", true},
		{"raw UTF-8", `CN=Zöe,DC=x`, "Zöe", true},
		{"every special escaped", `CN=\"\+\,\;\<\>\\\ \#\=,DC=x`, `"+,;<>\ #=`, true},
		{"escaped leading space and trailing space", `CN=\ a\ ,DC=x`, " a ", true},
		{"unescaped trailing spaces dropped", `CN=a  ,DC=x`, "a", true},
		{"only an RDN", `CN=Solo`, "Solo", true},
		{"multi-valued RDN", `OU=Staff+CN=Both,DC=x`, "Both", true},
		{"semicolon separator", `CN=Old;DC=x`, "Old", true},
		{"not a DN", `Qlik Users`, "Qlik Users", true},
		{"a domain name is not a DN", `CORP\Qlik Users`, `CORP\Qlik Users`, true},
		{"first RDN has no CN", `OU=Groups,CN=Late`, "", false},
		{"empty CN", `CN=,DC=x`, "", false},
		{"BER value", `CN=#04024869,DC=x`, "", false},
		{"dangling escape", `CN=a\`, "", false},
		{"bad hex", `CN=a\zz,DC=x`, "", false},
		{"hex that is not UTF-8", `CN=\ff,DC=x`, "", false},
		{"unescaped quote", `CN=a"b,DC=x`, "", false},
		{"no type", `=a,DC=x`, "", false},
		{"bad type", `C N=a`, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ldapCN(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("ldapCN(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// escapeDN escapes v as RFC 4514 asks, the inverse of what ldapCN decodes.
func escapeDN(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case strings.IndexByte(`"+,;<>\#=`, c) >= 0, c == ' ' && (i == 0 || i == len(v)-1):
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteString(`\` + strings.ToUpper(string("0123456789abcdef"[c>>4])+
				string("0123456789abcdef"[c&15])))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func FuzzLDAPCN(f *testing.F) {
	f.Add("Sales, EMEA")
	f.Add(" #lead+=;<>\"\\")
	f.Add("zoë")
	f.Fuzz(func(t *testing.T, v string) {
		if !utf8.ValidString(v) || v == "" {
			return
		}
		got, ok := ldapCN("CN=" + escapeDN(v) + ",OU=Groups,DC=corp")
		if !ok || got != v {
			t.Fatalf("CN %q came back as %q, %v", v, got, ok)
		}
		_, _ = ldapCN(v) // any text: no panic
	})
}

func FuzzTransform(f *testing.F) {
	f.Add("/a,/b, /a ,CN=x\\,y,OU=z", ",", "/", "a*")
	f.Add("", "", "", "re:.*")
	f.Fuzz(func(t *testing.T, in, sep, prefix, pattern string) {
		tr := Transform{Separator: sep, Trim: true, LDAPCN: true, StripPrefix: prefix,
			Names: map[string]string{"a": "A"}}
		if _, err := compilePattern(pattern); err == nil {
			tr.Exclude = []string{pattern}
		}
		p := &problems{}
		tr.check(p, "groups")
		if p.err() != nil {
			t.Fatalf("check: %v", p.err())
		}
		out, _ := tr.apply(strings.Split(in, "\n"))
		seen := map[string]bool{}
		for _, v := range out {
			if v.text == "" || seen[v.text] {
				t.Fatalf("apply(%q) = %+v: an empty or repeated value", in, out)
			}
			seen[v.text] = true
			if len(tr.exclude) > 0 && tr.exclude[0].MatchString(v.text) {
				t.Fatalf("apply kept %q, which the exclude pattern %q matches", v.text, pattern)
			}
		}
	})
}
