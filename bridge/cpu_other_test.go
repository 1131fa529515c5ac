//go:build !unix

package bridge_test

import "time"

// cpuTime cannot be read here; the benchmark then reports wall time only.
func cpuTime() time.Duration { return 0 }
