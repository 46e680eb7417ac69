package manifests

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Field honesty: every field of the manifest types is implemented (with
// the test that proves it), refused as not supported yet (support.go), or
// accepted with a warning (clusteronly.go for fields types.go does not
// model, validation for those it does). Never accepted and ignored. The
// tables of fields_implemented_test.go say which is which.

// fieldSite is one field of types.go as the walk from the document kinds
// meets it first.
type fieldSite struct {
	key   string // "Type.jsonName", the key of the implemented table
	owner reflect.Type
	name  string
	path  string // a Kubernetes field path, for messages
	leaf  bool   // a value, not a struct berth walks into
}

// ownerSite is where the walk first meets a struct type: its document
// kind and the path to it, as YAML keys and list indexes.
type ownerSite struct {
	kind string
	segs []any
}

var documentKinds = []struct {
	kind string
	t    reflect.Type
}{{"Pod", typeOf[Pod]()}, {"ConfigMap", typeOf[ConfigMap]()}, {"Secret", typeOf[Secret]()}, {"PersistentVolumeClaim", typeOf[PersistentVolumeClaim]()}}

// classTables are the tables of fields_implemented_test.go by name.
func classTables() map[string]map[string]string {
	return map[string]map[string]string{"implemented": implemented, "warned": warned, "refusedWith": refusedWith}
}

// walkTypes lists every field reachable from the document kinds, each
// struct type once, without entering a field the support table refuses
// whole (nothing below it can be set).
func walkTypes() ([]fieldSite, map[reflect.Type]ownerSite) {
	var sites []fieldSite
	owners := map[reflect.Type]ownerSite{}
	var walk func(t reflect.Type, kind string, segs []any)
	walk = func(t reflect.Type, kind string, segs []any) {
		if _, seen := owners[t]; seen {
			return
		}
		owners[t] = ownerSite{kind, segs}
		for _, f := range flatFields(t) {
			name, _ := jsonName(f)
			ft, fsegs := f.Type, append(slices.Clip(segs), any(name))
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Map || ft.Kind() == reflect.Slice && ft.Elem().Kind() != reflect.Uint8 {
				switch ft.Kind() {
				case reflect.Slice:
					fsegs = append(fsegs, 0)
				case reflect.Map:
					fsegs = append(fsegs, mapKey{})
				}
				ft = ft.Elem()
			}
			leaf := ft.Kind() != reflect.Struct || reflect.PointerTo(ft).Implements(unmarshalerType)
			sites = append(sites, fieldSite{key: t.Name() + "." + name, owner: t, name: name, path: segsPath(fsegs), leaf: leaf})
			if u, ok := unsupportedIndex[ownerField{t, name}]; leaf || ok && u.bad == nil {
				continue
			}
			walk(ft, kind, fsegs)
		}
	}
	for _, k := range documentKinds {
		walk(k.t, k.kind, nil)
	}
	return sites, owners
}

// flatFields are t's fields with a JSON name, inline structs flattened.
func flatFields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline := jsonName(f)
		switch {
		case inline:
			out = append(out, flatFields(f.Type)...)
		case f.IsExported() && name != "" && name != "-":
			out = append(out, f)
		}
	}
	return out
}

// mapKey stands for any key of a map in a path.
type mapKey struct{}

func segsPath(segs []any) string {
	var b strings.Builder
	for _, s := range segs {
		switch s := s.(type) {
		case int:
			b.WriteString("[]")
		case mapKey:
			b.WriteString("[k]")
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

var evidenceRE = regexp.MustCompile(`^(Test\w+) \(([\w./-]+_test\.go)\)$`)

// TestEveryFieldIsClassified fails for a field of types.go that is neither
// implemented, refused nor cluster-only, and for table rows that no longer
// match a field or name a test that does not exist.
func TestEveryFieldIsClassified(t *testing.T) {
	t.Parallel()
	sites, _ := walkTypes()
	met := map[string]bool{}
	owners := map[string]reflect.Type{}
	for _, s := range sites {
		met[s.key] = true
		owners[s.owner.Name()] = s.owner
	}
	for _, s := range sites {
		u, refused := unsupportedIndex[ownerField{s.owner, s.name}]
		where := fmt.Sprintf("%s (%s in types.go)", s.path, s.key)
		var classes []string
		for name, table := range classTables() {
			if _, ok := table[s.key]; ok {
				classes = append(classes, name)
			}
		}
		if len(classes) > 1 {
			slices.Sort(classes)
			t.Errorf("%s is in more than one table of fields_implemented_test.go (%s): keep one", where, strings.Join(classes, ", "))
		}
		works := len(classes) > 0
		if c, ok := clusterOnlyFields[ownerField{s.owner, s.name}]; ok {
			t.Errorf("%s is in clusteronly.go but types.go models it, so the decoder never warns (%q): "+
				"remove the field from types.go, or implement it, or refuse it in support.go", where, c.message)
		}
		switch {
		case refused && u.bad == nil && works:
			t.Errorf("%s is both refused in support.go and listed in fields_implemented_test.go: keep one", where)
		case refused && u.bad == nil:
		case refused && !works:
			t.Errorf("%s is refused in support.go only for some values: add it to the implemented table in "+
				"fields_implemented_test.go with the test that proves the accepted values work", where)
		case !s.leaf && works:
			t.Errorf("%s has fields of its own: list those in fields_implemented_test.go, not the field itself", where)
		case s.leaf && !works:
			t.Errorf("%s is accepted but not classified: implement it and add %q to the implemented table in "+
				"fields_implemented_test.go with the test that proves it works, or refuse it as not supported yet "+
				"in support.go's unsupported table, or, for a field only a cluster uses, take it out of types.go and list it in clusteronly.go",
				where, s.key)
		}
	}
	for name, table := range classTables() {
		for _, key := range sortedKeys(table) {
			if !met[key] {
				t.Errorf("fields_implemented_test.go: %s lists %s, which no document kind reaches in types.go (or support.go refuses what holds it): remove the row", name, key)
			}
		}
	}
	for _, key := range sortedKeys(implemented) {
		checkEvidence(t, key, implemented[key])
	}
	for _, key := range sortedKeys(warned) {
		checkEvidence(t, key, warned[key])
	}
	for _, key := range sortedKeys(refusedWith) {
		checkRefusedWith(t, key, refusedWith[key], owners)
	}
	for _, u := range unsupported {
		if _, ok := fieldsOf(u.owner)[u.field]; ok && !met[u.owner.Name()+"."+u.field] {
			t.Errorf("support.go refuses %s.%s, which no document kind reaches: remove the row", u.owner.Name(), u.field)
		}
	}
}

// checkRefusedWith checks that "Type.field Value" names a value support.go
// refuses.
func checkRefusedWith(t *testing.T, key, with string, owners map[string]reflect.Type) {
	t.Helper()
	field, value, _ := strings.Cut(with, " ")
	typ, name, _ := strings.Cut(field, ".")
	u, ok := unsupportedIndex[ownerField{owners[typ], name}]
	if !ok || u.bad == nil || len(u.bad(reflect.ValueOf(value))) == 0 {
		t.Errorf("refusedWith[%q] = %q, but support.go does not refuse that value: move the row to implemented once it works", key, with)
	}
}

var testFuncs = map[string]string{} // test file -> its text, read once per file

func checkEvidence(t *testing.T, key, evidence string) {
	t.Helper()
	m := evidenceRE.FindStringSubmatch(evidence)
	if m == nil {
		t.Errorf("implemented[%q] = %q: write it as \"TestName (dir/file_test.go)\"", key, evidence)
		return
	}
	text, ok := testFuncs[m[2]]
	if !ok {
		b, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(m[2])))
		if err != nil {
			t.Errorf("implemented[%q]: %v", key, err)
			return
		}
		text = string(b)
		testFuncs[m[2]] = text
	}
	if !strings.Contains(text, "\nfunc "+m[1]+"(t *testing.T)") {
		t.Errorf("implemented[%q]: %s has no func %s(t *testing.T)", key, m[2], m[1])
	}
}

// TestFieldsMatchedByName checks the rows of support.go and clusteronly.go
// for fields types.go does not model: the decoder must meet each one where
// its owner type is and report it with the table's severity.
func TestFieldsMatchedByName(t *testing.T) {
	t.Parallel()
	_, owners := walkTypes()
	type byName struct {
		owner reflect.Type
		field string
		sev   Severity
		msg   string
	}
	var rows []byName
	for _, u := range unsupported {
		if _, modelled := fieldsOf(u.owner)[u.field]; !modelled {
			rows = append(rows, byName{u.owner, u.field, Unsupported, u.field + " is not supported yet by berth" + u.detail})
		}
	}
	for of, c := range clusterOnlyFields {
		if _, modelled := fieldsOf(of.owner)[of.field]; !modelled {
			rows = append(rows, byName{of.owner, of.field, c.severity, c.message})
		}
	}
	for _, r := range rows {
		o, ok := owners[r.owner]
		if !ok {
			t.Errorf("%s.%s: no document kind reaches %s in types.go, so the row can never match: remove it or fix its owner", r.owner.Name(), r.field, r.owner.Name())
			continue
		}
		segs := append(slices.Clip(o.segs), any(r.field))
		doc := map[string]any{"apiVersion": "v1", "kind": o.kind, "metadata": map[string]any{"name": "x"}}
		setPath(doc, segs, "x")
		data, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		path := strings.ReplaceAll(segsPath(segs), "[]", "[0]")
		found := false
		for _, p := range Parse("fields.yaml", data).Problems() {
			if p.Path == path && p.Severity == r.sev && p.Message == r.msg {
				found = true
			}
		}
		if !found {
			t.Errorf("%s.%s: parsing %s = x did not report %v %q", r.owner.Name(), r.field, path, r.sev, r.msg)
		}
	}
}

// setPath sets the value at segs in m, making mappings for keys and
// one-element lists for indexes on the way.
func setPath(m map[string]any, segs []any, v any) {
	key := "k"
	if s, ok := segs[0].(string); ok {
		key = s
	}
	if len(segs) == 1 {
		m[key] = v
		return
	}
	if _, isIndex := segs[1].(int); isIndex {
		inner, _ := m[key].([]any)
		if inner == nil {
			inner = []any{map[string]any{}}
			m[key] = inner
		}
		if len(segs) == 2 {
			inner[0] = v
			return
		}
		setPath(inner[0].(map[string]any), segs[2:], v)
		return
	}
	inner, _ := m[key].(map[string]any)
	if inner == nil {
		inner = map[string]any{}
		m[key] = inner
	}
	setPath(inner, segs[1:], v)
}
