package controller

import (
	"encoding/json"
	"testing"

	"github.com/universe-operator/universe-operator/manifest"
	"github.com/universe-operator/universe-operator/universe"
)

func TestDefinitionOf(t *testing.T) {
	raw := json.RawMessage(`{"id":"/a","instances":2,"version":"2026-01-01T00:00:00Z","versionInfo":{},"tasks":[],
		"tasksRunning":2,"tasksStaged":0,"tasksHealthy":2,"tasksUnhealthy":0,"deployments":[],"lastTaskFailure":{},
		"labels":{"UNIVERSE_OPERATOR_HASH":"abc"}}`)
	def, err := definitionOf(raw)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(def, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 3 || string(m["instances"]) != "2" || m["labels"] == nil || m["id"] == nil {
		t.Fatalf("definition: %s", def)
	}
	if _, err := definitionOf(json.RawMessage(`[1]`)); err == nil {
		t.Fatal("a non-object accepted")
	}
}

func TestGitKey(t *testing.T) {
	rel := &manifest.Release{Metadata: manifest.Metadata{Name: "r"}, Spec: manifest.Spec{Package: "p", Version: "latest"}}
	pkg := &universe.Package{Name: "p", Version: "1", ReleaseVersion: 1, Repository: "u"}
	base := &desiredEntry{name: "r", rel: rel, pkg: pkg, pkgDigest: "d1", hash: "h1", fp: "x"}
	same := *base
	same.fp = "y" // an unrelated universe commit changes the fingerprint, not the key
	if gitKey(base) != gitKey(&same) {
		t.Fatal("key changed without a change of the release's inputs")
	}
	for name, mod := range map[string]func(d *desiredEntry){
		"manifest": func(d *desiredEntry) {
			r := *rel
			r.Spec.Version = "1"
			d.rel = &r
		},
		"package revision": func(d *desiredEntry) {
			p := *pkg
			p.ReleaseVersion = 2
			d.pkg = &p
		},
		"package content": func(d *desiredEntry) { d.pkgDigest = "d2" },
		"rendered app":    func(d *desiredEntry) { d.hash = "h2" },
	} {
		d := *base
		mod(&d)
		if gitKey(&d) == gitKey(base) {
			t.Errorf("a change of the %s keeps the key", name)
		}
	}
	broken := &desiredEntry{name: "r", fp: "manifest-invalid|x"}
	if gitKey(broken) == gitKey(base) {
		t.Fatal("a broken manifest has the key of a valid one")
	}
}
