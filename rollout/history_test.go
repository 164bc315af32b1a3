package rollout

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/errs"
)

func TestHistoryAddTrim(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	h := &History{}
	add := func(e Entry, limit, max int) (*Entry, []string) {
		t.Helper()
		return h.Add(e, limit, max)
	}
	e1, drop := add(Entry{Kind: KindCreate, Hash: "h1", DeployedAt: t0, Outcome: InProgress, Kept: true, Size: 10}, 3, 0)
	if e1.ID != 1 || h.Active() == nil || h.Active().ID != 1 || drop != nil {
		t.Fatalf("first entry: %+v %v", h.Entries, drop)
	}
	h.Entries[0].Outcome = Succeeded
	// A new write supersedes nothing (the first is finished).
	add(Entry{Kind: KindUpdate, Hash: "h2", DeployedAt: t0.Add(time.Minute), Outcome: InProgress, Kept: true, Size: 10}, 3, 0)
	// Another write while #2 is in progress supersedes it.
	add(Entry{Kind: KindUpdate, Hash: "h3", DeployedAt: t0.Add(2 * time.Minute), Outcome: InProgress, Kept: true, Size: 10}, 3, 0)
	if g := h.Get(2); g.Outcome != Superseded || g.FinishedAt != t0.Add(2*time.Minute) || g.Reason == "" {
		t.Fatalf("#2 not superseded: %+v", g)
	}
	if g := h.LastGood(""); g == nil || g.ID != 1 {
		t.Fatalf("last good: %+v", g)
	}
	if g := h.LastGood("h1"); g != nil {
		t.Fatalf("last good except h1: %+v", g)
	}
	// Two more entries with limit 3: #1 is kept as the last good although
	// it is the oldest (4 entries); #2 is dropped with its definition.
	h.Entries[0].Outcome = Failed
	add(Entry{Kind: KindUpdate, Hash: "h4", DeployedAt: t0.Add(3 * time.Minute), Outcome: Failed, Kept: true, Size: 10}, 3, 0)
	// #5 writes h3 again: it shares #3's stored definition.
	_, drop = add(Entry{Kind: KindUpdate, Hash: "h3", DeployedAt: t0.Add(4 * time.Minute), Outcome: InProgress}, 3, 0)
	var ids []int
	for _, e := range h.Entries {
		ids = append(ids, e.ID)
	}
	if fmt.Sprint(ids) != "[5 4 3 1]" || fmt.Sprint(drop) != "[h2]" {
		t.Fatalf("ids after trim: %v, dropped %v", ids, drop)
	}
	if !h.Get(5).Kept || h.Get(5).Size != 10 || h.Kept("h2") || !h.Kept("h1") {
		t.Fatalf("kept: %+v", h.Entries)
	}
	if h.Next != 6 {
		t.Fatalf("next %d", h.Next)
	}
	// A byte budget of 25: the newest (h3) and the last good (h1) first,
	// then newest first: h4 no longer fits.
	if drop := h.Trim(10, 25); fmt.Sprint(drop) != "[h4]" || h.Kept("h4") || !h.Kept("h3") || !h.Kept("h1") {
		t.Fatalf("budget: dropped %v, %+v", drop, h.Entries)
	}
	// A new definition too large for the budget is not kept (and is
	// returned for deletion).
	_, drop = add(Entry{Kind: KindUpdate, Hash: "big", DeployedAt: t0.Add(5 * time.Minute), Outcome: InProgress, Kept: true, Size: 100}, 10, 25)
	if h.Kept("big") || !slices.Contains(drop, "big") {
		t.Fatalf("too big: dropped %v, %+v", drop, h.Entries[0])
	}
	// Next is recovered from the entries when missing (old records).
	h2 := &History{Entries: []Entry{{ID: 7, Outcome: Succeeded}}}
	if e, _ := h2.Add(Entry{Hash: "x", Outcome: InProgress}, 10, 0); e.ID != 8 {
		t.Fatalf("recovered id %d", e.ID)
	}
}

func TestEncodeDecode(t *testing.T) {
	h := &History{}
	for i := 1; i <= 4; i++ {
		h.Add(Entry{Kind: KindUpdate, Hash: fmt.Sprintf("h%d", i), Version: "1.0", Outcome: Succeeded,
			DeployedAt: time.Unix(int64(i), 0).UTC(), Kept: true, Size: 3}, 10, 0)
	}
	b, err := EncodeHistory(h)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeHistory(b)
	if err != nil || !reflect.DeepEqual(back, h) {
		t.Fatalf("round trip: %v\n%+v\n%+v", err, back, h)
	}
	if _, err := DecodeHistory([]byte("nope")); err == nil {
		t.Fatal("garbage accepted")
	}
	raw := bigApp(1, 80<<10)
	d, err := EncodeDefinition(raw)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeDefinition(d)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("definition round trip: %v", err)
	}
	if len(d) > len(raw) {
		t.Fatalf("compressed %d > raw %d", len(d), len(raw))
	}
	small, _ := EncodeDefinition(json.RawMessage(`{"id":"/a","env":{"A":"` + strings.Repeat("x", 10000) + `"}}`))
	if len(small) > 200 {
		t.Fatalf("repetitive JSON compresses to %d bytes", len(small))
	}
	for _, bad := range [][]byte{nil, []byte("plain"), {0x1f, 0x8b, 1, 2}} {
		if _, err := DecodeDefinition(bad); err == nil || !errs.IsPermanent(err) {
			t.Fatalf("%q: %v (want a permanent error: reading it again gives the same bytes)", bad, err)
		}
	}
	notObject, _ := EncodeDefinition(json.RawMessage(`[1]`))
	if _, err := DecodeDefinition(notObject); err == nil || !errs.IsPermanent(err) {
		t.Fatalf("a non-object: %v", err)
	}
}

// bigApp is an app with an incompressible label of n bytes.
func bigApp(i, n int) json.RawMessage {
	buf := make([]byte, n*3/4)
	_, _ = rand.Read(buf)
	return json.RawMessage(fmt.Sprintf(`{"id":"/a","labels":{"DCOS_PACKAGE_DEFINITION":%q,"N":"%d"}}`, base64.StdEncoding.EncodeToString(buf), i))
}

func FuzzDecode(f *testing.F) {
	h := &History{}
	h.Add(Entry{Hash: "a", Outcome: InProgress, Kept: true, Size: 5}, 3, 0)
	b, _ := EncodeHistory(h)
	f.Add(b)
	d, _ := EncodeDefinition(json.RawMessage(`{"id":"/x"}`))
	f.Add(d)
	f.Fuzz(func(t *testing.T, b []byte) {
		if raw, err := DecodeDefinition(b); err == nil && !json.Valid(raw) {
			t.Fatalf("invalid JSON returned: %q", raw)
		}
		h, err := DecodeHistory(b)
		if err != nil {
			return
		}
		_ = h.LastGood("")
		h.Trim(2, 10)
		if _, err := EncodeHistory(h); err != nil {
			t.Fatal(err)
		}
	})
}
