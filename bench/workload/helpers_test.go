package workload

import (
	"slices"
	"time"
)

func sortStrings(s []string) { slices.Sort(s) }

func zeroTime() time.Time { return time.Time{} }
