package render

import (
	"encoding/json"
	"runtime"
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
func RenderEach(jobs []Job, workers int, fn func(i int, o Outcome)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers > len(jobs) {
		workers = len(jobs)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) {
					return
				}
				res, err := Render(jobs[i].Package, jobs[i].Options, jobs[i].Params)
				fn(i, Outcome{Job: jobs[i], Result: res, Err: err})
			}
		}()
	}
	wg.Wait()
}
