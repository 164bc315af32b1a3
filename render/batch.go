package render

import (
	"encoding/json"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/universe-operator/universe-operator/universe"
)

// Job is one render of a batch.
type Job struct {
	// Package is the revision to render.
	Package *universe.Package
	// Options are the user options (nil: none).
	Options json.RawMessage
	// Params are the install parameters.
	Params Params
}

// Outcome is the result of one Job: Result or Err.
type Outcome struct {
	Job    Job
	Result *Result
	Err    error
}

// RenderMany renders jobs concurrently on workers goroutines (0 or less:
// GOMAXPROCS) and returns the outcomes in the order of jobs.
func RenderMany(jobs []Job, workers int) []Outcome {
	out := make([]Outcome, len(jobs))
	RenderEach(jobs, workers, func(i int, o Outcome) { out[i] = o })
	return out
}

// RenderEach renders jobs concurrently on workers goroutines (0 or less:
// GOMAXPROCS) and calls fn with each job's index and outcome as soon as it
// is ready, from the worker goroutines: fn must be safe for concurrent use.
// Nothing is retained, so a large batch needs little memory.
//
// Jobs of the same package go to the same worker, one after the other:
// revisions of a package mostly share their config.json and template, so
// the worker that compiles them uses them next, and no other worker waits
// for (or repeats) that work. The largest packages are started first, so
// that the workers finish together.
func RenderEach(jobs []Job, workers int, fn func(i int, o Outcome)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	groups := groupJobs(jobs)
	if workers > len(groups) {
		workers = len(groups)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				g := int(next.Add(1) - 1)
				if g >= len(groups) {
					return
				}
				for _, i := range groups[g] {
					res, err := Render(jobs[i].Package, jobs[i].Options, jobs[i].Params)
					fn(i, Outcome{Job: jobs[i], Result: res, Err: err})
				}
			}
		}()
	}
	wg.Wait()
}

// groupJobs returns the job indexes grouped by package name (in job order
// within a group), largest groups (by the size of what they compile) first.
func groupJobs(jobs []Job) [][]int {
	byName := map[string]int{}
	var groups [][]int
	var cost []int
	for i, j := range jobs {
		name := ""
		size := 0
		if j.Package != nil {
			name = j.Package.Name
			size = len(j.Package.Config) + len(j.Package.Template) + len(j.Package.Definition)
		}
		g, ok := byName[name]
		if !ok {
			g = len(groups)
			byName[name] = g
			groups = append(groups, nil)
			cost = append(cost, 0)
		}
		groups[g] = append(groups[g], i)
		cost[g] += size
	}
	order := make([]int, len(groups))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return cost[order[a]] > cost[order[b]] })
	out := make([][]int, len(groups))
	for i, g := range order {
		out[i] = groups[g]
	}
	return out
}
