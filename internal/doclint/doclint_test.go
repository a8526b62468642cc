package doclint

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestModule checks every doc link in the module.
func TestModule(t *testing.T) {
	c, err := NewChecker("../..")
	if err != nil {
		t.Fatal(err)
	}
	problems, err := c.Module()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	pkgs, links := c.Counts()
	t.Logf("%d packages, %d doc links", pkgs, links)
	if pkgs < 10 || links == 0 {
		t.Errorf("only %d packages and %d links checked: the walk missed the module", pkgs, links)
	}
}

// TestCatchesBrokenLinks runs the check on testdata/bad, which has good
// links that must pass and broken ones that must each be reported.
func TestCatchesBrokenLinks(t *testing.T) {
	c, err := NewChecker("../..")
	if err != nil {
		t.Fatal(err)
	}
	problems, err := c.Dir("testdata/bad", "github.com/wspipe/wspipe/internal/doclint/testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // link: what the reason says
		"Missing":                              "go doc finds no Missing",
		"*Missing2":                            "go doc finds no Missing2",
		"T.Nope":                               "go doc finds no T.Nope",
		"io.Nope":                              "io declares no Nope",
		"io.Reader.Nope":                       "io declares no Reader.Nope",
		"pipeline.Conn":                        "no package pipeline is imported here",
		"github.com/wspipe/wspipe/layers.Nope": "layers declares no Nope",
		"github.com/wspipe/wspipe/nosuchpkg.X": "no package github.com/wspipe/wspipe/nosuchpkg",
		"bad.Gone":                             "testdata/bad declares no Gone",
		"nosuchpkg":                            "no package nosuchpkg",
		"U.M":                                  "go doc finds no U.M",
		"U.T":                                  "go doc finds no U.T",
		"io.ReadWriter.Read":                   "io declares no ReadWriter.Read",
		"T.Absent":                             "go doc finds no T.Absent",
		"Undeclared":                           "go doc finds no Undeclared",
		"W.Nope":                               "go doc finds no W.Nope",
		"AlsoMissing":                          "go doc finds no AlsoMissing",
		"C2":                                   "go doc finds no C2",
		"io.EOF.Nope":                          "io declares no EOF.Nope",
		"NotHere":                              "go doc finds no NotHere",
	}
	got := map[string]bool{}
	for _, p := range problems {
		t.Log(p)
		got[p.Link] = true
		why, ok := want[p.Link]
		if !ok {
			t.Errorf("reported a good link: %v", p)
			continue
		}
		if !strings.Contains(p.Why, why) {
			t.Errorf("%v: the reason does not say %q", p, why)
		}
		if p.Pos.Line == 0 || filepath.Base(p.Pos.Filename) == "" {
			t.Errorf("%v: no position", p)
		}
	}
	for link := range want {
		if !got[link] {
			t.Errorf("[%s] not reported", link)
		}
	}
}
