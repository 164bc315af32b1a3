package rollout

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/universe-operator/universe-operator/errs"
)

// Outcomes of a history entry (api.Revision.Outcome).
const (
	InProgress = "InProgress"
	Succeeded  = "Succeeded"
	Failed     = "Failed"
	RolledBack = "RolledBack"
	Superseded = "Superseded"
)

// Kinds of history entries: why the definition was written.
const (
	KindCreate   = "create"
	KindUpdate   = "update"
	KindRollback = "rollback"
	KindPinned   = "pinned"
	KindObserved = "observed"
)

// Entry is one deployed definition of a release.
type Entry struct {
	// ID increases per release; the rollback API names entries by it.
	ID int `json:"id"`
	// Kind says why it was written (create, update, rollback, pinned, observed).
	Kind string `json:"kind"`
	// Version and Release are the package version and releaseVersion.
	Version string `json:"version,omitempty"`
	Release int    `json:"release"`
	// Hash is the definition's UNIVERSE_OPERATOR_HASH.
	Hash  string `json:"hash"`
	AppID string `json:"appId,omitempty"`
	// Manifest and Universe are the Git revisions the definition came from.
	Manifest string `json:"manifest,omitempty"`
	Universe string `json:"universe,omitempty"`
	// DeployedAt is when Marathon accepted the write; FinishedAt when the
	// rollout was judged (zero while InProgress).
	DeployedAt time.Time `json:"deployedAt"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// Deadline is the progress deadline the rollout is judged by (0: none).
	Deadline time.Duration `json:"deadline,omitempty"`
	Outcome  string        `json:"outcome"`
	Reason   string        `json:"reason,omitempty"`
	// Deployment is the Marathon deployment the write started.
	Deployment string `json:"deployment,omitempty"`
	// RollbackTo, on a Failed entry, is the entry an automatic rollback is
	// still to write back (0: none pending).
	RollbackTo int `json:"rollbackTo,omitempty"`
	// Kept is true while the raw definition is stored (one record per
	// hash, EncodeDefinition); Size is its stored size in bytes.
	Kept bool `json:"kept,omitempty"`
	Size int  `json:"size,omitempty"`
}

// Finished reports whether the entry was judged.
func (e *Entry) Finished() bool { return e.Outcome != InProgress }

// History is a release's deployed definitions, newest first. The raw
// definitions are stored apart, one record per hash (Entry.Kept).
type History struct {
	// Next is the id of the next entry (ids are never reused).
	Next    int     `json:"next"`
	Entries []Entry `json:"entries"`
}

// Newest returns the newest entry, or nil.
func (h *History) Newest() *Entry {
	if h == nil || len(h.Entries) == 0 {
		return nil
	}
	return &h.Entries[0]
}

// Active returns the newest entry when it is InProgress, or nil.
func (h *History) Active() *Entry {
	if e := h.Newest(); e != nil && e.Outcome == InProgress {
		return e
	}
	return nil
}

// Get returns the entry with id, or nil.
func (h *History) Get(id int) *Entry {
	if h == nil {
		return nil
	}
	for i := range h.Entries {
		if h.Entries[i].ID == id {
			return &h.Entries[i]
		}
	}
	return nil
}

// Kept reports whether the definition of hash is stored.
func (h *History) Kept(hash string) bool {
	if h == nil || hash == "" {
		return false
	}
	for _, e := range h.Entries {
		if e.Hash == hash && e.Kept {
			return true
		}
	}
	return false
}

// Hashes returns the hashes whose definitions are stored.
func (h *History) Hashes() []string {
	if h == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range h.Entries {
		if e.Kept && !seen[e.Hash] {
			seen[e.Hash] = true
			out = append(out, e.Hash)
		}
	}
	return out
}

// LastGood returns the newest Succeeded entry whose definition is stored
// and whose hash is not exceptHash, or nil.
func (h *History) LastGood(exceptHash string) *Entry {
	if h == nil {
		return nil
	}
	for i := range h.Entries {
		e := &h.Entries[i]
		if e.Outcome == Succeeded && e.Hash != exceptHash && e.Kept {
			return e
		}
	}
	return nil
}

// Add records a new entry (its ID is assigned; Kept and Size say whether
// its definition was stored), marks an InProgress entry Superseded, trims
// the history to limit entries and the stored definitions to maxBytes
// (<= 0: no byte limit). It returns the new entry and the hashes whose
// stored definitions are no longer needed (to delete).
func (h *History) Add(e Entry, limit, maxBytes int) (*Entry, []string) {
	if h.Next < 1 {
		h.Next = 1
		for _, x := range h.Entries {
			if x.ID >= h.Next {
				h.Next = x.ID + 1
			}
		}
	}
	if a := h.Active(); a != nil {
		a.Outcome = Superseded
		a.FinishedAt = e.DeployedAt
		if a.Reason == "" {
			a.Reason = fmt.Sprintf("superseded by #%d before it was judged", h.Next)
		}
	}
	e.ID = h.Next
	h.Next++
	if e.Kept {
		// Entries of the same hash share its stored definition.
		for i := range h.Entries {
			if h.Entries[i].Hash == e.Hash {
				h.Entries[i].Kept, h.Entries[i].Size = true, e.Size
			}
		}
	} else if h.Kept(e.Hash) {
		e.Kept = true
		for _, x := range h.Entries {
			if x.Hash == e.Hash {
				e.Size = x.Size
				break
			}
		}
	}
	h.Entries = append([]Entry{e}, h.Entries...)
	drop := h.Trim(limit, maxBytes)
	return &h.Entries[0], drop
}

func unused(before, after []string) []string {
	keep := map[string]bool{}
	for _, x := range after {
		keep[x] = true
	}
	var out []string
	for _, x := range before {
		if !keep[x] {
			out = append(out, x)
		}
	}
	return out
}

// Trim keeps the newest limit entries (limit < 1: 1), plus the newest
// Succeeded entry with a stored definition when it is older (the automatic
// rollback target), then drops stored definitions beyond maxBytes (<= 0:
// no limit), oldest first, the newest entry's and the last good one's
// last. It returns the hashes whose stored definitions are no longer
// needed.
func (h *History) Trim(limit, maxBytes int) []string {
	before := h.Hashes()
	if limit < 1 {
		limit = 1
	}
	if len(h.Entries) > limit {
		keep := h.Entries[:limit:limit]
		if lastGoodIn(keep) == nil {
			if g := h.LastGood(""); g != nil {
				keep = append(keep, *g)
			}
		}
		h.Entries = append([]Entry(nil), keep...)
	}
	if maxBytes > 0 {
		prot := map[string]bool{}
		if n := h.Newest(); n != nil {
			prot[n.Hash] = true
		}
		if g := h.LastGood(""); g != nil {
			prot[g.Hash] = true
		}
		// Budget the protected definitions first, then the others newest
		// first; whatever does not fit is no longer kept.
		used := 0
		fits := map[string]bool{}
		size := map[string]int{}
		for _, e := range h.Entries {
			if e.Kept {
				size[e.Hash] = e.Size
			}
		}
		order := make([]string, 0, len(size))
		for _, pass := range []bool{true, false} {
			for _, e := range h.Entries {
				if _, ok := size[e.Hash]; ok && prot[e.Hash] == pass && !slices.Contains(order, e.Hash) {
					order = append(order, e.Hash)
				}
			}
		}
		for _, hash := range order {
			if used+size[hash] <= maxBytes {
				used += size[hash]
				fits[hash] = true
			}
		}
		for i := range h.Entries {
			if h.Entries[i].Kept && !fits[h.Entries[i].Hash] {
				h.Entries[i].Kept, h.Entries[i].Size = false, 0
			}
		}
	}
	return unused(before, h.Hashes())
}

func lastGoodIn(list []Entry) *Entry {
	for i := range list {
		if list[i].Outcome == Succeeded && list[i].Kept {
			return &list[i]
		}
	}
	return nil
}

// Clone returns a deep copy.
func (h *History) Clone() *History {
	if h == nil {
		return &History{}
	}
	return &History{Next: h.Next, Entries: append([]Entry(nil), h.Entries...)}
}

// EncodeHistory serialises h (JSON).
func EncodeHistory(h *History) ([]byte, error) { return json.Marshal(h) }

// DecodeHistory reads a record written by EncodeHistory.
func DecodeHistory(b []byte) (*History, error) {
	var h History
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("history record: %w", err)
	}
	return &h, nil
}

// EncodeDefinition compresses a raw definition for storage (gzip).
func EncodeDefinition(raw json.RawMessage) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maxDecoded bounds a decompressed definition.
const maxDecoded = 64 << 20

// DecodeDefinition reads a record written by EncodeDefinition; it must
// hold a JSON object. A record that does not decode is a permanent error:
// reading it again gives the same bytes.
func DecodeDefinition(b []byte) (json.RawMessage, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, errs.Permanent(fmt.Errorf("definition record: %w", err))
	}
	data, err := io.ReadAll(io.LimitReader(zr, maxDecoded+1))
	if err != nil {
		return nil, errs.Permanent(fmt.Errorf("definition record: %w", err))
	}
	if len(data) > maxDecoded {
		return nil, errs.Permanent(fmt.Errorf("definition record: more than %d bytes decompressed", maxDecoded))
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' || !json.Valid(data) {
		return nil, errs.Permanent(errors.New("definition record: not a JSON object"))
	}
	return data, nil
}

// Bad is the definition of a release whose rollout failed: the controller
// does not write it again until the desired definition changes (a new
// package revision or other options give another hash) or a manual sync.
type Bad struct {
	Hash    string    `json:"hash"`
	AppID   string    `json:"appId,omitempty"`
	Version string    `json:"version,omitempty"`
	Release int       `json:"release"`
	Entry   int       `json:"entry,omitempty"` // history entry of the failed rollout
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// Pin is a rollback asked through the API: the release keeps the pinned
// definition until its Git inputs change (GitKey differs).
type Pin struct {
	// Revision is the history entry pinned.
	Revision int             `json:"revision"`
	Hash     string          `json:"hash"`
	AppID    string          `json:"appId"`
	Version  string          `json:"version,omitempty"`
	Release  int             `json:"release"`
	Raw      json.RawMessage `json:"raw"`
	// GitKey fingerprints the release's Git inputs (manifest content and
	// package revision) when the pin was made.
	GitKey string    `json:"gitKey"`
	At     time.Time `json:"at"`
}
